package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

const defaultCallbackURL = "http://127.0.0.1:8080/oauth/callback"

// callbackURL is --callback-url, else $SCRIPTRUN_CALLBACK_URL, else the default.
func (a *app) callbackURL(flag string) string {
	if flag != "" {
		return flag
	}
	if env := a.getenv("SCRIPTRUN_CALLBACK_URL"); env != "" {
		return env
	}
	return defaultCallbackURL
}

func tokenAuthorizeCmd(a *app) *cobra.Command {
	var noBrowser bool
	var callback string
	c := &cobra.Command{
		Use:   "authorize NAME [--no-browser] [--callback-url URL]",
		Short: `"Get authorization token": sign in at the provider and store the token`,
		Long: `Prints the provider's authorization URL on its own line (and opens it in a
browser unless --no-browser), waits up to 10 minutes for the provider to
redirect back to the callback URL, exchanges the code and stores the token.

The callback URL is the redirect URI registered at the provider: --callback-url,
else $SCRIPTRUN_CALLBACK_URL, else ` + defaultCallbackURL + `.`,
		Args: exactArgs(1, "the token's NAME"),
	}
	c.Flags().BoolVar(&noBrowser, "no-browser", false, "only print the URL; do not try to open a browser")
	c.Flags().StringVar(&callback, "callback-url", "", "redirect URI registered at the provider (default $SCRIPTRUN_CALLBACK_URL, else "+defaultCallbackURL+")")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, m, err := a.open()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		var browse func(ctx context.Context, authURL string) error
		if !noBrowser {
			env := browserEnv(os.Environ(), a.authorizeSecrets(db, args[0])...)
			browse = func(ctx context.Context, authURL string) error { return openBrowser(ctx, authURL, env) }
		}
		t, err := authorizeToken(ctx, m, args[0], a.callbackURL(callback), a.stdio.Out, browse)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdio.Out, "token %s: state %s", t.Name, t.State)
		if !t.Expires.IsZero() {
			fmt.Fprintf(a.stdio.Out, ", expires %s (%s)", stamp(t.Expires), relative(t.Expires, time.Now()))
		}
		fmt.Fprintln(a.stdio.Out)
		var p *store.Provider
		if t.Secret.RefreshToken == "" {
			// Only to word the warning; a provider that vanished since is no news.
			_ = db.View(func(tx *store.Tx) (err error) { _, p, err = tx.TokenWithProvider(t.Name); return err })
		}
		if w := tokens.NoRefreshTokenWarning(t, p); w != "" {
			fmt.Fprintln(a.stdio.Err, a.hint("warning: "+w))
		}
		return nil
	}
	return c
}

