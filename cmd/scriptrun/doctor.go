package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/termtext"
)

// finding is one line of the doctor's report.
type finding struct {
	Level   string `json:"level"` // ok, warn, fail
	Subject string `json:"subject"`
	What    string `json:"what"`
	Fix     string `json:"fix,omitempty"`
}

func newDoctorCmd(a *app) *cobra.Command {
	var offline, asJSON bool
	c := &cobra.Command{
		Use:   "doctor [--offline] [--json]",
		Short: "Check the home, the key, the database, every provider's endpoints, every token and job",
		Long: `Checks the home folder's permissions, the master key, the database's
consistency, each provider's endpoints (reachable; an OAuth discovery document
if the provider publishes one), each token (state, expiry, last error, base
URL) and each cron job (schedule, changed script file), and says what to do
about each problem. Exit code 1 when a check failed.`,
		Args: noArgs,
	}
	c.Flags().BoolVar(&offline, "offline", false, "do not contact providers")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fs := a.doctor(ctx, offline)
		for i := range fs {
			fs[i].What, fs[i].Fix = a.hint(fs[i].What), a.hint(fs[i].Fix)
		}
		failed := 0
		for _, f := range fs {
			if f.Level == "fail" {
				failed++
			}
		}
		if asJSON {
			if err := printJSON(a.stdio.Out, fs); err != nil {
				return err
			}
		} else {
			printFindings(a.stdio.Out, fs)
		}
		if failed > 0 {
			return failErr(fmt.Errorf("doctor: %d check(s) failed", failed))
		}
		return nil
	}
	return c
}

func printFindings(w io.Writer, fs []finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "%-4s  %s: %s\n", f.Level, termtext.Line(f.Subject), termtext.Text(f.What))
		if f.Fix != "" {
			fmt.Fprintf(w, "      → %s\n", termtext.Text(f.Fix))
		}
	}
}

