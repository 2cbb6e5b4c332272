package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/termtext"
	"github.com/scriptrun/scriptrun/tokens"
)

// checkTimeout bounds one credential check: signing (with a refresh), the
// request and its one retry.
const checkTimeout = 60 * time.Second

func tokenTestCmd(a *app) *cobra.Command {
	var target, method string
	var asJSON bool
	c := &cobra.Command{
		Use:   "test NAME [--url URL] [--method GET] [--json]",
		Short: "Send one signed request to see whether a token's credential works",
		Long: `Sends one request signed with the token, exactly as a script's
http.get(URL).apiTokenAuth(NAME).send() would: to the token's base URL, or to
--url, which must be inside the token's binding (nothing is sent otherwise).
An oauth2 token due for a refresh is refreshed first; if the API refuses the
credential, the token is renewed and the request sent once more. Prints the
status, the latency and whether a refresh happened; never the credential, the
response's headers or its body. Redirects are reported, not followed.

Exit codes: 0 the API answered without refusing the credential (2xx; or
another status, such as a 404 at a base URL that serves nothing, with a
note); 1 the API refused it (401, 403, or the provider's rejection rule)
even after a refresh, or no answer came (the token cannot be used, its
refresh failed, the API is unreachable); 2 a usage error (no such token, no
URL, a URL outside the token's binding).`,
		Example: "  scriptrun token test graph-mail\n  scriptrun token test graph-mail --url https://graph.microsoft.com/v1.0/me\n" +
			"  scriptrun token test gitlab --url https://gitlab.example.com/api/v4/user --method HEAD",
		Args: exactArgs(1, "the token's NAME"),
	}
	c.Flags().StringVar(&target, "url", "", "the URL to call, inside the token's binding (default: its base URL)")
	c.Flags().StringVar(&method, "method", http.MethodGet, "the HTTP method, sent without a body")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := checkMethod(method); err != nil {
			return err
		}
		_, m, err := a.open()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		res, err := m.Check(ctx, args[0], tokens.CheckRequest{URL: target, Method: method, Client: a.scriptClient()})
		if err != nil {
			return configErr("%s", a.hint(err.Error()))
		}
		if err := a.printCheck(res, asJSON); err != nil {
			return err
		}
		if res.Failed() {
			return failErr(fmt.Errorf("token %s does not work: %s", res.Token, res.Outcome))
		}
		return nil
	}
	return c
}

// checkMethod refuses what is not an HTTP method name.
func checkMethod(method string) error {
	if method == "" || strings.ContainsFunc(method, func(r rune) bool { return r < '!' || r > '~' || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) }) {
		return usageErr("--method %q is not an HTTP method: use GET, HEAD or another method name", method)
	}
	return nil
}

// checkJSON is a check's result as --json prints it.
type checkJSON struct {
	Token     string  `json:"token"`
	Method    string  `json:"method"`
	URL       string  `json:"url"`
	Outcome   string  `json:"outcome"`
	Status    int     `json:"status,omitempty"`
	LatencyMS float64 `json:"latencyMs"`
	TotalMS   float64 `json:"totalMs"`
	Refreshed bool    `json:"refreshed"`
	Retried   bool    `json:"retried"`
	Code      string  `json:"code,omitempty"`
	Problem   string  `json:"problem,omitempty"`
}

func (a *app) printCheck(res tokens.CheckResult, asJSON bool) error {
	if asJSON {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		return printJSON(a.stdio.Out, checkJSON{res.Token, res.Method, res.URL, res.Outcome, res.Status, ms(res.Latency), ms(res.Total),
			res.Refreshed, res.Retried, res.Code, a.hint(res.Problem)})
	}
	_, err := fmt.Fprintf(a.stdio.Out, "%-8s token %s: %s\n", res.Outcome, termtext.Line(res.Token), termtext.Text(a.hint(res.Summary())))
	return err
}

// doctorTests is doctor --test: a credential check of every active,
// authorized token with a base URL, a few at a time, one finding each.
func (a *app) doctorTests(ctx context.Context) []finding {
	db, m, err := a.open()
	if err != nil {
		return []finding{{"fail", "tokens", err.Error(), ""}}
	}
	var ts []store.Token
	if err := db.View(func(tx *store.Tx) (err error) { ts, err = tx.Tokens(); return err }); err != nil {
		if _, other := store.DamagedRecords(err); other != nil {
			return []finding{{"fail", "tokens", other.Error(), ""}}
		}
	}
	out := make([]finding, len(ts))
	client := a.scriptClient()
	slots := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, t := range ts {
		if !t.Active || t.State != store.StateAuthorized || t.BaseURL == "" {
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			out[i] = testFinding(ctx, m, t, client)
		})
	}
	wg.Wait()
	var fs []finding
	for _, f := range out {
		if f.Level != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

// testFinding checks one token's credential as `token test` does.
func testFinding(ctx context.Context, m *tokens.Manager, t store.Token, client *http.Client) finding {
	name := t.Name
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	subject := "test " + name
	res, err := m.Check(ctx, name, tokens.CheckRequest{Client: client})
	switch {
	case err != nil:
		return finding{"fail", subject, err.Error(), ""}
	case res.Outcome == tokens.CheckRefused && t.Static():
		return finding{"fail", subject, res.Summary(), "store a valid credential: scriptrun token update " + name + " " + credentialHint(t.Type)}
	case res.Outcome == tokens.CheckRefused:
		return finding{"fail", subject, res.Summary(), "authorize it again: scriptrun token authorize " + name + " (or send a reconnect link: scriptrun token link " + name + ")"}
	case res.Failed():
		return finding{"fail", subject, res.Summary(), ""}
	case res.Outcome == tokens.CheckAnswered:
		return finding{"warn", subject, res.Summary(), "scriptrun token test " + name + " --url URL, with an endpoint that exists"}
	}
	return finding{"ok", subject, res.Summary(), ""}
}
