// Package etcdtest runs real etcd servers for tests: embedded members
// (go.etcd.io/etcd/server/v3/embed) in a temp dir on loopback, one or three
// of them, or an external cluster named by $SCRIPTRUN_ETCD_ENDPOINTS (such
// as Debian's etcd 3.4, to check compatibility).
//
// Only test binaries import this package, so the etcd server is never linked
// into scriptrun itself.
package etcdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// EnvEndpoints names an external cluster ("host:port,host:port") to run the
// tests against instead of an embedded one.
const EnvEndpoints = "SCRIPTRUN_ETCD_ENDPOINTS"

// Options tune a cluster. The zero value is a single member with fsync off.
type Options struct {
	// Members is the number of embedded members (default 1).
	Members int
	// Fsync makes members sync their log as a production etcd does (for
	// benchmarks); tests leave it off for speed.
	Fsync bool
	// MaxRequestBytes is the members' --max-request-bytes (default etcd's).
	MaxRequestBytes uint
	// Configure, if set, adjusts each member's config before it starts
	// (TLS, auth).
	Configure func(i int, cfg *embed.Config)
}

// Cluster is a running cluster.
type Cluster struct {
	// Members are the embedded members; nil for an external cluster.
	Members  []*embed.Etcd
	external []string
	stopped  []bool
	mu       sync.Mutex
	closing  sync.WaitGroup // members' Close in progress
	proxies  []*proxy       // in front of each member's client port (several members only)
	// Scheme is "http" or, once Configure set client TLS, "https".
	Scheme string
}

// Start starts an embedded cluster and stops it when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	n := opts.Members
	if n <= 0 {
		n = 1
	}
	type ports struct{ client, peer url.URL }
	ps := make([]ports, n)
	var initial []string
	urls := freeURLs(t, 2*n)
	for i := range ps {
		ps[i] = ports{client: urls[2*i], peer: urls[2*i+1]}
		initial = append(initial, fmt.Sprintf("m%d=%s", i, ps[i].peer.String()))
	}
	c := &Cluster{stopped: make([]bool, n), Scheme: "http"}
	cfgs := make([]*embed.Config, n)
	for i := range ps {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = t.TempDir()
		cfg.ListenClientUrls = []url.URL{ps[i].client}
		cfg.AdvertiseClientUrls = []url.URL{ps[i].client}
		cfg.ListenPeerUrls = []url.URL{ps[i].peer}
		cfg.AdvertisePeerUrls = []url.URL{ps[i].peer}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "scriptrun-test"
		// The members' own log (errors as they shut down, mostly) is
		// noise here; tests check outcomes through the client.
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.UnsafeNoFsync = !opts.Fsync
		// Shorter ticks than the 100 ms default elect a leader sooner;
		// not so short that a busy 2-core CI machine misses heartbeats.
		cfg.TickMs = 50
		cfg.ElectionMs = 500
		if opts.MaxRequestBytes > 0 {
			cfg.MaxRequestBytes = opts.MaxRequestBytes
		}
		if opts.Configure != nil {
			opts.Configure(i, cfg)
			if !cfg.ClientTLSInfo.Empty() {
				c.Scheme = "https"
				for j := range cfg.ListenClientUrls {
					cfg.ListenClientUrls[j].Scheme = "https"
				}
				for j := range cfg.AdvertiseClientUrls {
					cfg.AdvertiseClientUrls[j].Scheme = "https"
				}
			}
		}
		cfgs[i] = cfg
	}
	// Members of a new cluster wait for each other: start them together.
	var wg sync.WaitGroup
	errs := make([]error, n)
	c.Members = make([]*embed.Etcd, n)
	for i := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Members[i], errs[i] = embed.StartEtcd(cfgs[i])
		}()
	}
	wg.Wait()
	t.Cleanup(c.stopAll)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("etcdtest: start member %d: %v", i, err)
		}
	}
	if n > 1 {
		for _, m := range c.Members {
			c.proxies = append(c.proxies, newProxy(t, m.Config().AdvertiseClientUrls[0].Host))
		}
	}
	deadline := time.After(30 * time.Second)
	for i, m := range c.Members {
		select {
		case <-m.Server.ReadyNotify():
		case err := <-m.Err():
			t.Fatalf("etcdtest: member %d failed: %v", i, err)
		case <-deadline:
			t.Fatalf("etcdtest: member %d not ready within 30 s", i)
		}
	}
	return c
}

// New gives the external cluster of $SCRIPTRUN_ETCD_ENDPOINTS if set, or
// else starts an embedded single member.
func New(t testing.TB) *Cluster {
	t.Helper()
	if eps := os.Getenv(EnvEndpoints); eps != "" {
		return &Cluster{external: strings.Split(eps, ","), Scheme: "http"}
	}
	return Start(t, Options{})
}

