package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"go.etcd.io/etcd/server/v3/embed"
)

// etcdNode is one node of a store on etcd: the real binary with a home of
// its own (where its master.key lives) and the store given by --store.
type etcdNode struct {
	t    *testing.T
	home string
	url  string
	env  []string // beyond the test's own environment
}

// etcdURL is a store URL on c under a fresh prefix.
func etcdURL(t *testing.T, c *etcdtest.Cluster) string {
	var b [6]byte
	rand.Read(b[:])
	return "etcd://" + strings.Join(c.AllEndpoints(), ",") + "/cmd-test-" + hex.EncodeToString(b[:]) + "/"
}

func newEtcdNode(t *testing.T, url string) *etcdNode {
	return &etcdNode{t: t, home: t.TempDir(), url: url}
}

// run runs `scriptrun --store URL ARGS...` and returns the exit code and
// output.
func (n *etcdNode) run(stdin string, args ...string) (int, string, string) {
	n.t.Helper()
	return runBinary(n.t, n.home, append(n.env, "SCRIPTRUN_STORE="), stdin, append([]string{"--store", n.url}, args...)...)
}

func (n *etcdNode) must(stdin string, args ...string) string {
	n.t.Helper()
	code, out, errs := n.run(stdin, args...)
	if code != 0 {
		n.t.Fatalf("scriptrun --store %s %s: exit %d\n%s%s", n.url, strings.Join(args, " "), code, out, errs)
	}
	return out
}

