package cron

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// fakeRefresher records which tokens it was asked to refresh.
type fakeRefresher struct {
	mu        sync.Mutex
	refreshed []string
	fail      map[string]bool
}

var _ Refresher = (*fakeRefresher)(nil)

func (f *fakeRefresher) Refresh(_ context.Context, name string) (store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshed = append(f.refreshed, name)
	if f.fail[name] {
		return store.Token{}, errors.New("provider said no")
	}
	return store.Token{Name: name}, nil
}

func TestKeepAlive(t *testing.T) {
	ref := &fakeRefresher{fail: map[string]bool{"fails": true}}
	e := newEnv(t, t0, func(o *Options) { o.Refresher = ref })
	now := t0.Add(48 * time.Hour)
	tests := []struct {
		name    string
		mod     func(*store.Token)
		refresh bool
	}{
		{"idle", func(*store.Token) {}, true},
		{"used an hour ago", func(tk *store.Token) { tk.LastUsed = now.Add(-time.Hour) }, false},
		{"refreshed two hours ago", func(tk *store.Token) { tk.LastRefreshed = now.Add(-2 * time.Hour) }, false},
		{"no refresh token", func(tk *store.Token) { tk.Secret.RefreshToken = "" }, false},
		{"inactive", func(tk *store.Token) { tk.Active = false }, false},
		{"needs reauthorization", func(tk *store.Token) { tk.State = store.StateReauthRequired }, false},
		{"never authorized", func(tk *store.Token) { tk.State = store.StateUnauthorized; tk.Secret = store.Secret{} }, false},
		{"failed ten minutes ago", func(tk *store.Token) { tk.RefreshFailures, tk.RefreshFailed = 1, now.Add(-10*time.Minute) }, false},
		{"failed two hours ago", func(tk *store.Token) { tk.RefreshFailures, tk.RefreshFailed = 3, now.Add(-2*time.Hour) }, true},
		{"fails", func(*store.Token) {}, true},
	}
	err := e.db.Update(func(tx *store.Tx) error {
		if err := tx.PutProvider(store.Provider{Name: "p", ClientID: "c", GrantType: store.GrantAuthorizationCode,
			AuthURL: "https://login.example.com/a", TokenURL: "https://login.example.com/t", AuthStyle: store.AuthStyleHeader}); err != nil {
			return err
		}
		for _, tt := range tests {
			tk := store.Token{Name: strings.ReplaceAll(tt.name, " ", "-"), Type: store.TypeOAuth2, Provider: "p", Active: true,
				State: store.StateAuthorized, Secret: store.Secret{AccessToken: "a", RefreshToken: "r", TokenType: "Bearer"}}
			tt.mod(&tk)
			if err := tx.PutToken(tk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.advanceTo(now)
	ok, failed := e.s.keepAlive(context.Background())
	var want []string
	for _, tt := range tests {
		if tt.refresh {
			want = append(want, strings.ReplaceAll(tt.name, " ", "-"))
		}
	}
	slices.Sort(want)
	slices.Sort(ref.refreshed)
	if !slices.Equal(ref.refreshed, want) || ok != len(want)-1 || failed != 1 {
		t.Errorf("refreshed %v (%d ok, %d failed), want %v with one failure", ref.refreshed, ok, failed, want)
	}
	scrape(t, e.s.Metrics()).check(t, map[string]float64{
		series("scriptrun_token_keepalive_refreshes_total", "token", "idle", "result", "ok"):      1,
		series("scriptrun_token_keepalive_refreshes_total", "token", "fails", "result", "failed"): 1,
	})
}

func TestCaptureAndOutcome(t *testing.T) {
	c := &capture{max: 10}
	c.Write([]byte("12345678"))
	c.Write([]byte("é")) // 2 bytes: 10 kept
	c.Write([]byte("éé"))
	out, total, cut := c.output()
	if total != 14 || !cut || !strings.HasPrefix(string(out), "12345678é\n[output truncated: kept the first 10 bytes of 14 bytes]") {
		t.Errorf("capture = %q, %d, %v", out, total, cut)
	}
	c = &capture{max: 9}
	c.Write([]byte("12345678é")) // the cut falls inside é
	if out, _, _ := c.output(); !strings.HasPrefix(string(out), "12345678\n") {
		t.Errorf("a cut character was kept: %q", out)
	}
	c = &capture{max: 10}
	c.Write([]byte("short"))
	if out, total, cut := c.output(); string(out) != "short" || total != 5 || cut {
		t.Errorf("short capture = %q %d %v", out, total, cut)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("replaced by run 7"))
	if st, _, reason := outcome(ctx, context.Canceled); st != store.RunCancelled || reason != "replaced by run 7" {
		t.Errorf("outcome of a cancellation = %s, %q", st, reason)
	}
	if st, msg, _ := outcome(context.Background(), errors.New("runtime: internal error")); st != store.RunFailed || msg != "internal error" {
		t.Errorf("outcome of an error = %s %q", st, msg)
	}
}
