package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Several serve nodes on one etcd store (README "Running several nodes"):
// each registers itself as a node on a lease, schedules every job (a
// claim in the store lets one node run each due time), and hears of other
// nodes' token and job changes by watch.

// defaultNodeTTL is a node's lease: a node that dies is noticed, and its
// running runs recorded lost, this long after its last keep-alive. It
// matches the lease of the job run locks (etcdkv.DefaultLockTTL), so that
// the next run of a job can start about when the lost one is recorded.
const defaultNodeTTL = 10 * time.Second

// clusterConfig is serve's --node-name and --node-ttl.
type clusterConfig struct {
	name string
	ttl  time.Duration
}

func addClusterFlags(c *cobra.Command, cfg *clusterConfig) {
	c.Flags().StringVar(&cfg.name, "node-name", "", "this serve's name among the nodes sharing an etcd store (default HOSTNAME-PID); unique among live nodes")
	c.Flags().DurationVar(&cfg.ttl, "node-ttl", defaultNodeTTL, "on an etcd store, how long after this serve dies its running jobs are recorded lost (2s to 5m)")
}

// errNodeLost ends a serve whose registration ended under it.
var errNodeLost = errors.New("this serve lost its registration in the cluster (etcd was unreachable for longer than --node-ttl): other nodes may record its running jobs as lost; restart it")

// joinCluster registers serve as a node when db is an etcd store (nil
// otherwise), and hands token and provider changes heard by watch to m.
// The context it returns ends when the registration is lost; leave ends
// the registration.
func joinCluster(ctx context.Context, db *store.DB, m *tokens.Manager, cfg clusterConfig, log *slog.Logger) (*store.Node, context.Context, func(), error) {
	if !db.Clustered() {
		return nil, ctx, func() {}, nil
	}
	if cfg.ttl < 2*time.Second || cfg.ttl > 5*time.Minute {
		return nil, ctx, nil, usageErr("--node-ttl %s is not valid: give 2s to 5m, e.g. --node-ttl 10s", cfg.ttl)
	}
	name := cfg.name
	if name == "" {
		name = defaultNodeName()
	}
	host, _ := os.Hostname()
	node, err := db.RegisterNode(ctx, store.NodeInfo{Name: name, Host: host, PID: os.Getpid()}, cfg.ttl)
	if err != nil {
		return nil, ctx, nil, storeErr(err)
	}
	wctx, cancel := context.WithCancelCause(ctx)
	for _, kind := range []string{store.ChangeTokens, store.ChangeProviders} {
		invalidate := m.Invalidate
		if kind == store.ChangeProviders {
			invalidate = func(string) { m.Invalidate("") } // every token of it
		}
		if err := db.Watch(wctx, kind, invalidate); err != nil {
			log.Warn("cluster: cannot watch token changes; other nodes' changes are seen within the token cache's 2 s", "err", err)
		}
	}
	go func() {
		select {
		case <-node.Lost():
			log.Error("cluster: " + errNodeLost.Error())
			cancel(errNodeLost)
		case <-wctx.Done():
		}
	}()
	log.Info("cluster: joined as a node", "node", name, "store", db.Path(), "ttl", cfg.ttl)
	leave := func() {
		cancel(nil)
		if err := node.Close(); err != nil {
			log.Warn("cluster: leaving", "err", err)
		}
	}
	return node, wctx, leave, nil
}

// nodeExit is serve's error when it stopped because its node was lost.
func nodeExit(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errNodeLost) {
		return failErr(errNodeLost)
	}
	return nil
}

// defaultNodeName is HOSTNAME-PID, made a valid name.
func defaultNodeName() string {
	host, _ := os.Hostname()
	return nodeName(host, os.Getpid())
}

// nodeName makes a valid node name of a host name and a pid: characters a
// name may not have become '-', and the host part is cut to 50.
func nodeName(host string, pid int) string {
	host = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, host)
	if len(host) > 50 {
		host = host[:50]
	}
	if host = strings.Trim(host, "."); host == "" {
		host = "node"
	}
	return fmt.Sprintf("%s-%d", host, pid)
}

// runBy names serve in run records: with its node among several.
func runBy(node *store.Node) string {
	if node == nil {
		return fmt.Sprintf("serve (pid %d)", os.Getpid())
	}
	return fmt.Sprintf("serve on node %s (pid %d)", node.Info.Name, os.Getpid())
}