// runBinary runs the built binary with home and env added to the test's
// environment.
func runBinary(t *testing.T, home string, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(append(os.Environ(), "SCRIPTRUN_HOME="+home), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// noCrash fails the test if stderr looks like a Go crash.
func noCrash(t *testing.T, what, errs string) {
	t.Helper()
	for _, bad := range []string{"panic", "goroutine ", ".go:"} {
		if strings.Contains(errs, bad) {
			t.Errorf("%s: stderr looks like a Go crash (%q): %s", what, bad, errs)
		}
	}
}

// The commands of a home, on an etcd store: init, provider, token, cron
// (a run in a child process), export/apply, doctor; a second node with the
// copied key; and each way of pointing at the wrong place.
func TestCommandsOnEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against embedded etcd")
	}
	c := etcdtest.New(t)
	n := newEtcdNode(t, etcdURL(t, c))

	// No key on this node: refused, and no key is made up.
	code, _, errs := n.run("", "token", "list")
	if code != exitWrongKey || !strings.Contains(errs, "no master key on this node") || !strings.Contains(errs, "copy master.key") {
		t.Fatalf("token list without a key: exit %d, %s; want 4 telling to copy master.key", code, errs)
	}
	if _, err := os.Stat(filepath.Join(n.home, "master.key")); !os.IsNotExist(err) {
		t.Fatalf("a node without a key generated one (%v)", err)
	}
	out := n.must("", "store", "init")
	if !strings.Contains(out, "created an empty store at "+n.url) || !strings.Contains(out, "copy it") {
		t.Errorf("store init printed:\n%s", out)
	}
	if code, _, errs := n.run("", "store", "init"); code != exitUsage || !strings.Contains(errs, "already exists") {
		t.Errorf("store init twice: exit %d, %s", code, errs)
	}

	srv, err := sandbox.Start(sandbox.Options{AccessTTL: time.Hour, AuthStyle: "body"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	n.must(srv.ClientSecret()+"\n", "provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--auth-style", "body", "--scopes", "read")
	n.must("", "token", "add", "api", "--provider", "sandbox", "--base-url", srv.URL())
	n.must("static-bearer-VALUE-77\n", "token", "add", "gh", "--type", "bearer", "--token-stdin", "--base-url", "https://api.github.com")
	if out := n.must("", "token", "list"); !strings.Contains(out, "api") || !strings.Contains(out, "gh") {
		t.Errorf("token list:\n%s", out)
	}
	var tv tokenView
	if err := json.Unmarshal([]byte(n.must("", "token", "show", "gh", "--json")), &tv); err != nil || tv.State != "authorized" {
		t.Errorf("token show gh: %+v (%v)", tv, err)
	}
	dir := t.TempDir()
	job := writeScript(t, dir, "hello.js", "console.log('hello from a job on etcd')")
	n.must("", "cron", "add", "hello", "--schedule", "@daily", "--script", job)
	if out := n.must("", "cron", "list"); !strings.Contains(out, "hello") {
		t.Errorf("cron list:\n%s", out)
	}
	if out := n.must("", "cron", "run", "hello"); !strings.Contains(out, "hello from a job on etcd") {
		t.Errorf("cron run (in a child process on the same store):\n%s", out)
	}

	// The rest of the everyday commands, on the same store.
	n.must("", "provider", "update", "sandbox", "--description", "edited on etcd")
	if out := n.must("", "provider", "show", "sandbox"); !strings.Contains(out, "edited on etcd") || strings.Contains(out, srv.ClientSecret()) {
		t.Errorf("provider show after update:\n%s", out)
	}
	n.must("", "token", "update", "api", "--scopes", "read")
	if out := n.must("a long admin password\n", "admin", "password"); !strings.Contains(out, "admin password set") {
		t.Errorf("admin password printed %q", out)
	}
	if out := n.must(".tokens\n", "repl"); !strings.Contains(out, "api") || !strings.Contains(out, "gh") {
		t.Errorf("repl .tokens on etcd:\n%s", out)
	}
	n.must("", "token", "add", "spare", "--type", "bearer")
	n.must("", "token", "rm", "spare")
	if out := n.must("", "token", "revoke", "gh"); !strings.Contains(out, "credential erased") {
		t.Errorf("token revoke gh on etcd:\n%s", out)
	}

	// export → apply into another etcd store → the same export.
	exported := n.must("", "export")
	other := newEtcdNode(t, etcdURL(t, c))
	other.env = []string{"SCRIPTRUN_MASTER_KEY=" + readKey(t, n.home), "SANDBOX_SECRET=" + srv.ClientSecret()}
	other.must("", "store", "init")
	file := writeScript(t, dir, "scriptrun.yaml", exported)
	other.must("", "apply", "-f", file)
	if again := other.must("", "export"); again != exported {
		t.Errorf("export after apply on another etcd store differs:\n%s\nwant\n%s", again, exported)
	}

	// doctor names the store.
	code, out, _ = n.run("", "doctor", "--offline")
	if !strings.Contains(out, "store: "+n.url+" (1 endpoint, cluster reachable") {
		t.Errorf("doctor (exit %d) does not name the etcd store:\n%s", code, out)
	}
	if strings.Contains(out, "bbolt") {
		t.Errorf("doctor on etcd speaks of bbolt:\n%s", out)
	}

	// A second node: its own home with the copied key reads the same store;
	// another key is refused.
	node2 := newEtcdNode(t, n.url)
	copyKey(t, n.home, node2.home)
	if out := node2.must("", "token", "list"); !strings.Contains(out, "api") {
		t.Errorf("node 2 token list:\n%s", out)
	}
	node3 := newEtcdNode(t, n.url)
	node3.env = []string{"SCRIPTRUN_MASTER_KEY=" + strings.Repeat("ab", 32)}
	if code, _, errs := node3.run("", "token", "list"); code != exitWrongKey || !strings.Contains(errs, "every node needs the same") {
		t.Errorf("a node with another key: exit %d, %s; want 4", code, errs)
	}
}

// Bad input on the way to a store: each a clear message and its own exit
// code, no crash, no password echoed.
func TestStoreBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against embedded etcd")
	}
	c := etcdtest.New(t)
	n := newEtcdNode(t, etcdURL(t, c))
	n.must("", "store", "init")
	key := "SCRIPTRUN_MASTER_KEY=" + readKey(t, n.home)
	eps := strings.Join(c.AllEndpoints(), ",")
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"wrong prefix", []string{key}, []string{"--store", "etcd://" + eps + "/no-such-team/", "token", "list"}, exitNoStore, "store init"},
		{"prefix from the environment", []string{key, "SCRIPTRUN_STORE=etcd://" + eps + "/no-such-team/"}, []string{"token", "list"}, exitNoStore, "no scriptrun store at etcd://"},
		{"unreachable cluster", []string{key}, []string{"--store", "etcd://127.0.0.1:1/", "token", "list"}, exitStoreDown, "127.0.0.1:1"},
		{"bad URL", []string{key}, []string{"--store", "etcd://host:99999/", "token", "list"}, exitUsage, "port must be a number"},
		{"credentials in the URL", []string{key}, []string{"--store", "etcd://root:hunter2@127.0.0.1:2379/", "token", "list"}, exitUsage, "SCRIPTRUN_ETCD_USERNAME"},
		{"unknown scheme", []string{key}, []string{"--store", "https://user:hunter2@example.com/", "token", "list"}, exitUsage, "not a https:// URL"},
		{"etcd flag on a file store", []string{key}, []string{"--etcd-ca", "ca.pem", "token", "list"}, exitUsage, "--etcd-ca applies to an etcd:// store"},
		{"cert without key", []string{key}, []string{"--store", n.url, "--etcd-cert", "c.pem", "token", "list"}, exitUsage, "--etcd-cert and --etcd-key together"},
		{"password without user", []string{key, "SCRIPTRUN_ETCD_PASSWORD=hunter2"}, []string{"--store", n.url, "token", "list"}, exitUsage, "SCRIPTRUN_ETCD_USERNAME"},
		{"missing TLS files", []string{key}, []string{"--store", n.url, "--etcd-ca", "/no/such/ca.pem", "token", "list"}, exitUsage, "TLS files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runBinary(t, t.TempDir(), append([]string{"SCRIPTRUN_STORE="}, tt.env...), "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, errs, tt.code, tt.want)
			}
			if strings.Contains(out+errs, "hunter2") {
				t.Errorf("the password was echoed: %s", errs)
			}
			noCrash(t, tt.name, errs)
		})
	}
}

