package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
)

func newStoreCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "store",
		Short: "Create a store, or move one between a bbolt file and an etcd cluster",
		Long: `The store holds providers, tokens, jobs and runs: the home's scriptrun.db by
default, or the one --store (or $SCRIPTRUN_STORE) names, an etcd cluster
(etcd://HOST:PORT[,HOST:PORT...][/PREFIX], default prefix /scriptrun/) that
several nodes share, or another bbolt file. The master key is never in the
store: every node needs the same master.key in its home, or
SCRIPTRUN_MASTER_KEY. TLS to etcd: --etcd-ca, --etcd-cert, --etcd-key; a
user: $SCRIPTRUN_ETCD_USERNAME and $SCRIPTRUN_ETCD_PASSWORD.`,
		Example: "  scriptrun store init --store etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/scriptrun/\n  scriptrun store migrate --to etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379",
	}
	c.AddCommand(storeInitCmd(a), storeMigrateCmd(a))
	return c
}

func storeInitCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "init [--store URL|FILE]",
		Short: "Create an empty store where --store says (refused where one exists)",
		Long: `Creates an empty store at --store (else $SCRIPTRUN_STORE, else the home's
scriptrun.db), sealed with this node's master key: SCRIPTRUN_MASTER_KEY, else
the home's master.key, created now if there is none. Copy that key to every
node that will use the store. A location that already holds a store is
refused and left as it is; to copy an existing home there, use
scriptrun store migrate --to instead.`,
		Example: "  scriptrun store init --store etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/team-a/",
		Args:    noArgs,
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		loc, err := a.storeLocation()
		if err != nil {
			return err
		}
		if err := a.refuseExisting(ctx, loc); err != nil {
			return err
		}
		created, err := a.keyWillBeCreated()
		if err != nil {
			return err
		}
		db, err := a.openStoreAt(ctx, loc, true)
		if err != nil {
			return err
		}
		a.db = db // closed on exit
		fmt.Fprintf(a.stdio.Out, "created an empty store at %s\n", loc)
		a.printKeyAdvice(created)
		fmt.Fprintf(a.stdio.Out, "use it with --store %s on every command, or set %s=%s\n", shellQuote(loc), envStore, shellQuote(loc))
		return nil
	}
	return c
}

// refuseExisting fails when loc already holds a store. An etcd prefix is
// probed with this node's key if it has one, else with a throwaway one:
// only "is there a store" is asked, and no key is created for a store that
// init will not make.
func (a *app) refuseExisting(ctx context.Context, loc string) error {
	if !store.IsURL(loc) {
		if info, err := os.Stat(loc); err == nil && info.Size() > 0 {
			return configErr("%s already exists: store init makes a new store only; use it as it is, or move it aside first", loc)
		}
		return nil
	}
	cfg, err := a.etcdConfig()
	if err != nil {
		return err
	}
	probe, err := a.probeKey()
	if err != nil {
		return err
	}
	defer clear(probe)
	db, err := store.OpenURL(ctx, loc, probe, store.Options{Etcd: cfg})
	switch {
	case err == nil:
		db.Close()
		return configErr("a scriptrun store already exists at %s; nothing was changed (use it as it is, or copy a home over it with scriptrun store migrate --to %s --force)", loc, loc)
	case errors.Is(err, store.ErrNoStore):
		return nil
	case errors.Is(err, store.ErrWrongKey):
		return configErr("a scriptrun store already exists at %s (sealed with a master key this node does not have); nothing was changed: to use it, copy its master.key here", loc)
	}
	return storeErr(err)
}

// probeKey is this node's master key when it has one (without creating
// it), else a random key that opens nothing.
func (a *app) probeKey() ([]byte, error) {
	created, err := a.keyWillBeCreated()
	if err != nil {
		return nil, err
	}
	if created {
		probe := make([]byte, store.KeySize)
		rand.Read(probe)
		return probe, nil
	}
	home, err := a.homeDir()
	if err != nil {
		return nil, err
	}
	return a.storeKey(home, "", true) // the key exists: nothing is created
}

// keyWillBeCreated reports whether opening a store now generates the home's
// master.key (none there, and no SCRIPTRUN_MASTER_KEY).
func (a *app) keyWillBeCreated() (bool, error) {
	if a.getenv("SCRIPTRUN_MASTER_KEY") != "" {
		return false, nil
	}
	home, err := a.homeDir()
	if err != nil {
		return false, err
	}
	_, err = os.Stat(filepath.Join(home, "master.key"))
	return errors.Is(err, os.ErrNotExist), nil
}

// printKeyAdvice says where the store's master key is and that every node
// needs it.
func (a *app) printKeyAdvice(created bool) {
	home, _ := a.homeDir()
	path := filepath.Join(home, "master.key")
	switch {
	case a.getenv("SCRIPTRUN_MASTER_KEY") != "":
		fmt.Fprintln(a.stdio.Out, "master key: from SCRIPTRUN_MASTER_KEY; every node that uses this store needs the same")
	case created:
		fmt.Fprintf(a.stdio.Out, "master key: created %s; copy it (mode 0600) to every node that uses this store, or give them SCRIPTRUN_MASTER_KEY, and back it up: without it nothing in the store can be read\n", path)
	default:
		fmt.Fprintf(a.stdio.Out, "master key: %s; every node that uses this store needs a copy of it (mode 0600) or SCRIPTRUN_MASTER_KEY\n", path)
	}
}

