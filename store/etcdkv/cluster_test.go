package etcdkv_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"go.etcd.io/etcd/server/v3/embed"
)

// TestOpenUnreachable: a cluster that is not there is an error within the
// dial timeout, not a hang.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel() // waits on timeouts and elections, not the CPU
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = etcdkv.Open(context.Background(), etcdkv.Config{
		Target:      etcdurl.Target{Endpoints: []string{addr}, Prefix: etcdurl.DefaultPrefix},
		DialTimeout: time.Second,
	})
	took := time.Since(start)
	if !errors.Is(err, etcdkv.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Open of a closed port: err = %v, want ErrUnavailable naming %s", err, addr)
	}
	if took > 3*time.Second {
		t.Fatalf("Open of a closed port took %v with a 1 s dial timeout", took)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
}

// TestMemberGoingAway: on 3 members, one stopping is invisible to the
// client (it moves to another endpoint); a second (no quorum) is a clear
// error within the timeout, and writes refused then left nothing behind.
func TestMemberGoingAway(t *testing.T) {
	if testing.Short() {
		t.Skip("3-member cluster: skipped with -short")
	}
	t.Parallel()
	c := etcdtest.Start(t, etcdtest.Options{Members: 3})
	cli := c.Open(t, etcdkv.Config{DialTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	events := cli.Watch(ctx, "jobs/", 0)
	if _, err := cli.Put(ctx, "jobs/a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	<-events

	// The leader goes: the harder case (an election before any write).
	leader := c.Leader()
	if leader < 0 {
		t.Fatal("no leader on a fresh 3-member cluster")
	}
	stopped := time.Now()
	c.Stop(leader)
	for i, key := range []string{"jobs/b", "jobs/c"} {
		rev := createSurvivingFailover(t, cli, key, []byte("x"))
		t.Logf("write %d committed %v after the leader stopped", i, time.Since(stopped).Round(time.Millisecond))
		if kv, err := cli.Get(ctx, key); err != nil || kv.ModRevision != rev {
			t.Fatalf("read after one member stopped: %+v, %v", kv, err)
		}
		select {
		case e := <-events:
			if e.Err != nil || e.Key != key {
				t.Fatalf("watch after one member stopped: %+v, want %s", e, key)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("watch delivered no event for %s within 5 s after a member stopped", key)
		}
		t.Logf("write, read and watch event %d done %v after the stop", i, time.Since(stopped).Round(time.Millisecond))
	}

	c.Stop((leader + 1) % 3)
	start := time.Now()
	_, err := cli.Put(context.Background(), "jobs/d", []byte("x"))
	if !errors.Is(err, etcdkv.ErrUnavailable) {
		t.Fatalf("write without quorum: err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("write without quorum failed after %v, want within the 2 s timeout", took)
	}
	t.Logf("without quorum: %v", err)
	if _, err := cli.Get(context.Background(), "jobs/a"); !errors.Is(err, etcdkv.ErrUnavailable) {
		t.Fatalf("linearizable read without quorum: err = %v, want ErrUnavailable", err)
	}
}

// createSurvivingFailover creates key as the store will have to across a
// leader change: a write cut off by the election is indeterminate (it may
// have been applied), so on ErrUnavailable it reads the key back and counts
// it as done if it holds this writer's value, else tries again.
func createSurvivingFailover(t *testing.T, cli *etcdkv.Client, key string, value []byte) int64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		rev, err := cli.Create(ctx, key, value)
		if err == nil {
			cancel()
			return rev
		}
		if errors.Is(err, etcdkv.ErrUnavailable) || errors.Is(err, etcdkv.ErrExists) {
			if kv, gerr := cli.Get(ctx, key); gerr == nil && bytes.Equal(kv.Value, value) {
				cancel()
				t.Logf("attempt %d: %v; the key holds our value: it was applied", attempt, err)
				return kv.ModRevision
			}
		}
		cancel()
		if !errors.Is(err, etcdkv.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("create %s across a failover, attempt %d: %v", key, attempt, err)
		}
		t.Logf("attempt %d: %v", attempt, err)
	}
}

// TestAuth: user name and password; a wrong one, or a user without rights
// on the prefix, is a clear error from Open.
func TestAuth(t *testing.T) {
	t.Parallel() // waits on timeouts and elections, not the CPU
	c := etcdtest.Start(t, etcdtest.Options{})
	admin := c.Open(t, etcdkv.Config{})
	raw := etcdtest.Raw(t, admin)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	prefix := "/team-a/"
	steps := []func() error{
		func() error { _, err := raw.UserAdd(ctx, "root", "root-pw"); return err },
		func() error { _, err := raw.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := raw.RoleAdd(ctx, "team-a"); return err },
		func() error {
			_, err := raw.RoleGrantPermission(ctx, "team-a", prefix, prefixEnd(prefix), 2 /* READWRITE */)
			return err
		},
		func() error { _, err := raw.UserAdd(ctx, "alice", "alice-pw"); return err },
		func() error { _, err := raw.UserGrantRole(ctx, "alice", "team-a"); return err },
		func() error { _, err := raw.UserAdd(ctx, "bob", "bob-pw"); return err },
		func() error { _, err := raw.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
	eps := c.Endpoints()
	tests := []struct {
		name, user, password, prefix, wantErr string
	}{
		{"right password", "alice", "alice-pw", prefix, ""},
		{"wrong password", "alice", "not-it", prefix, "SCRIPTRUN_ETCD_USERNAME"},
		{"no user", "", "", prefix, "requires a user name"},
		{"wrong prefix", "alice", "alice-pw", "/team-b/", "may not use prefix /team-b/"},
		{"user without rights", "bob", "bob-pw", prefix, "may not use prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli, err := etcdkv.Open(ctx, etcdkv.Config{
				Target: etcdurl.Target{Endpoints: eps, Prefix: tt.prefix},
				// Generous: etcd checks a password with bcrypt, which
				// takes seconds under -race on a loaded 2-core machine.
				Username: tt.user, Password: tt.password, DialTimeout: 15 * time.Second,
			})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer cli.Close()
				if _, err := cli.Put(ctx, "k", []byte("v")); err != nil {
					t.Fatalf("Put with rights on the prefix: %v", err)
				}
				return
			}
			if err == nil {
				cli.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open: err = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func prefixEnd(p string) string { b := []byte(p); b[len(b)-1]++; return string(b) }

// TestTLS: a cluster that requires client certificates, reached with the CA,
// certificate and key files of --etcd-ca/--etcd-cert/--etcd-key.
func TestTLS(t *testing.T) {
	t.Parallel() // waits on timeouts and elections, not the CPU
	dir := t.TempDir()
	files := writeTLSFiles(t, dir)
	c := etcdtest.Start(t, etcdtest.Options{Configure: func(_ int, cfg *embed.Config) {
		cfg.ClientTLSInfo.CertFile = files["server.pem"]
		cfg.ClientTLSInfo.KeyFile = files["server-key.pem"]
		cfg.ClientTLSInfo.TrustedCAFile = files["ca.pem"]
		cfg.ClientTLSInfo.ClientCertAuth = true
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target := etcdurl.Target{Endpoints: c.Endpoints(), Prefix: etcdurl.DefaultPrefix}
	tests := []struct {
		name           string
		ca, cert, key  string
		wantErr        string
		wantUnavailble bool
	}{
		{name: "CA, cert and key", ca: files["ca.pem"], cert: files["client.pem"], key: files["client-key.pem"]},
		{name: "cert without key", ca: files["ca.pem"], cert: files["client.pem"], wantErr: "go together"},
		{name: "missing CA file", ca: filepath.Join(dir, "nope.pem"), wantErr: "TLS files"},
		{name: "no client certificate", ca: files["ca.pem"], wantUnavailble: true},
		{name: "other CA", ca: files["other-ca.pem"], cert: files["client.pem"], key: files["client-key.pem"], wantUnavailble: true},
		{name: "plain text to a TLS port", wantUnavailble: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli, err := etcdkv.Open(ctx, etcdkv.Config{Target: target, CAFile: tt.ca, CertFile: tt.cert, KeyFile: tt.key, DialTimeout: time.Second})
			switch {
			case tt.wantErr == "" && !tt.wantUnavailble:
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer cli.Close()
				if _, err := cli.Put(ctx, "k", []byte("v")); err != nil {
					t.Fatal(err)
				}
			case err == nil:
				cli.Close()
				t.Fatal("Open succeeded, want an error")
			case tt.wantUnavailble && !errors.Is(err, etcdkv.ErrUnavailable):
				t.Fatalf("Open: err = %v, want ErrUnavailable", err)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Open: err = %v, want one containing %q", err, tt.wantErr)
			default:
				t.Logf("%v", err)
			}
		})
	}
}

// writeTLSFiles makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, plus an unrelated CA.
func writeTLSFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	write := func(name, typ string, der []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		files[name] = p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	cert := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	caTmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	caKey, otherKey := newKey(), newKey()
	ca := cert(caTmpl("test CA"), nil, nil, caKey)
	write("ca.pem", "CERTIFICATE", ca.Raw)
	write("other-ca.pem", "CERTIFICATE", cert(caTmpl("other CA"), nil, nil, otherKey).Raw)
	// The server's certificate serves for client authentication too: etcd's
	// JSON gateway, which etcdkv speaks, reaches the member's gRPC service
	// over TLS with it (etcd's security guide asks for both usages when
	// --client-cert-auth is on).
	for _, leaf := range []struct {
		name  string
		usage []x509.ExtKeyUsage
	}{{"server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, {"client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}} {
		k := newKey()
		c := cert(&x509.Certificate{
			Subject:     pkix.Name{CommonName: leaf.name},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: leaf.usage,
		}, ca, caKey, k)
		write(leaf.name+".pem", "CERTIFICATE", c.Raw)
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(leaf.name+"-key.pem", "EC PRIVATE KEY", der)
	}
	return files
}