// authorizeToken runs "Get authorization token" from a terminal: it listens
// on the callback URL, prints the authorization URL, hands it to browse (if
// any), and completes the flow with the first callback carrying this
// authorization's state.
func authorizeToken(ctx context.Context, m *tokens.Manager, name, callback string, out io.Writer, browse func(ctx context.Context, authURL string) error) (store.Token, error) {
	cb, err := url.Parse(callback)
	if err != nil || cb.Scheme != "http" || !store.IsLoopback(cb.Hostname()) || cb.Port() == "" {
		return store.Token{}, usageErr("callback URL %q cannot be served by this command: it needs http://127.0.0.1:PORT/PATH (a loopback address with a port, registered at the provider as the redirect URI); for a public URL, use `scriptrun serve` there", callback)
	}
	if cb.Path == "" {
		cb.Path = "/"
	}
	ln, err := net.Listen("tcp", cb.Host)
	if err != nil {
		return store.Token{}, usageErr("cannot listen on %s for the callback (%v): if `scriptrun serve` is running, press \"Get authorization token\" in its console instead, or pass --callback-url with a free port that is registered at the provider", cb.Host, errors.Unwrap(err))
	}
	if cb.Port() == "0" { // the demo and tests: take the port we got
		cb.Host = net.JoinHostPort(cb.Hostname(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	auth, err := m.Authorize(name, cb.String())
	if err != nil {
		ln.Close()
		return store.Token{}, tokenErr(err)
	}

	ctx, cancel := context.WithTimeout(ctx, tokens.AuthorizationTTL)
	defer cancel()
	type result struct {
		t   store.Token
		err error
	}
	done := make(chan result, 1)
	var once sync.Once
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != cb.Path {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if q.Get("state") != auth.State {
			w.WriteHeader(http.StatusBadRequest)
			callbackPage.Get().Execute(w, page{Title: "Not this authorization", Message: "This callback does not belong to the authorization scriptrun is waiting for. Start again from the terminal."})
			return
		}
		handled := false
		once.Do(func() {
			handled = true
			t, err := m.Complete(ctx, auth, q)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				callbackPage.Get().Execute(w, page{Title: "Authorization failed", Message: err.Error()})
			} else {
				callbackPage.Get().Execute(w, page{Title: "Token authorized", Message: fmt.Sprintf("scriptrun stored token %s. You can close this tab.", t.Name)})
			}
			done <- result{t, err}
		})
		if !handled {
			w.WriteHeader(http.StatusConflict)
			callbackPage.Get().Execute(w, page{Title: "Already used", Message: "This authorization was already completed."})
		}
	})}
	go srv.Serve(ln)
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
	}()

	fmt.Fprintf(out, "Open this URL in a browser and sign in to authorize token %s:\n\n%s\n\nWaiting for the provider to redirect to %s (up to %s; Ctrl-C to stop)...\n", name, auth.URL, cb, tokens.AuthorizationTTL)
	if browse != nil {
		// The browser may fail after the callback arrived (its connection
		// closed by the shutdown below); out then belongs to the caller
		// again, so a late failure is not written.
		var outMu sync.Mutex
		returned := false
		defer func() {
			outMu.Lock()
			returned = true
			outMu.Unlock()
		}()
		go func() {
			if err := browse(ctx, auth.URL); err != nil {
				outMu.Lock()
				defer outMu.Unlock()
				if !returned {
					fmt.Fprintf(out, "(could not open it for you: %v)\n", err)
				}
			}
		}()
	}
	select {
	case r := <-done:
		if r.err != nil {
			return store.Token{}, tokenErr(r.err)
		}
		return r.t, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return store.Token{}, failErr(fmt.Errorf("token %s: no callback within %s; run `scriptrun token authorize %s` again", name, tokens.AuthorizationTTL, name))
		}
		return store.Token{}, failErr(fmt.Errorf("token %s: authorization stopped", name))
	}
}

// authorizeSecrets lists what the browser's environment must not hold:
// the master key (when it comes from the environment), the provider's
// client secret and the token's current credentials. A variable that
// holds one of them is most likely the one a --…-env flag named when
// they were stored, still exported in this shell.
func (a *app) authorizeSecrets(db *store.DB, name string) []string {
	secrets := []string{a.getenv("SCRIPTRUN_MASTER_KEY")}
	db.View(func(tx *store.Tx) error {
		// A missing or damaged record: authorizeToken says what is wrong.
		t, p, err := tx.TokenWithProvider(name)
		secrets = append(secrets, t.Secret.AccessToken, t.Secret.RefreshToken)
		if p != nil {
			secrets = append(secrets, p.ClientSecret)
		}
		return err
	})
	return secrets
}

// browserEnv is environ without what a browser, and everything it starts,
// has no business seeing: scriptrun's own variables (SCRIPTRUN_MASTER_KEY
// above all) and any variable whose value holds one of secrets.
func browserEnv(environ []string, secrets ...string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToUpper(name), "SCRIPTRUN_") || holdsSecret(value, secrets) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// holdsSecret reports whether value is one of secrets or, for secrets long
// enough not to turn up by chance, contains one.
func holdsSecret(value string, secrets []string) bool {
	for _, s := range secrets {
		if s != "" && (value == s || len(s) >= 8 && strings.Contains(value, s)) {
			return true
		}
	}
	return false
}

// openBrowser asks the desktop to open u, with env as the environment of
// the program it starts.
func openBrowser(ctx context.Context, u string, env []string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", u)
	default:
		if _, err := exec.LookPath("xdg-open"); err != nil {
			return nil // no desktop: the printed URL is the way
		}
		cmd = exec.CommandContext(ctx, "xdg-open", u)
	}
	cmd.Env = env
	return cmd.Start()
}

type page struct{ Title, Message string }

var callbackPage = lazy.Value[*template.Template]{New: func() *template.Template {
	return template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>scriptrun: {{.Title}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))
}}
