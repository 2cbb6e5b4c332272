package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"github.com/scriptrun/scriptrun/tokens"
)

// TestNodeName: whatever the host name, the default node name is a valid
// name ending in the pid.
func TestNodeName(t *testing.T) {
	tests := []struct {
		host string
		want string
	}{
		{"web-1.example.com", "web-1.example.com-42"},
		{"", "node-42"},
		{"...", "node-42"},
		{"höst name", "h-st-name-42"},
		{strings.Repeat("a", 80), strings.Repeat("a", 50) + "-42"},
	}
	for _, tt := range tests {
		got := nodeName(tt.host, 42)
		if got != tt.want {
			t.Errorf("nodeName(%q) = %q, want %q", tt.host, got, tt.want)
		}
		if err := store.ValidateName("node", got); err != nil {
			t.Errorf("nodeName(%q) = %q: %v", tt.host, got, err)
		}
	}
	if err := store.ValidateName("node", defaultNodeName()); err != nil {
		t.Errorf("defaultNodeName(): %v", err)
	}
}

// TestJoinClusterInvalidatesTokens: a token changed on another host is
// signed with by this node's token manager within moments, by watch, even
// with a token cache of an hour; leaving ends the registration.
func TestJoinClusterInvalidatesTokens(t *testing.T) {
	c := etcdtest.New(t)
	url := "etcd://" + strings.Join(c.Endpoints(), ",") + "/join-cluster/"
	ctx := context.Background()
	key := bytes.Repeat([]byte{3}, store.KeySize)
	here, err := store.OpenURL(ctx, url, key, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	there, err := store.OpenURL(ctx, url, key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer there.Close()
	putToken := func(secret string) {
		t.Helper()
		err := there.Update(func(tx *store.Tx) error {
			return tx.PutToken(store.Token{Name: "static", Type: store.TypeBearer, Active: true, BaseURL: "https://api.example.com", State: store.StateAuthorized, Secret: store.Secret{AccessToken: secret}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	putToken("first-value")
	m := tokens.New(tokens.Options{DB: here, CacheTTL: time.Hour})
	defer m.Close()
	node, _, leave, err := joinCluster(ctx, here, m, clusterConfig{name: "here", ttl: 5 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	signed := func() string {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/me", nil)
		if err := m.Sign(ctx, "static", req); err != nil {
			t.Fatal(err)
		}
		return req.Header.Get("Authorization")
	}
	if got := signed(); got != "Bearer first-value" {
		t.Fatalf("signed with %q", got)
	}
	start := time.Now()
	putToken("second-value")
	waitFor(t, "the token changed elsewhere to be signed with", 10*time.Second, func() bool { return signed() == "Bearer second-value" })
	t.Logf("a token changed on another host was used after %s (cache TTL 1 h)", time.Since(start).Round(time.Millisecond))
	leave()
	<-node.Lost()
	if here.SchedulerRunning() {
		t.Error("the node is still registered after leaving")
	}
}
