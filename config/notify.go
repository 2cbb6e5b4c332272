package config

import (
	"errors"
	"fmt"
	"slices"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
)

// Notifier is a webhook notifier (store.Notifier). Its signing secret is
// never in the file: Secret refers to it, and export writes the reference
// it was added with (`notify add --secret-env VAR`), if any. A new notifier
// needs one; an existing one without it keeps its stored secret.
type Notifier struct {
	Name      string     `yaml:"name" json:"name"`
	URL       string     `yaml:"url" json:"url"`
	Events    []string   `yaml:"events,omitempty" json:"events,omitempty"` // default: all
	AllowHTTP bool       `yaml:"allowHttp,omitempty" json:"allowHttp,omitempty"`
	Secret    *SecretRef `yaml:"secret,omitempty" json:"secret,omitempty"` // whsec_…, from {env: VAR} or {file: PATH}
}

// readNotifiers is the configuration of the store's notifiers.
func readNotifiers(tx *store.Tx) ([]Notifier, error) {
	ns, err := tx.Notifiers()
	if err != nil {
		return nil, err
	}
	var out []Notifier
	for _, n := range ns {
		c := Notifier{Name: n.Name, URL: n.URL, Events: n.Events, AllowHTTP: n.AllowHTTP}
		if n.SecretEnv != "" {
			c.Secret = &SecretRef{Env: n.SecretEnv}
		}
		out = append(out, c)
	}
	return out, nil
}

// notifierPlaceholder stands in for the secret of a notifier whose
// reference is not read (a dry run, or an existing notifier that keeps
// its own) while its other fields are validated.
var notifierPlaceholder = lazy.Value[string]{New: store.NewWebhookSecret}

// addNotifier resolves a notifier of the file, or returns its problems.
func (d *desired) addNotifier(c Notifier, at loc, opts Options) Errors {
	n := store.Notifier{Name: c.Name, URL: c.URL, Events: c.Events, AllowHTTP: c.AllowHTTP, Secret: notifierPlaceholder.Get()}
	var secret *string
	if c.Secret != nil {
		ref, err := checkRef(*c.Secret, opts.Dir)
		if err != nil {
			return Errors{*at.fieldErr("secret", fmt.Errorf("notifier %s: %w", c.Name, err))}
		}
		n.SecretEnv = ref.env
		d.uses = append(d.uses, SecretUse{Path: at.path + ".secret", Kind: "notifier", Name: n.Name, Field: "secret",
			From: ref.String(), SentTo: []string{n.URL}, Signs: true, Read: !opts.DryRun})
		if !opts.DryRun {
			v, err := ref.read(opts)
			if err != nil {
				return Errors{*at.fieldErr("secret", fmt.Errorf("notifier %s: %w", c.Name, err))}
			}
			n.Secret, secret = v, &v
		}
	}
	if err := n.Validate(); err != nil {
		return validationErrors(err, at)
	}
	d.notifiers = append(d.notifiers, n)
	d.notifierSecrets[n.Name] = secret
	d.locs["notifier/"+n.Name] = at
	return nil
}

// notifierChanges computes and (when write) makes the notifiers' changes,
// and marks their names in names.
func (d *desired) notifierChanges(tx *store.Tx, write bool, names map[string]bool) ([]Change, error) {
	var plan []Change
	for _, n := range d.notifiers {
		names["notifier/"+n.Name] = true
		secret := d.notifierSecrets[n.Name]
		at := d.locs["notifier/"+n.Name]
		cur, err := tx.Notifier(n.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if secret == nil && !d.referenced("notifier", n.Name) {
				return plan, Errors{{Line: at.line, Path: at.path, Msg: "notifier " + n.Name + " is new and needs its signing secret: add secret: {env: VAR} (the receiver's whsec_ secret), or create it with `scriptrun notify add " + n.Name + "`, which generates one"}}
			}
			plan = append(plan, Change{Action: "create", Kind: "notifier", Name: n.Name})
			if write {
				n.Secret = *secret
				if err := tx.CreateNotifier(n); err != nil {
					return plan, Errors{{Line: at.line, Path: at.path, Msg: err.Error()}}
				}
			}
		case err != nil:
			return plan, err
		default:
			if secret == nil {
				n.Secret = cur.Secret
				if !d.referenced("notifier", n.Name) {
					n.SecretEnv = cur.SecretEnv
				}
			}
			fields := notifierDiff(cur, n)
			if len(fields) == 0 {
				continue
			}
			plan = append(plan, Change{Action: "update", Kind: "notifier", Name: n.Name, Fields: fields})
			if write {
				if err := tx.PutNotifier(n); err != nil {
					return plan, Errors{{Line: at.line, Path: at.path, Msg: err.Error()}}
				}
			}
		}
	}
	return plan, nil
}

func notifierDiff(a, b store.Notifier) []string {
	var f []string
	add := func(name string, same bool) {
		if !same {
			f = append(f, name)
		}
	}
	add("url", a.URL == b.URL)
	add("events", slices.Equal(a.Events, b.Events))
	add("allowHttp", a.AllowHTTP == b.AllowHTTP)
	add("secret", a.Secret == b.Secret && a.SecretEnv == b.SecretEnv)
	add("disabled", !a.Disabled) // the file's notifiers are enabled: applying one re-enables it
	return f
}

// pruneNotifiers deletes the notifiers the file does not name.
func pruneNotifiers(tx *store.Tx, keep map[string]bool, write bool) ([]Change, error) {
	ns, err := tx.Notifiers()
	if err != nil {
		return nil, err
	}
	var plan []Change
	for _, n := range ns {
		if !keep["notifier/"+n.Name] {
			plan = append(plan, Change{Action: "delete", Kind: "notifier", Name: n.Name})
			if write {
				if err := tx.DeleteNotifier(n.Name); err != nil {
					return plan, err
				}
			}
		}
	}
	return plan, nil
}
