package etcdkv_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestWatchCompacted: a watch from a revision the cluster has compacted
// away ends with ErrCompacted, rather than skipping the lost history.
func TestWatchCompacted(t *testing.T) {
	c := etcdtest.New(t)
	cli := c.Open(t, etcdkv.Config{})
	ctx := ctxT(t)
	first, err := cli.Put(ctx, "jobs/a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	last, err := cli.Put(ctx, "jobs/a", []byte("2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := etcdtest.Raw(t, cli).Compact(ctx, last); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-cli.Watch(ctx, "jobs/", first-1):
		if !errors.Is(e.Err, etcdkv.ErrCompacted) {
			t.Fatalf("watch from a compacted revision: %+v, want ErrCompacted", e)
		}
		t.Logf("%v", e.Err)
	case <-ctx.Done():
		t.Fatal("no event from a watch of a compacted revision")
	}
}

// TestReauthenticate: when the cluster forgets the client's token (auth
// turned off and on again drops every simple token, as its expiry does),
// the next call authenticates again and succeeds.
func TestReauthenticate(t *testing.T) {
	if testing.Short() {
		t.Skip("enables auth on a cluster of its own: skipped with -short")
	}
	c := etcdtest.Start(t, etcdtest.Options{})
	raw := etcdtest.Raw(t, c.Open(t, etcdkv.Config{}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	etcdtest.EnableAuth(t, raw, "root-pw", nil)
	cli, err := etcdkv.Open(ctx, etcdkv.Config{Target: etcdurl.Target{Endpoints: c.Endpoints(), Prefix: "/re/"},
		Username: "root", Password: "root-pw", DialTimeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "k", []byte("1")); err != nil {
		t.Fatal(err)
	}
	// An admin client of etcd's own turns auth off and on: the server
	// drops every token it had issued.
	admin, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), Username: "root", Password: "root-pw", DialTimeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.AuthDisable(ctx); err != nil {
		t.Fatalf("auth disable: %v", err)
	}
	if _, err := admin.AuthEnable(ctx); err != nil {
		t.Fatalf("auth enable: %v", err)
	}
	if _, err := cli.Put(ctx, "k", []byte("2")); err != nil {
		t.Fatalf("put after the token was dropped: %v", err)
	}
	if kv, err := cli.Get(ctx, "k"); err != nil || string(kv.Value) != "2" {
		t.Fatalf("get after re-authenticating: %+v, %v", kv, err)
	}
}

// TestWatchHungMember: a member that hangs with the watch's connection
// open (it took the watch, then answers nothing, not even a status
// request) is left for the next one, where the watch resumes from the
// revision it asked for: a change made meanwhile is delivered.
func TestWatchHungMember(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the watch heartbeat (about 8 s): skipped with -short")
	}
	t.Parallel()
	c := etcdtest.New(t)
	real := c.Endpoints()[0]
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: real})
	stop := make(chan struct{})
	hang := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v3/watch":
			fmt.Fprintln(w, `{"result":{"header":{"revision":"1"},"created":true}}`)
			w.(http.Flusher).Flush()
			hang(r)
		case "/v3/maintenance/status":
			hang(r)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() { close(stop); hung.Close() })
	target := c.Target(t)
	target.Endpoints = []string{strings.TrimPrefix(hung.URL, "http://"), real}
	cli, err := etcdkv.Open(context.Background(), etcdkv.Config{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := ctxT(t)
	rev, err := cli.Put(ctx, "jobs/a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	events := cli.Watch(ctx, "jobs/", rev)
	if _, err := cli.Put(ctx, "jobs/b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Err != nil || e.Key != "jobs/b" {
			t.Fatalf("event %+v, want jobs/b", e)
		}
	case <-ctx.Done():
		t.Fatal("the watch stayed on the hung member")
	}
}

// TestPasswordStaysWithTheEndpoint: whatever answers at an endpoint, the
// password sent to /v3/auth/authenticate goes nowhere else and is never
// quoted back in an error: a redirect is not followed (a 307 would send the
// body again), and an answer that is not etcd's is not quoted.
func TestPasswordStaysWithTheEndpoint(t *testing.T) {
	const password = "pw-must-not-travel"
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"a redirect elsewhere", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}},
		{"an echo of the request", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusBadRequest)
			w.Write(b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cli, err := etcdkv.Open(ctx, etcdkv.Config{Target: etcdurl.Target{Endpoints: []string{srv.URL}, Prefix: "/p/"},
				Username: "root", Password: password, DialTimeout: 2 * time.Second})
			if err == nil {
				_, err = cli.Put(ctx, "k", []byte("v"))
				cli.Close()
			}
			if err == nil {
				t.Fatal("no error from a server that is not etcd")
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("the error quotes the password: %v", err)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Fatalf("%d requests reached the redirect's target", n)
			}
		})
	}
}
