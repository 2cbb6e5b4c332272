package tokens

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// openEtcdStore opens the scriptrun store under target (creating it with
// create), as a node of a cluster would, closed when the test ends.
func openEtcdStore(t testing.TB, target etcdurl.Target, cfg etcdkv.Config, create bool) *store.DB {
	t.Helper()
	db, err := store.OpenURL(context.Background(), target.String(), storetest.Key(), store.Options{Etcd: cfg, Create: create})
	if err != nil {
		t.Fatalf("open %s: %v", target, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// etcdNodes is an env on etcd plus more managers, each on a *store.DB of
// its own (a connection of its own, as another process or host has),
// sharing the env's clock.
func etcdNodes(t *testing.T, c *etcdtest.Cluster, n int, o envOpts) (*env, []*Manager) {
	t.Helper()
	target := c.Target(t)
	o.db = openEtcdStore(t, target, etcdkv.Config{}, true)
	e := newEnv(t, o)
	ms := []*Manager{e.m}
	for range n - 1 {
		m := New(Options{DB: openEtcdStore(t, target, etcdkv.Config{}, false), Now: e.clock.Now})
		t.Cleanup(func() { m.Close() })
		ms = append(ms, m)
	}
	return e, ms
}

// storm has workers goroutines on each manager sign a request with the
// token and send it to the sandbox API, all at once; it returns how many
// failed, and the first errors.
func storm(e *env, ms []*Manager, workers int) (int32, []error) {
	var wg sync.WaitGroup
	var failed atomic.Int32
	var mu sync.Mutex
	var errs []error
	start := make(chan struct{})
	for _, m := range ms {
		for range workers {
			wg.Go(func() {
				<-start
				if err := signAndGet(m, e.srv.APIURL()+"/me"); err != nil {
					failed.Add(1)
					mu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	return failed.Load(), errs
}

func signAndGet(m *Manager, url string) error {
	req, _ := http.NewRequest("GET", url, nil)
	if err := m.Sign(context.Background(), "api", req); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("API status %d", resp.StatusCode)
	}
	return nil
}

// Three nodes (token managers on three connections to a 3-member etcd),
// 50 goroutines each, hit an expired token at once, over several expiries:
// each expiry costs exactly one token-endpoint call, every request
// succeeds, and no refresh token is presented twice. Then again with the
// cluster's leader stopped while the refresh is at the provider: the lock
// waiters and the fenced write ride out the election.
func TestEtcdNodesShareOneRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("3-member cluster: skipped with -short")
	}
	c := etcdtest.Start(t, etcdtest.Options{Members: 3})
	e, ms := etcdNodes(t, c, 3, envOpts{})
	e.authorize(t, "api")
	const workers, rounds = 50, 3
	for round := 1; round <= rounds+1; round++ {
		if round == rounds+1 {
			var once sync.Once
			e.srv.SetTokenFault(func(http.ResponseWriter, *http.Request) bool {
				once.Do(func() { c.Stop(c.Leader()) })
				return false
			})
		}
		e.clock.Add(2 * time.Hour)
		failed, errs := storm(e, ms, workers)
		st := e.srv.Stats()
		if failed != 0 || st.RefreshRequests != round || st.RefreshTokenReuse != 0 {
			t.Fatalf("round %d: %d of %d requests failed (first: %v); %d refresh requests (want %d), %d refresh tokens reused (want 0)",
				round, failed, workers*len(ms), errs, st.RefreshRequests, round, st.RefreshTokenReuse)
		}
	}
}

// The lease behind the token's lock ends while the token endpoint call is
// in flight (a stalled node): the answer is stored all the same, since the
// token is as the flight read it (the fence holds), and the loss is
// reported.
func TestEtcdLockLostDuringRefresh(t *testing.T) {
	c := etcdtest.New(t)
	target := c.Target(t)
	var rec recorder
	e := newEnv(t, envOpts{onEvent: rec.add, db: openEtcdStore(t, target, etcdkv.Config{LockTTL: 3 * time.Second}, true)})
	e.authorize(t, "api")
	first := e.token(t, "api")
	raw, err := etcdkv.Open(context.Background(), etcdkv.Config{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var held store.Lock
	e.m.lockHook = func(l store.Lock) { held = l }
	e.m.hook = func(step string) {
		if step != "sending" {
			return
		}
		// Revoked as its expiry would end it; then wait until the
		// holder knows (at its next keep-alive).
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		kvs, _, err := raw.List(ctx, "locks/token-api/")
		if err != nil || len(kvs) != 1 {
			t.Errorf("the lock's key: %v, %v", kvs, err)
			return
		}
		if err := raw.Revoke(ctx, kvs[0].Lease); err != nil {
			t.Error(err)
			return
		}
		select {
		case <-held.Lost():
		case <-ctx.Done():
			t.Error("Lost not closed after the lease was revoked")
		}
	}
	rec.take()
	e.clock.Add(2 * time.Hour)
	if status := e.call(t, "api", "/me"); status != 200 {
		t.Fatalf("API status %d after a refresh under a lost lock", status)
	}
	tok := e.token(t, "api")
	if tok.Secret.RefreshToken == first.Secret.RefreshToken || !tok.LastRefreshed.Equal(e.clock.Now().UTC()) {
		t.Error("the rotated token set was not stored after the lock was lost")
	}
	kinds, _ := rec.take()
	if fmt.Sprint(kinds) != fmt.Sprint([]EventKind{EventLockLost, EventRefreshed}) {
		t.Errorf("events %v, want [%s %s]", kinds, EventLockLost, EventRefreshed)
	}
	if st := e.srv.Stats(); st.RefreshRequests != 1 || st.RefreshTokenReuse != 0 {
		t.Errorf("refresh requests %d (want 1), reused %d (want 0)", st.RefreshRequests, st.RefreshTokenReuse)
	}
}
