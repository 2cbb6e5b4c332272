package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
)

// Choosing the store: --store, else $SCRIPTRUN_STORE, else the home's
// scriptrun.db. An etcd:// URL selects a cluster shared by several nodes;
// anything else is a bbolt file. The master key never lives in the store:
// it is the home's master.key or $SCRIPTRUN_MASTER_KEY on every node.

// Environment variables of the store, read here only.
const (
	envStore        = "SCRIPTRUN_STORE"
	envEtcdUser     = "SCRIPTRUN_ETCD_USERNAME"
	envEtcdPassword = "SCRIPTRUN_ETCD_PASSWORD"
)

// storeFlags are the global flags that choose and reach the store.
type storeFlags struct {
	url                       string // --store
	etcdCA, etcdCert, etcdKey string // --etcd-ca, --etcd-cert, --etcd-key
}

// addStoreFlags registers the store's global flags on fs.
func addStoreFlags(fs *pflag.FlagSet, f *storeFlags) {
	fs.StringVar(&f.url, "store", "", "the store: etcd://HOST:PORT[,HOST:PORT...][/PREFIX] for a cluster, or a bbolt file (default $SCRIPTRUN_STORE, else the home's scriptrun.db)")
	fs.StringVar(&f.etcdCA, "etcd-ca", "", "CA certificate (PEM) the etcd members' certificates are checked against; turns TLS on")
	fs.StringVar(&f.etcdCert, "etcd-cert", "", "client certificate (PEM) for etcd, with --etcd-key")
	fs.StringVar(&f.etcdKey, "etcd-key", "", "private key (PEM) of --etcd-cert")
}

// globalValueFlags are the root's flags that take a value, which the
// shorthand and run (which parses its own flags) must step over.
var globalValueFlags = []string{"--home", "--store", "--etcd-ca", "--etcd-cert", "--etcd-key"}

// storeLocation is where this invocation's store is: an etcd:// URL as
// given, or a bbolt file's absolute path.
func (a *app) storeLocation() (string, error) {
	loc, from := a.storeFlags.url, "--store"
	if loc == "" {
		loc, from = a.getenv(envStore), "$"+envStore
	}
	if loc == "" {
		home, err := a.homeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "scriptrun.db"), nil
	}
	return checkLocation(loc, from)
}

// checkLocation validates a store location given by from (a flag or a
// variable). The value is not repeated for a scheme scriptrun does not
// know: a URL may carry a password.
func checkLocation(loc, from string) (string, error) {
	if store.IsURL(loc) {
		if _, err := etcdurl.Parse(loc); err != nil {
			return "", usageErr("%s: %v", from, strings.TrimPrefix(err.Error(), "etcdurl: "))
		}
		return loc, nil
	}
	if scheme, _, ok := strings.Cut(loc, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		return "", usageErr("%s: a store is etcd://HOST:PORT[,HOST:PORT...][/PREFIX] or the path of a bbolt file, not a %s:// URL", from, scheme)
	}
	abs, err := filepath.Abs(loc)
	if err != nil {
		return "", usageErr("%s: %v", from, err)
	}
	return abs, nil
}

// etcdConfig is how to reach the cluster: TLS files from the flags, the
// user and password from the environment (never a flag, which ps shows).
func (a *app) etcdConfig() (etcdkv.Config, error) {
	f := a.storeFlags
	cfg := etcdkv.Config{CAFile: f.etcdCA, CertFile: f.etcdCert, KeyFile: f.etcdKey,
		Username: a.getenv(envEtcdUser), Password: a.getenv(envEtcdPassword)}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return cfg, usageErr("give --etcd-cert and --etcd-key together")
	}
	if cfg.Password != "" && cfg.Username == "" {
		return cfg, usageErr("$%s is set but $%s is not: etcd needs both", envEtcdPassword, envEtcdUser)
	}
	return cfg, nil
}

// etcdFlagsGiven names the first --etcd-* flag given, "" for none.
func (f storeFlags) etcdFlagsGiven() string {
	for _, g := range []struct{ name, v string }{{"--etcd-ca", f.etcdCA}, {"--etcd-cert", f.etcdCert}, {"--etcd-key", f.etcdKey}} {
		if g.v != "" {
			return g.name
		}
	}
	return ""
}