func storeMigrateCmd(a *app) *cobra.Command {
	var to string
	var force bool
	c := &cobra.Command{
		Use:   "migrate --to URL|FILE [--force]",
		Short: "Copy the whole store to an etcd cluster or a bbolt file, and verify the copy",
		Long: `Copies every record of the current store (the home's scriptrun.db, or --store)
to --to: an etcd:// URL, or a bbolt file path to move back. Records are
copied as stored: secrets stay sealed (nothing is decrypted on the way) and
the home's id travels with them, so the copy opens with the same master
key, which both stores use. The copy is then read back record by record and
each one authenticated. Console sign-ins and pending authorizations are not
copied (sign in again); run output too large for the cluster's request
limit is named and left out.

A target that already holds records is refused; --force deletes everything
under it first. A target sealed with another master key is always refused.
Stop the processes that use the current store first: what they write during
the copy is not in it (the command says so if it happens).`,
		Example: "  scriptrun store migrate --to etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379\n  scriptrun --store etcd://10.0.0.1:2379 store migrate --to ~/.scriptrun/scriptrun.db --force",
		Args:    noArgs,
	}
	c.Flags().StringVar(&to, "to", "", "where to copy the store: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] or a bbolt file")
	c.Flags().BoolVar(&force, "force", false, "delete whatever the target holds before copying")
	c.RunE = func(c *cobra.Command, args []string) error {
		if to == "" {
			return usageErr("store migrate needs --to, e.g. --to etcd://10.0.0.1:2379,10.0.0.2:2379/scriptrun/")
		}
		ctx, stop := context.WithTimeout(context.Background(), 30*time.Minute)
		defer stop()
		return a.migrateStore(ctx, to, force)
	}
	return c
}

// migrateStore copies the current store to target (see store migrate).
func (a *app) migrateStore(ctx context.Context, target string, force bool) error {
	from, err := a.storeLocation()
	if err != nil {
		return err
	}
	to, err := checkLocation(target, "--to")
	if err != nil {
		return err
	}
	if from == to {
		return usageErr("--to %s is the store in use: give another location", to)
	}
	if flag := a.storeFlags.etcdFlagsGiven(); flag != "" && !store.IsURL(from) && !store.IsURL(to) {
		return usageErr("%s applies to an etcd:// store, and neither %s nor %s is one", flag, from, to)
	}
	if !store.IsURL(from) {
		if info, err := os.Stat(from); err != nil || info.Size() == 0 {
			return configErr("there is no store at %s to copy: the current store is --store, else $%s, else the home's scriptrun.db", from, envStore)
		}
	}
	src, err := a.openStoreAt(ctx, from, false)
	if err != nil {
		return err
	}
	a.db = src // closed on exit
	dst, err := a.openStoreAt(ctx, to, true)
	if errors.Is(err, store.ErrWrongKey) {
		return keyErr("%s holds a store sealed with another master key than %s: migrate never copies over it, even with --force (nobody with this key could read what is there); point --to elsewhere, or delete that store first if it is no longer needed", to, from)
	}
	if err != nil {
		return err
	}
	defer dst.Close()
	cfg, _ := a.etcdConfig()
	start := time.Now()
	rep, err := store.Migrate(ctx, src, dst, store.MigrateOptions{Force: force, MaxRequestBytes: cfg.MaxRequestBytes})
	if err != nil {
		return migrateErr(err)
	}
	a.printMigration(rep, time.Since(start))
	return nil
}

// migrateErr gives a failed migration its exit code.
func migrateErr(err error) error {
	if errors.Is(err, store.ErrNotEmpty) {
		return configErr("%v", err)
	}
	if se := storeExit(err); se != nil {
		return se
	}
	return failErr(err)
}

// spaceNames are the store's key spaces in words, for the report.
var spaceNames = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"providers": "providers", "tokens": "tokens", "cronjobs": "jobs", "cronruns": "runs", "cronoutput": "run outputs",
		"cronrequests": "run requests", "admin": "admin password", "meta": "key check and schema", "seq": "id counters",
	}
}}

func (a *app) printMigration(rep store.MigrateReport, took time.Duration) {
	out := a.stdio.Out
	var parts []string
	for _, space := range slices.Sorted(maps.Keys(rep.Copied)) {
		name := spaceNames.Get()[space]
		if name == "" {
			name = space
		}
		parts = append(parts, fmt.Sprintf("%d %s", rep.Copied[space], name))
	}
	if rep.Wiped > 0 {
		fmt.Fprintf(out, "--force: deleted the %d keys %s held\n", rep.Wiped, rep.To)
	}
	fmt.Fprintf(out, "copied %d keys (%s; %s) from %s to %s in %d transactions, %s\n",
		rep.Total(), strings.Join(parts, ", "), store.FormatBytes(rep.Bytes), rep.From, rep.To, rep.Batches, took.Round(time.Millisecond))
	for _, s := range rep.Skipped {
		fmt.Fprintf(a.stdio.Err, "warning: not copied: %s (%s), over the %s the target accepts in one request\n", s.What(), store.FormatBytes(int64(s.Size)), store.FormatBytes(int64(s.Limit)))
	}
	fmt.Fprintf(out, "verified: %d records read back from %s, each authenticated with the master key\n", rep.Verified, rep.To)
	if rep.SourceChanged > 0 {
		fmt.Fprintf(a.stdio.Err, "warning: %d keys of %s changed during the copy (a process still uses it), so the copy misses those changes: stop it, then run again with --force\n", rep.SourceChanged, rep.From)
	}
	fmt.Fprint(out, a.hint(fmt.Sprintf("next: point every node at it (scriptrun --store %s ..., or %s=%s); each needs the same master key\n", shellQuote(rep.To), envStore, shellQuote(rep.To))))
}