func (a *app) doctor(ctx context.Context, offline bool) []finding {
	var fs []finding
	add := func(level, subject, what, fix string) { fs = append(fs, finding{level, subject, what, fix}) }

	home, err := a.homeDir()
	if err != nil {
		add("fail", "home", err.Error(), "")
		return fs
	}
	info, err := os.Stat(home)
	switch {
	case errors.Is(err, os.ErrNotExist):
		add("warn", "home", home+" does not exist yet", "it is created on first use, e.g. by `scriptrun provider add`")
		return fs
	case err != nil:
		add("fail", "home", err.Error(), "")
		return fs
	case info.Mode().Perm()&0o022 != 0:
		add("fail", "home", fmt.Sprintf("%s has mode %04o: other users can replace the database or the key in it", home, info.Mode().Perm()), "chmod 700 "+home)
	case info.Mode().Perm()&0o077 != 0:
		add("warn", "home", fmt.Sprintf("%s has mode %04o: other users can list it", home, info.Mode().Perm()), "chmod 700 "+home)
	default:
		add("ok", "home", home+" (mode 0700)", "")
	}
	if a.getenv("SCRIPTRUN_MASTER_KEY") != "" {
		add("ok", "key", "from SCRIPTRUN_MASTER_KEY", "")
	} else if info, err := os.Stat(filepath.Join(home, "master.key")); err == nil {
		if info.Mode().Perm()&0o022 != 0 {
			add("fail", "key", fmt.Sprintf("master.key has mode %04o: other users can replace the key (and read every secret)", info.Mode().Perm()), "chmod 600 "+filepath.Join(home, "master.key"))
		} else if info.Mode().Perm()&0o077 != 0 {
			add("fail", "key", fmt.Sprintf("master.key has mode %04o: other users can read every secret", info.Mode().Perm()), "chmod 600 "+filepath.Join(home, "master.key"))
		} else {
			add("ok", "key", "master.key (mode 0600); back it up with the database", "")
		}
	}

	db, more := a.doctorStore(ctx)
	fs = append(fs, more...)
	if db == nil {
		return fs
	}

	var providers []store.Provider
	var tokens []store.Token
	var damaged []*store.RecordError
	if err := db.View(func(tx *store.Tx) (err error) {
		providers, err = tx.Providers()
		dp, err := store.DamagedRecords(err)
		if err != nil {
			return err
		}
		tokens, err = tx.Tokens()
		dt, err := store.DamagedRecords(err)
		damaged = append(dp, dt...)
		if _, err := tx.AdminPassword(); err != nil && !errors.Is(err, store.ErrNotFound) {
			var re *store.RecordError
			if !errors.As(err, &re) {
				return err
			}
			damaged = append(damaged, re)
		}
		return err
	}); err != nil {
		add("fail", "database", err.Error(), "")
		return fs
	}
	for _, d := range damaged {
		add("fail", strings.TrimSpace(d.Kind+" "+d.Name), "damaged: "+d.Reason+"; it is refused until restored or re-created", d.Fix())
	}
	fs = append(fs, checkProviders(ctx, providers, offline)...)
	fs = append(fs, checkTokens(tokens, providers, time.Now())...)

	jobs, err := cron.ListJobs(db, time.Now())
	dj, err := store.DamagedRecords(err)
	if err != nil {
		add("fail", "cron", err.Error(), "")
	}
	for _, d := range dj {
		add("fail", "job "+d.Name, "damaged: "+d.Reason+"; it does not run until restored or re-created", d.Fix())
	}
	for _, j := range jobs {
		subject := "job " + j.Job.Name
		switch {
		case j.ScheduleError != "":
			add("fail", subject, j.ScheduleError, "scriptrun cron update "+j.Job.Name+" --schedule SPEC")
		case !j.Job.Enabled:
			add("warn", subject, "disabled", "scriptrun cron enable "+j.Job.Name)
		default:
			add("ok", subject, "next run "+stamp(j.Next), "")
		}
		if p := j.Job.ScriptPath; p != "" {
			if src, err := os.ReadFile(p); err != nil {
				add("warn", subject, "its script file "+p+" is gone; the captured copy still runs", "")
			} else if store.ScriptDigest(string(src)) != j.Job.ScriptSHA256 {
				add("warn", subject, "its script file "+p+" changed since it was captured; the reviewed copy runs", "review it, then: scriptrun cron update "+j.Job.Name+" --script "+p)
			}
		}
		if j.LastFinished != nil && j.LastFinished.Status != store.RunSucceeded {
			add("warn", subject, fmt.Sprintf("last run %s: %s", j.LastFinished.Status, oneLine(j.LastFinished.Error, 100)), fmt.Sprintf("scriptrun cron log %d", j.LastFinished.ID))
		}
	}
	if len(jobs) > 0 {
		if cron.Running(db) {
			add("ok", "cron", "a scriptrun serve is running the schedule", "")
		} else {
			add("warn", "cron", "no scriptrun serve is running: jobs are not being run", "start `scriptrun serve`")
		}
	}
	return fs
}

// checkProviders contacts each provider's endpoints (in parallel, bounded).
func checkProviders(ctx context.Context, ps []store.Provider, offline bool) []finding {
	out := make([][]finding, len(ps))
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 8 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, p := range ps {
		subject := "provider " + p.Name
		if p.ClientSecret == "" {
			out[i] = append(out[i], finding{"warn", subject, "no client secret (public client)", "scriptrun provider update " + p.Name + " --client-secret-stdin, if the provider issued one"})
		}
		if offline {
			continue
		}
		wg.Go(func() {
			docURL, meta := discovery(ctx, client, p)
			for _, ep := range []struct{ what, url, listed, flag string }{
				{"token endpoint", p.TokenURL, meta.TokenEndpoint, "--token-url"},
				{"authorization endpoint", p.AuthURL, meta.AuthorizationEndpoint, "--auth-url"},
			} {
				out[i] = append(out[i], checkEndpoint(ctx, client, p.Name, ep.what, ep.url, ep.listed, ep.flag, docURL))
			}
			if docURL != "" {
				out[i] = append(out[i], finding{"ok", subject, "publishes " + docURL, ""})
			}
		})
	}
	wg.Wait()
	var fs []finding
	for _, f := range out {
		fs = append(fs, f...)
	}
	return fs
}

