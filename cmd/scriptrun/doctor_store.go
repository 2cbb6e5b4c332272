package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
)

// doctorStore opens the store and reports which one is in use and its
// health: a bbolt file's mode and consistency check, or an etcd cluster's
// members. db is nil when the store could not be opened.
func (a *app) doctorStore(ctx context.Context) (*store.DB, []finding) {
	var fs []finding
	// Findings about the file keep the subject "database"; the line that
	// names the store in use is "store".
	add := func(level, subject, what, fix string) { fs = append(fs, finding{level, subject, what, fix}) }
	loc, err := a.storeLocation()
	if err != nil {
		add("fail", "store", err.Error(), "")
		return nil, fs
	}
	if !store.IsURL(loc) {
		if info, err := os.Stat(loc); err == nil && info.Mode().Perm()&0o022 != 0 {
			add("fail", "database", fmt.Sprintf("%s has mode %04o: other users can change it (a changed record is refused, but they can damage or replace the file)", loc, info.Mode().Perm()), "chmod 600 "+loc)
		}
	}
	db, _, err := a.open()
	if err != nil {
		add("fail", "store", err.Error(), "")
		return nil, fs
	}
	if db.Clustered() {
		return db, append(fs, a.checkCluster(ctx, loc)...)
	}
	if err := db.Check(); err != nil {
		add("fail", "database", err.Error(), "move it aside and restore a backup")
		return db, fs
	}
	size := ""
	if st, err := os.Stat(db.Path()); err == nil {
		size = fmt.Sprintf(", %d KiB", st.Size()>>10)
	}
	add("ok", "store", "bbolt file "+db.Path()+" passes bbolt's consistency check"+size, "")
	return db, fs
}

// checkCluster asks each member of the store's etcd cluster for its status
// (bbolt's file check has no etcd counterpart: the members check their own
// data).
func (a *app) checkCluster(ctx context.Context, loc string) []finding {
	target, err := etcdurl.Parse(loc)
	if err != nil {
		return []finding{{"fail", "store", err.Error(), ""}}
	}
	cfg, err := a.etcdConfig()
	if err != nil {
		return []finding{{"fail", "store", err.Error(), ""}}
	}
	cfg.Target = target
	c, err := etcdkv.Open(ctx, cfg)
	if err != nil {
		return []finding{{"fail", "store", fmt.Sprintf("%s: %v", target, err), ""}}
	}
	defer c.Close()
	var down []string
	leader, version := uint64(0), ""
	for _, ep := range target.Endpoints {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st, err := c.Status(sctx, ep)
		cancel()
		if err != nil {
			down = append(down, ep)
			continue
		}
		leader, version = st.Leader, st.Version
	}
	n, up := len(target.Endpoints), len(target.Endpoints)-len(down)
	what := fmt.Sprintf("%s (%d endpoint%s, cluster reachable, etcd %s, leader %x)", target, n, plural(n), version, leader)
	switch {
	case up == 0:
		// Open's read went through, but no member answers a status
		// request (an etcd user without the rights, or a proxy).
		return []finding{{"warn", "store", fmt.Sprintf("%s (%d endpoint%s, cluster reachable; no member answered a status request)", target, n, plural(n)), ""}}
	case len(down) > 0:
		return []finding{{"warn", "store", fmt.Sprintf("%s: %d of %d endpoints answer; no answer from %s", what, up, n, strings.Join(down, ", ")),
			"check those members (etcdctl endpoint health); the cluster works while a majority is up"}}
	}
	return []finding{{"ok", "store", what, ""}}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
