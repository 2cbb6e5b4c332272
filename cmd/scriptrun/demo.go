package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/scripts"
)

func newDemoCmd(a *app) *cobra.Command {
	var keep bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a self-contained end-to-end demonstration on a sandbox provider",
		Long: `Starts a sandbox OAuth2 provider and API on loopback (2-second access tokens,
rotating refresh tokens, PKCE required), registers a provider and a token in a
temporary home with the same commands you would type, completes "Get
authorization token" through the provider's real sign-in page, and runs
scripts/demo.js, which calls the API across several token expiries.`,
		Args: noArgs,
	}
	c.Flags().BoolVar(&keep, "keep", false, "keep the temporary home afterwards and print its path")
	c.RunE = func(c *cobra.Command, args []string) error {
		if a.storeFlags.url != "" || a.getenv(envStore) != "" {
			fmt.Fprintln(a.stdio.Err, "note: the demo runs on a temporary home of its own with a bbolt file; --store and $SCRIPTRUN_STORE are not used")
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runDemo(ctx, a.stdio, keep)
	}
	return c
}

func runDemo(ctx context.Context, stdio Stdio, keep bool) error {
	out := stdio.Out
	srv, err := sandbox.Start(sandbox.Options{AccessTTL: 2 * time.Second, RequirePKCE: true})
	if err != nil {
		return failErr(fmt.Errorf("demo: start the sandbox provider: %w", err))
	}
	defer srv.Close()
	home, err := os.MkdirTemp("", "scriptrun-demo-")
	if err != nil {
		return failErr(fmt.Errorf("demo: create a temporary home: %w", err))
	}
	if keep {
		defer fmt.Fprintf(out, "\nthe demo's home is kept at %s (use --home %s)\n", home, home)
	} else {
		defer os.RemoveAll(home)
	}
	fmt.Fprintf(out, "sandbox provider and API listening at %s\ntemporary home %s\n\n", srv.URL(), home)

	// The same commands a person types, run in-process. The secret travels
	// by environment variable, as it should.
	env := map[string]string{"SANDBOX_CLIENT_SECRET": srv.ClientSecret(), "SCRIPTRUN_HOME": home}
	getenv := func(k string) string { return env[k] }
	commands := [][]string{
		{"provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-env", "SANDBOX_CLIENT_SECRET",
			"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--scopes", "read write", "--auth-style", "header",
			"--description", "scriptrun demo sandbox"},
		{"token", "add", "demo-api", "--provider", "sandbox", "--base-url", srv.URL(), "--prompt", "consent"},
	}
	for _, args := range commands {
		fmt.Fprintf(out, "$ scriptrun %s\n", shellJoin(args))
		if code := Main(args, Stdio{In: strings.NewReader(""), Out: out, Err: stdio.Err}, getenv); code != 0 {
			return failErr(fmt.Errorf("demo: `scriptrun %s` failed (exit %d)", args[0]+" "+args[1], code))
		}
	}

	// From here on one app, whose token manager reports each refresh.
	d := &app{stdio: stdio, getenv: getenv, logger: slog.New(&eventHandler{out: out})}
	defer d.close()
	_, m, err := d.open()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ scriptrun token authorize demo-api --callback-url http://127.0.0.1:0/oauth/callback\n")
	fmt.Fprintf(out, "(a scripted browser signs in as demo/demo on the sandbox's login page and presses Allow)\n")
	signIn := func(ctx context.Context, authURL string) error {
		_, err := sandbox.SignIn(ctx, authURL, "demo", "demo")
		return err
	}
	if _, err := authorizeToken(ctx, m, "demo-api", "http://127.0.0.1:0/oauth/callback", out, signIn); err != nil {
		return err
	}

	src, err := scripts.FS.ReadFile("demo.js")
	if err != nil {
		return failErr(fmt.Errorf("demo: %w", err))
	}
	script := filepath.Join(home, "demo.js")
	if err := os.WriteFile(script, src, 0o600); err != nil {
		return failErr(fmt.Errorf("demo: %w", err))
	}
	fmt.Fprintf(out, "\n$ scriptrun demo.js %s\n", srv.APIURL())
	if err := d.runScript(ctx, script, scriptLimits{timeout: time.Minute, maxMemory: defaultMaxMemory}, []string{srv.APIURL()}); err != nil {
		return err
	}
	d.close() // wait for any refresh still being stored

	fmt.Fprintf(out, "\n$ scriptrun token show demo-api\n")
	Main([]string{"token", "show", "demo-api"}, Stdio{In: strings.NewReader(""), Out: out, Err: stdio.Err}, getenv)

	st := srv.Stats()
	fmt.Fprintf(out, "\nwhat the provider saw: %d authorization, %d code exchange, %d refreshes, %d refresh tokens presented twice, %d API calls, %d refused\n",
		st.Authorizations, st.TokenRequests["authorization_code"], st.RefreshRequests, st.RefreshTokenReuse, st.APICalls, st.APIRejected)
	switch {
	case st.RefreshRequests == 0:
		return failErr(fmt.Errorf("demo: the script crossed token expiries but no refresh happened"))
	case st.RefreshTokenReuse != 0:
		return failErr(fmt.Errorf("demo: a refresh token was presented twice: a rotated token was lost"))
	}
	fmt.Fprintln(out, "demo finished: every call was signed with a fresh token, and no secret reached the script.")
	return nil
}

// eventHandler prints the token manager's events as demo narration.
type eventHandler struct{ out io.Writer }

func (h *eventHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *eventHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *eventHandler) WithGroup(string) slog.Handler            { return h }
func (h *eventHandler) Handle(_ context.Context, r slog.Record) error {
	var parts []string
	r.Attrs(func(a slog.Attr) bool {
		parts = append(parts, a.Key+"="+a.Value.String())
		return true
	})
	fmt.Fprintf(h.out, "  [token manager] %s (%s)\n", r.Message, strings.Join(parts, ", "))
	return nil
}

// shellJoin quotes arguments as a person would type them.
func shellJoin(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$&;|<>*?()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}