// openStore opens this invocation's store (see storeLocation) for an
// ordinary command, which never creates an etcd store or a key for one.
func (a *app) openStore(ctx context.Context) (*store.DB, error) {
	loc, err := a.storeLocation()
	if err != nil {
		return nil, err
	}
	if flag := a.storeFlags.etcdFlagsGiven(); flag != "" && !store.IsURL(loc) {
		return nil, usageErr("%s applies to an etcd:// store, and the store here is the file %s: set --store etcd://... or $%s", flag, loc, envStore)
	}
	return a.openStoreAt(ctx, loc, false)
}

// openStoreAt opens the store at loc with the master key. With create
// (store init, store migrate) an empty etcd prefix becomes a store and a
// missing master.key is generated for it; without it an etcd store is
// never opened with a key made up on the spot (storeKey).
func (a *app) openStoreAt(ctx context.Context, loc string, create bool) (*store.DB, error) {
	home, err := a.homeDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, configErr("create home %s: %v", home, err)
	}
	cfg, err := a.etcdConfig()
	if err != nil {
		return nil, err
	}
	key, err := a.storeKey(home, loc, create)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	db, err := store.OpenURL(ctx, loc, key, store.Options{Etcd: cfg, Create: create})
	if err != nil {
		return nil, storeErr(err) // damaged: exit 1; unreachable 3, wrong key 4, no store 5; the rest 2
	}
	return db, nil
}

// storeKey is $SCRIPTRUN_MASTER_KEY, else the home's master.key, generated
// on first use as the home's database is. For an etcd store it is generated
// only by store init and migrate (create): a node that lacks the key of a
// cluster's store must not make a new one, which could never open it (the
// classic "wrong key on node 2").
func (a *app) storeKey(home, loc string, create bool) ([]byte, error) {
	if env := a.getenv("SCRIPTRUN_MASTER_KEY"); env != "" {
		key, err := store.ParseKey(env)
		if err != nil {
			return nil, configErr("SCRIPTRUN_MASTER_KEY: %v", err)
		}
		return key, nil
	}
	path := filepath.Join(home, "master.key")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !create && store.IsURL(loc) {
		return nil, keyErr("no master key on this node for the store at %s: copy master.key from a node that uses this store to %s (mode 0600) or set SCRIPTRUN_MASTER_KEY; a new key could not open the store (for a new store, `scriptrun store init --store %s` creates both)", loc, path, loc)
	}
	key, err := store.LoadKey(path)
	if err != nil {
		return nil, configErr("%v", err)
	}
	return key, nil
}

// childStoreArgs are the global flags that give a child process (a cron
// run's `scriptrun _job`) this invocation's store, and childStoreEnv the
// variables it needs beyond the process's own environment.
func (a *app) childStoreArgs() ([]string, error) {
	loc, err := a.storeLocation()
	if err != nil {
		return nil, err
	}
	args := []string{"--store", loc}
	f := a.storeFlags
	for _, g := range []struct{ name, v string }{{"--etcd-ca", f.etcdCA}, {"--etcd-cert", f.etcdCert}, {"--etcd-key", f.etcdKey}} {
		if g.v != "" {
			abs, err := filepath.Abs(g.v)
			if err != nil {
				return nil, usageErr("%s: %v", g.name, err)
			}
			args = append(args, g.name, abs)
		}
	}
	return args, nil
}

func (a *app) childStoreEnv() []string {
	var env []string
	for _, k := range []string{envEtcdUser, envEtcdPassword} {
		if v := a.getenv(k); v != "" && os.Getenv(k) != v {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// storeFiles are the files of the store and key that a job's script or a
// configuration file's secret reference must not name.
func (a *app) storeFiles() ([]string, error) {
	home, err := a.homeDir()
	if err != nil {
		return nil, err
	}
	files := []string{filepath.Join(home, "master.key"), filepath.Join(home, "scriptrun.db")}
	if loc, err := a.storeLocation(); err == nil && !store.IsURL(loc) && loc != files[1] {
		files = append(files, loc)
	}
	if k := a.storeFlags.etcdKey; k != "" {
		if abs, err := filepath.Abs(k); err == nil {
			files = append(files, abs)
		}
	}
	return files, nil
}

// closeStore closes the store's connection (etcd), once.
func (a *app) closeStore() {
	a.closeOnce.Do(func() {
		if a.db != nil {
			if err := a.db.Close(); err != nil && a.logger != nil {
				a.logger.Warn("closing the store", "err", err)
			}
		}
	})
}
