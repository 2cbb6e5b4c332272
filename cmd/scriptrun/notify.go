package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/notify"
	"github.com/scriptrun/scriptrun/store"
)

func newNotifyCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "notify",
		Short: "Send webhooks when a token needs attention or a cron job fails",
		Long: `Notifiers are webhook endpoints that scriptrun serve posts events to, signed
as the Standard Webhooks specification says (headers webhook-id,
webhook-timestamp, webhook-signature), retried with back-off for 24 h.

Events: ` + strings.Join(store.NotifyEvents, ", ") + `.
Bodies are JSON {"type", "timestamp", "data"} and never carry a secret, a
run's error or its output. Deliveries are made by scriptrun serve.`,
		Example: "  scriptrun notify add ops --url https://hooks.example.com/scriptrun\n  scriptrun notify test ops\n  scriptrun notify list",
		Args:    noArgs,
	}
	c.AddCommand(notifyAddCmd(a), notifyListCmd(a), notifyShowCmd(a), notifyRmCmd(a), notifyTestCmd(a))
	return c
}

// notifierFlags name the flag of each field of a notifier
// (store.FieldError.Field).
var notifierFlags = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{"name": "NAME", "url": "--url", "events": "--events", "secretEnv": "--secret-env", "secret": "--secret-env"}
}}

func notifyAddCmd(a *app) *cobra.Command {
	var url, events, secretEnv string
	var allowHTTP bool
	c := &cobra.Command{
		Use:   "add NAME --url URL [--events EVENT,...] [--secret-env VAR] [--allow-http]",
		Short: "Add a webhook notifier (prints a generated signing secret once)",
		Long: `Adds a webhook endpoint. Without --events it receives every event: ` + strings.Join(store.NotifyEvents, ", ") + `.

The signing secret is read from the environment variable --secret-env names
(in the whsec_<base64> form the receiver gave you); without it scriptrun
generates one and prints it once: copy it to the receiver, which verifies
each delivery with it. It is never shown again.

The URL must be https; plain http is accepted for loopback hosts, or
anywhere with --allow-http.`,
		Example: "  scriptrun notify add ops --url https://hooks.example.com/scriptrun\n" +
			"  scriptrun notify add oncall --url https://hooks.example.com/x --events token.reauth_required,cron.failed --secret-env ONCALL_WEBHOOK_SECRET",
		Args: exactArgs(1, "the notifier's NAME"),
	}
	c.Flags().StringVar(&url, "url", "", "the receiver's address (https)")
	c.Flags().StringVar(&events, "events", "", "the events to send, comma-separated (default: all)")
	c.Flags().StringVar(&secretEnv, "secret-env", "", "read the whsec_ signing secret from this environment variable (default: generate one)")
	c.Flags().BoolVar(&allowHTTP, "allow-http", false, "accept a plain http URL to a host that is not loopback (events travel unencrypted)")
	c.RunE = func(c *cobra.Command, args []string) error {
		n := store.Notifier{Name: args[0], URL: url, AllowHTTP: allowHTTP, Events: splitEvents(events), SecretEnv: secretEnv}
		generated := secretEnv == ""
		if generated {
			n.Secret = store.NewWebhookSecret()
		} else {
			s, err := readEnvFlag(a, "secret-env", secretEnv)
			if err != nil {
				return err
			}
			n.Secret = strings.TrimSpace(s)
		}
		if err := n.Validate(); err != nil {
			return notifierUsageErr(n.Name, err)
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		if err := db.Update(func(tx *store.Tx) error { return tx.CreateNotifier(n) }); err != nil {
			if errors.Is(err, store.ErrExists) {
				return usageErr("%v", err)
			}
			return notifierUsageErr(n.Name, err)
		}
		fmt.Fprintf(a.stdio.Out, "notifier %s added: %s\n", n.Name, eventsText(n.Events))
		if generated {
			fmt.Fprintf(a.stdio.Out, "\nsigning secret (shown once; give it to the receiver to verify deliveries):\n\n  %s\n\n", n.Secret)
		}
		fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("send a test event: scriptrun notify test %s\n", n.Name)))
		return nil
	}
	return c
}