// External reports whether the cluster is one this package did not start.
func (c *Cluster) External() bool { return c.external != nil }

// freeURLs picks n distinct free loopback ports. Their listeners stay open
// until all are picked: a port closed at once may be handed out again by
// the next pick (a 3-member cluster got "duplicate url" that way).
func freeURLs(t testing.TB, n int) []url.URL {
	t.Helper()
	out := make([]url.URL, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("etcdtest: pick a port: %v", err)
		}
		defer l.Close()
		out[i] = url.URL{Scheme: "http", Host: l.Addr().String()}
	}
	return out
}

// Endpoints are the client addresses ("host:port") of the running members.
func (c *Cluster) Endpoints() []string {
	if c.external != nil {
		return c.external
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var eps []string
	for i := range c.Members {
		if !c.stopped[i] {
			eps = append(eps, c.endpoint(i))
		}
	}
	return eps
}

// endpoint is where clients reach member i: its proxy, if it has one.
func (c *Cluster) endpoint(i int) string {
	if c.proxies != nil {
		return c.proxies[i].addr()
	}
	return c.Members[i].Config().AdvertiseClientUrls[0].Host
}

// AllEndpoints are the client addresses of every member, stopped or not.
func (c *Cluster) AllEndpoints() []string {
	if c.external != nil {
		return c.external
	}
	var eps []string
	for i := range c.Members {
		eps = append(eps, c.endpoint(i))
	}
	return eps
}

// Leader is the index of the member that leads now (-1: none known).
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.Members {
		if !c.stopped[i] && m.Server.Leader() == m.Server.MemberID() {
			return i
		}
	}
	return -1
}

// Stop stops member i at once, as a crash would (it stays stopped): its
// raft node halts without handing on leadership and, on a cluster of
// several members, every client connection to it is cut. (A graceful Close
// alone keeps serving open streams for the request timeout, about 7 s.)
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped[i] {
		return
	}
	c.stopped[i] = true
	m := c.Members[i]
	if c.proxies != nil {
		c.proxies[i].cut()
	}
	m.Server.HardStop()
	c.closing.Add(1)
	go func() { defer c.closing.Done(); m.Close() }()
}

func (c *Cluster) stopAll() {
	for i := range c.Members {
		if c.Members[i] != nil {
			c.Stop(i)
		}
	}
	c.closing.Wait()
}

// Target is a target on every member under a prefix of its own, so tests
// sharing a cluster (an external one especially) do not see each other's
// keys.
func (c *Cluster) Target(t testing.TB) etcdurl.Target {
	var b [6]byte
	rand.Read(b[:])
	return etcdurl.Target{Endpoints: c.AllEndpoints(), Prefix: "/scriptrun-test/" + hex.EncodeToString(b[:]) + "/"}
}

// Open connects a client to the cluster under a fresh prefix, closed (and,
// on an external cluster, its keys deleted) when the test ends. cfg's Target
// is filled in.
func (c *Cluster) Open(t testing.TB, cfg etcdkv.Config) *etcdkv.Client {
	t.Helper()
	if len(cfg.Target.Endpoints) == 0 {
		cfg.Target = c.Target(t)
	}
	cli, err := etcdkv.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(func() {
		if c.External() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cli.Commit(ctx, nil, []etcdkv.Op{etcdkv.OpDeletePrefix("")})
		}
		cli.Close()
	})
	return cli
}

// Raw is an etcd client (etcd's own, over gRPC) on cli's endpoints, closed
// when the test ends, for what etcdkv does not wrap: users and roles,
// revoking a lease behind a client's back, listing leases. Keys given to it
// are not prefixed.
func Raw(t testing.TB, cli *etcdkv.Client) *clientv3.Client {
	t.Helper()
	raw, err := clientv3.New(clientv3.Config{Endpoints: cli.Target().Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcdtest: raw client: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// EnableAuth turns authentication on through raw, a client of the cluster
// without credentials: it adds the user root (role root) with rootPassword,
// then each of users (name to password, no role), then enables auth.
func EnableAuth(t testing.TB, raw *clientv3.Client, rootPassword string, users map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	steps := []func() error{
		func() error { _, err := raw.UserAdd(ctx, "root", rootPassword); return err },
		func() error { _, err := raw.UserGrantRole(ctx, "root", "root"); return err },
	}
	for name, password := range users {
		steps = append(steps, func() error { _, err := raw.UserAdd(ctx, name, password); return err })
	}
	steps = append(steps, func() error { _, err := raw.AuthEnable(ctx); return err })
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("etcdtest: auth setup step %d: %v", i, err)
		}
	}
}