// A cluster with authentication: the user and password come from the
// environment; a wrong password is refused without being shown.
func TestStoreEtcdAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against embedded etcd")
	}
	// The lowest bcrypt cost: every process authenticates once, and the
	// default cost takes most of a second of a busy CI core.
	c := etcdtest.Start(t, etcdtest.Options{Configure: func(_ int, cfg *embed.Config) { cfg.BcryptCost = 4 }})
	admin := etcdtest.Raw(t, c.Open(t, etcdkv.Config{}))
	etcdtest.EnableAuth(t, admin, "s3cret-root-pw", nil)
	n := newEtcdNode(t, etcdURL(t, c))
	if code, _, errs := n.run("", "store", "init"); code == 0 || !strings.Contains(errs, "SCRIPTRUN_ETCD_USERNAME") {
		t.Errorf("store init without credentials on a cluster with auth: exit %d, %s", code, errs)
	}
	n.env = []string{"SCRIPTRUN_ETCD_USERNAME=root", "SCRIPTRUN_ETCD_PASSWORD=wrong-pw-hunter2"}
	code, out, errs := n.run("", "store", "init")
	if code != exitUsage || !strings.Contains(errs, "refused the user name or password") || strings.Contains(out+errs, "hunter2") {
		t.Errorf("a wrong etcd password: exit %d, %s; want 2, refused, the password not shown", code, errs)
	}
	n.env = []string{"SCRIPTRUN_ETCD_USERNAME=root", "SCRIPTRUN_ETCD_PASSWORD=s3cret-root-pw"}
	n.must("", "store", "init")
	n.must("", "token", "add", "gh", "--type", "bearer", "--base-url", "https://api.github.com")
	if code, out, errs := n.run("", "token", "list"); code != 0 || !strings.Contains(out, "gh") || strings.Contains(out+errs, "s3cret-root-pw") {
		t.Errorf("token list with credentials: exit %d\n%s%s", code, out, errs)
	}
}