func splitEvents(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func eventsText(events []string) string {
	if len(events) == 0 {
		return "all events"
	}
	return strings.Join(events, ", ")
}

// notifierUsageErr prints every problem of a notifier, each with its flag
// (exit 2).
func notifierUsageErr(name string, err error) error {
	return notSavedErr("notifier", name, notifierFlags.Get(), err)
}

// notifierView is a notifier as list and show print it: never the secret.
type notifierView struct {
	Name      string   `json:"name"`
	URL       string   `json:"url"`
	Events    []string `json:"events,omitempty"`
	AllowHTTP bool     `json:"allowHttp,omitempty"`
	SecretEnv string   `json:"secretEnv,omitempty"`
	Disabled  bool     `json:"disabled,omitempty"`
	Created   string   `json:"created"`
}

func viewNotifier(n store.Notifier) notifierView {
	return notifierView{Name: n.Name, URL: n.URL, Events: n.Events, AllowHTTP: n.AllowHTTP, SecretEnv: n.SecretEnv, Disabled: n.Disabled, Created: stamp(n.Created)}
}

func notifyListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "list", Short: "List notifiers", Example: "  scriptrun notify list\n  scriptrun notify list --json", Args: noArgs}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var ns []store.Notifier
		var damaged []*store.RecordError
		if err := db.View(func(tx *store.Tx) (err error) {
			ns, err = tx.Notifiers()
			damaged, err = a.listDamaged(err)
			return err
		}); err != nil {
			return storeErr(err)
		}
		views := make([]notifierView, 0, len(ns))
		for _, n := range ns {
			views = append(views, viewNotifier(n))
		}
		if asJSON {
			return printJSON(a.stdio.Out, views)
		}
		t := newTable(a.stdio.Out, "NAME", "URL", "EVENTS", "STATE")
		for _, v := range views {
			state := "enabled"
			if v.Disabled {
				state = "disabled (410 Gone)"
			}
			t.row(v.Name, v.URL, eventsText(v.Events), state)
		}
		for _, d := range damaged {
			t.row(d.Name, "", "", stateDamaged)
		}
		return t.flush()
	}
	return c
}

func notifyShowCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "show NAME", Short: "Show a notifier and its recent deliveries (never its secret)",
		Example: "  scriptrun notify show ops", Args: exactArgs(1, "the notifier's NAME")}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var n store.Notifier
		var ds []store.Delivery
		if err := db.View(func(tx *store.Tx) error {
			if n, err = tx.Notifier(args[0]); err != nil {
				return err
			}
			all, err := tx.Deliveries(0, false)
			for _, d := range all {
				if d.Notifier == n.Name && len(ds) < 10 {
					ds = append(ds, d)
				}
			}
			_, other := store.DamagedRecords(err)
			return other
		}); err != nil {
			return storeErr(err)
		}
		v := viewNotifier(n)
		if asJSON {
			return printJSON(a.stdio.Out, v)
		}
		secret := "generated at add (not shown)"
		if n.SecretEnv != "" {
			secret = "from $" + n.SecretEnv + " (not shown)"
		}
		state := "enabled"
		if n.Disabled {
			state = "disabled: the endpoint answered 410 Gone; add it again to enable it"
		}
		if err := printFields(a.stdio.Out, [][2]string{{"name", v.Name}, {"url", v.URL}, {"events", eventsText(v.Events)},
			{"secret", secret}, {"state", state}, {"created", v.Created}}); err != nil {
			return err
		}
		if len(ds) == 0 {
			return nil
		}
		fmt.Fprintln(a.stdio.Out, "\nrecent deliveries:")
		t := newTable(a.stdio.Out, "CREATED", "EVENT", "STATUS", "ATTEMPTS", "LAST")
		for _, d := range ds {
			t.row(stamp(d.Created), d.Event, d.Status(), strconv.Itoa(d.Attempts), lastAnswer(d))
		}
		return t.flush()
	}
	return c
}

// lastAnswer says how the last attempt of d went.
func lastAnswer(d store.Delivery) string {
	switch {
	case d.LastError != "":
		return d.LastError
	case d.LastStatus != 0:
		return "HTTP " + strconv.Itoa(d.LastStatus)
	}
	return ""
}

func notifyRmCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "rm NAME", Short: "Remove a notifier (its pending deliveries are dropped)",
		Example: "  scriptrun notify rm ops", Args: exactArgs(1, "the notifier's NAME")}
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		if err := db.Update(func(tx *store.Tx) error { return tx.DeleteNotifier(args[0]) }); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return usageErr("%v", err)
			}
			return storeErr(err)
		}
		fmt.Fprintf(a.stdio.Out, "notifier %s removed\n", args[0])
		return nil
	}
	return c
}

func notifyTestCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "test NAME", Short: "Send a test event to a notifier now and print how it answered",
		Example: "  scriptrun notify test ops", Args: exactArgs(1, "the notifier's NAME")}
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), notify.DefaultTimeout+5*time.Second)
		defer cancel()
		res, err := notify.New(notify.Options{DB: db}).SendTest(ctx, args[0])
		if errors.Is(err, store.ErrNotFound) {
			return usageErr("%v", err)
		}
		if err != nil && res.Status == 0 && res.Err == "" {
			return storeErr(err)
		}
		took := res.Latency.Round(time.Millisecond)
		if !res.Delivered() {
			return failErr(fmt.Errorf("notifier %s: the test event was not delivered (%s, after %s): check the URL and that the receiver answers 2xx", args[0], res.Err, took))
		}
		fmt.Fprintf(a.stdio.Out, "notifier %s: delivered (HTTP %d in %s)\n", args[0], res.Status, took)
		return err
	}
	return c
}