func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// endpointMetadata is what doctor reads from a discovery document (RFC 8414,
// OpenID Connect Discovery).
type endpointMetadata struct {
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

// discovery looks for an OAuth/OIDC metadata document beside the token
// endpoint's host, and returns its URL and the endpoints it lists when one
// answers.
func discovery(ctx context.Context, client *http.Client, p store.Provider) (string, endpointMetadata) {
	u, err := url.Parse(p.TokenURL)
	if err != nil {
		return "", endpointMetadata{}
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		d := u.Scheme + "://" + u.Host + path
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d, nil)
		resp, err := client.Do(req)
		if err != nil {
			return "", endpointMetadata{}
		}
		var meta endpointMetadata
		ok := resp.StatusCode == http.StatusOK && strings.Contains(resp.Header.Get("Content-Type"), "json") &&
			json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta) == nil
		resp.Body.Close()
		if ok {
			return d, meta
		}
	}
	return "", endpointMetadata{}
}

// checkEndpoint asks one endpoint of provider name. Any answer but 404 or
// 410 is fine (a token endpoint refuses a GET, an authorization endpoint a
// request without parameters); when the URL is not the one the provider's
// discovery document (docURL) lists, the fix names the listed one.
func checkEndpoint(ctx context.Context, client *http.Client, name, what, endpoint, listed, flag, docURL string) finding {
	subject := "provider " + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return finding{"fail", subject, what + " is not a valid URL: " + unwrapURLError(err), "scriptrun provider update " + name + " " + flag + " URL"}
	}
	resp, err := client.Do(req)
	if err != nil {
		return finding{"fail", subject, what + " unreachable: " + unwrapURLError(err), "check the URL with `scriptrun provider show " + name + "` and the network"}
	}
	resp.Body.Close()
	differs := listed != "" && listed != endpoint
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		what := fmt.Sprintf("%s %s answers HTTP %d (no such endpoint)", what, endpoint, resp.StatusCode)
		if differs {
			return finding{"fail", subject, what + "; " + docURL + " lists " + listed, "scriptrun provider update " + name + " " + flag + " " + listed}
		}
		return finding{"fail", subject, what, "check the provider's documentation, then: scriptrun provider update " + name + " " + flag + " URL"}
	}
	if differs {
		return finding{"warn", subject, fmt.Sprintf("%s answers (HTTP %d) but %s lists %s", what, resp.StatusCode, docURL, listed), "if that is the right one: scriptrun provider update " + name + " " + flag + " " + listed}
	}
	return finding{"ok", subject, fmt.Sprintf("%s answers (HTTP %d)", what, resp.StatusCode), ""}
}

func checkTokens(ts []store.Token, ps []store.Provider, now time.Time) []finding {
	known := map[string]bool{}
	for _, p := range ps {
		known[p.Name] = true
	}
	var fs []finding
	for _, t := range ts {
		subject := "token " + t.Name
		add := func(level, what, fix string) { fs = append(fs, finding{level, subject, what, fix}) }
		if t.Provider != "" && !known[t.Provider] {
			add("fail", "its provider "+t.Provider+" does not exist", "scriptrun token update "+t.Name+" --provider NAME")
		}
		switch {
		case !t.Active:
			add("warn", "inactive: scripts get TOKEN_INACTIVE", "scriptrun token update "+t.Name+" --active true")
		case t.State == store.StateReauthRequired:
			add("fail", "needs a new authorization: "+oneLine(t.LastMessage, 120), "scriptrun token authorize "+t.Name+" (or Get authorization token in the console)")
		case t.State == store.StateUnauthorized:
			add("warn", "not authorized yet", "scriptrun token authorize "+t.Name)
		case !t.Expires.IsZero() && now.After(t.Expires) && t.Secret.RefreshToken == "":
			add("fail", "expired "+relative(t.Expires, now)+" and has no refresh token", "scriptrun token authorize "+t.Name+"; ask for offline access so it can refresh")
		case t.RefreshFailures > 0:
			add("warn", fmt.Sprintf("%d failed refresh(es) in a row: %s", t.RefreshFailures, oneLine(t.LastMessage, 120)), "scriptrun token refresh "+t.Name+" to retry now")
		default:
			what := "authorized"
			if !t.Expires.IsZero() {
				what += ", access token expires " + relative(t.Expires, now)
			}
			add("ok", what, "")
		}
		if t.BaseURL == "" {
			add("warn", "no base URL: scripts may send it to any host", "scriptrun token update "+t.Name+" --base-url https://api.example.com")
		}
	}
	return fs
}