// serve starts on an etcd store, joins it as a node that schedules the
// jobs, and serves the console.
func TestServeOnEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against embedded etcd")
	}
	c := etcdtest.New(t)
	n := newEtcdNode(t, etcdURL(t, c))
	n.must("", "store", "init")
	p := startServe(t, n.home, "--store", n.url)
	if out := p.stdout.String(); !strings.Contains(out, "cron: node ") || !strings.Contains(out, "schedules the jobs with the other nodes") {
		t.Errorf("serve on etcd does not say it schedules the jobs as a node:\n%s", out)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(p.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Errorf("console on etcd: HTTP %d", resp.StatusCode)
	}
	p.cmd.Process.Signal(os.Interrupt)
	if err := <-p.done; err != nil {
		t.Errorf("serve on etcd after SIGINT: %v\n%s", err, p.logs)
	}
	p.done <- nil // for the cleanup
}

func readKey(t *testing.T, home string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func copyKey(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(to, "master.key"), []byte(readKey(t, from)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// openEtcdStore opens the store at url with home's key, for a test to read
// or change what the processes see.
func openEtcdStore(t *testing.T, home, url string) *store.DB {
	t.Helper()
	key, err := store.ParseKey(readKey(t, home))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenURL(context.Background(), url, key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// store migrate with the real binary: a home with an authorized token (and
// its refresh token) and a job's run moves to etcd and back; the copy works
// (the token refreshes from it); a target with records, one with another
// key and one that cannot be reached are each refused with the source
// untouched.
func TestStoreMigrateCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against embedded etcd and a sandbox provider")
	}
	c := etcdtest.New(t)
	srv, err := sandbox.Start(sandbox.Options{AccessTTL: time.Hour, RequirePKCE: true, AuthStyle: "body"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	home := t.TempDir()
	local := &etcdNode{t: t, home: home, url: filepath.Join(home, "scriptrun.db")}
	local.must(srv.ClientSecret()+"\n", "provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--revocation-url", srv.RevocationURL(), "--auth-style", "body", "--scopes", "read")
	local.must("", "token", "add", "api", "--provider", "sandbox", "--base-url", srv.URL())
	authorizeCLI(t, home, srv, "api")
	job := writeScript(t, t.TempDir(), "hello.js", "console.log('output of a run before the move')")
	local.must("", "cron", "add", "hello", "--schedule", "@daily", "--script", job)
	local.must("", "cron", "run", "hello")
	dbFile := filepath.Join(home, "scriptrun.db")
	before, _ := os.ReadFile(dbFile)

	code, _, errs := local.run("", "store", "migrate", "--to", "etcd://127.0.0.1:1/")
	if code != exitStoreDown || !strings.Contains(errs, "127.0.0.1:1") {
		t.Errorf("migrate to an unreachable cluster: exit %d, %s; want 3 naming it", code, errs)
	}
	noCrash(t, "migrate to an unreachable cluster", errs)

	url := etcdURL(t, c)
	out := local.must("", "store", "migrate", "--to", url)
	if !strings.Contains(out, "copied ") || !strings.Contains(out, "1 tokens") || !strings.Contains(out, "verified: ") {
		t.Errorf("store migrate printed:\n%s", out)
	}
	if after, _ := os.ReadFile(dbFile); !bytes.Equal(before, after) {
		t.Error("migrating changed the source file")
	}
	code, _, errs = local.run("", "store", "migrate", "--to", url)
	if code != exitUsage || !strings.Contains(errs, "--force") {
		t.Errorf("migrate onto a store with records: exit %d, %s; want 2 naming --force", code, errs)
	}
	if out := local.must("", "store", "migrate", "--to", url, "--force"); !strings.Contains(out, "--force: deleted the ") {
		t.Errorf("migrate --force printed:\n%s", out)
	}

	// The copy works: the same home's key opens it, the token refreshes
	// with the refresh token that travelled sealed, the run is there.
	n := &etcdNode{t: t, home: home, url: url}
	var tv tokenView
	json.Unmarshal([]byte(n.must("", "token", "show", "api", "--json")), &tv)
	if tv.State != "authorized" || !tv.HasRefreshToken {
		t.Fatalf("token on the etcd copy: %+v", tv)
	}
	if out := n.must("", "cron", "runs", "hello"); !strings.Contains(out, "succeeded") {
		t.Errorf("cron runs on the etcd copy:\n%s", out)
	}
	refreshes := srv.Stats().RefreshRequests
	n.must("", "token", "refresh", "api")
	if st := srv.Stats(); st.RefreshRequests != refreshes+1 || st.RefreshTokenReuse != 0 {
		t.Errorf("token refresh on the etcd copy: %d refreshes (want 1), %d refresh tokens reused", st.RefreshRequests-refreshes, st.RefreshTokenReuse)
	}

	// And back to a file: the rotated refresh token comes along.

	back := filepath.Join(t.TempDir(), "back.db")
	n.must("", "store", "migrate", "--to", back)
	b := &etcdNode{t: t, home: home, url: back}
	refreshes = srv.Stats().RefreshRequests
	b.must("", "token", "refresh", "api")
	if st := srv.Stats(); st.RefreshRequests != refreshes+1 || st.RefreshTokenReuse != 0 {
		t.Errorf("token refresh on the copy back: %d refreshes, %d reused", st.RefreshRequests-refreshes, st.RefreshTokenReuse)
	}
	if out := b.must("", "cron", "runs", "hello"); !strings.Contains(out, "succeeded") {
		t.Errorf("cron runs on the copy back:\n%s", out)
	}
	revocations := srv.Stats().Revocations
	if out := b.must("", "token", "revoke", "api"); !strings.Contains(out, "revoked at the provider") || srv.Stats().Revocations == revocations {
		t.Errorf("token revoke on the copy back (%d revocations before, %d after):\n%s", revocations, srv.Stats().Revocations, out)
	}

	// A target sealed with another key is never overwritten.
	foreign := newEtcdNode(t, etcdURL(t, c))
	foreign.env = []string{"SCRIPTRUN_MASTER_KEY=" + strings.Repeat("ab", 32)}
	foreign.must("", "store", "init")
	foreign.must("", "token", "add", "theirs", "--type", "bearer")
	code, _, errs = local.run("", "store", "migrate", "--to", foreign.url, "--force")
	if code != exitWrongKey || !strings.Contains(errs, "another master key") {
		t.Errorf("migrate onto a store with another key: exit %d, %s; want 4", code, errs)
	}
	if out := foreign.must("", "token", "list"); !strings.Contains(out, "theirs") {
		t.Errorf("the foreign store after a refused migration:\n%s", out)
	}
	db := openEtcdStore(t, home, url)
	if err := db.CheckRecords(); err != nil {
		t.Errorf("the etcd copy's records: %v", err)
	}
}

// A cluster losing members: with one of three gone doctor names it and the
// commands go on; with two gone (no quorum) a command ends with exit 3 and
// says why, within the dial timeout.
func TestStoreClusterDegraded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against a 3-member embedded etcd")
	}
	c := etcdtest.Start(t, etcdtest.Options{Members: 3})
	n := newEtcdNode(t, etcdURL(t, c))
	n.must("", "store", "init")
	n.must("", "token", "add", "gh", "--type", "bearer")
	gone := c.AllEndpoints()[2]
	c.Stop(2)
	code, out, _ := n.run("", "doctor", "--offline")
	if !strings.Contains(out, "2 of 3 endpoints answer; no answer from "+gone) {
		t.Errorf("doctor with a member down (exit %d) does not name it:\n%s", code, out)
	}
	if out := n.must("", "token", "list"); !strings.Contains(out, "gh") {
		t.Errorf("token list with 2 of 3 members:\n%s", out)
	}
	c.Stop(1)
	code, out, errs := n.run("", "token", "add", "late", "--type", "bearer")
	if code != exitStoreDown || !strings.Contains(errs, "etcd cluster unavailable") {
		t.Errorf("token add without quorum: exit %d\n%s%s; want 3 saying the cluster is unavailable", code, out, errs)
	}
	noCrash(t, "token add without quorum", errs)
}
