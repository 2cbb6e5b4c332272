package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// The refresh storm of issue 13 ("one refresh per token, cluster-wide")
// with the real binary: 3 processes, each a script with 50 concurrent
// calls (sendAsync and fetch) on an expired token, against the sandbox
// provider, which rotates refresh tokens and counts any presented twice, on
// a 3-member etcd cluster. Exactly one token-endpoint call per expiry and
// every request succeeds; then again with the cluster's leader stopped
// while the refresh is at the token endpoint.
func TestRefreshStormOnEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 3 processes against a 3-member embedded etcd")
	}
	c := etcdtest.Start(t, etcdtest.Options{Members: 3})
	srv, err := sandbox.Start(sandbox.Options{AccessTTL: time.Hour, AuthStyle: "body"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	n := newEtcdNode(t, etcdURL(t, c))
	n.must("", "store", "init")
	n.must(srv.ClientSecret()+"\n", "provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--revocation-url", srv.RevocationURL(), "--auth-style", "body", "--scopes", "read")
	n.must("", "token", "add", "api", "--provider", "sandbox", "--base-url", srv.URL())
	t.Setenv("SCRIPTRUN_STORE", n.url) // for authorizeCLI's process
	authorizeCLI(t, n.home, srv, "api")
	db := openEtcdStore(t, n.home, n.url)
	storm := writeScript(t, t.TempDir(), "storm.js", `
const url = args[0] + '/me';
const calls = Array.from({length: 50}, (_, i) => i % 2
  ? http.get(url).apiTokenAuth('api').sendAsync()
  : fetch(url, {apiTokenAuth: 'api'}));
Promise.all(calls).then((rs) => {
  const bad = rs.filter((r) => !r.ok).map((r) => r.status);
  console.log((rs.length - bad.length) + ' ok');
  if (bad.length > 0) throw new Error(bad.length + ' of 50 failed: ' + bad.join(','));
});
`)

	round := func(name string) {
		t.Helper()
		expireEtcdToken(t, db, "api")
		before, start := srv.Stats(), time.Now()
		defer func() { t.Logf("%s: 3 processes x 50 calls in %s", name, time.Since(start).Round(time.Millisecond)) }()
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				code, out, errs := n.run("", storm, srv.APIURL())
				if code != 0 || !strings.Contains(out, "50 ok") {
					t.Errorf("%s: process %d: exit %d\n%s%s", name, i, code, out, errs)
				}
			})
		}
		wg.Wait()
		st := srv.Stats()
		if got := st.RefreshRequests - before.RefreshRequests; got != 1 || st.RefreshTokenReuse != before.RefreshTokenReuse {
			t.Errorf("%s: %d token-endpoint calls for one expiry (want 1), %d refresh tokens presented twice", name, got, st.RefreshTokenReuse-before.RefreshTokenReuse)
		}
		if st.APIRejected != before.APIRejected {
			t.Errorf("%s: the API refused %d calls", name, st.APIRejected-before.APIRejected)
		}
	}
	round("3 members")

	// The leader stops while the refresh is at the token endpoint: the
	// holder of the lock commits through the two members left.
	var once sync.Once
	stopped := -1
	srv.SetTokenFault(func(http.ResponseWriter, *http.Request) bool {
		once.Do(func() {
			stopped = c.Leader()
			if stopped < 0 {
				stopped = 0
			}
			c.Stop(stopped)
		})
		return false
	})
	round("a member stopped mid-refresh")
	if stopped < 0 {
		t.Fatal("no token-endpoint call: no member was stopped")
	}
	srv.SetTokenFault(nil)
	round("2 members left")

	// Revoked at the provider from the cluster, on the members left.
	revocations := srv.Stats().Revocations
	if out := n.must("", "token", "revoke", "api"); !strings.Contains(out, "revoked at the provider") || srv.Stats().Revocations == revocations {
		t.Errorf("token revoke on etcd:\n%s", out)
	}
}

// expireEtcdToken sets the stored expiry of token name to a minute ago.
func expireEtcdToken(t *testing.T, db *store.DB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := db.Update(func(tx *store.Tx) error {
			tok, err := tx.Token(name)
			if err != nil {
				return err
			}
			tok.Expires = time.Now().Add(-time.Minute)
			return tx.PutToken(tok)
		})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // a new leader is being elected
	}
}
