package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"go.etcd.io/etcd/server/v3/embed"
)

// A cluster that requires client certificates: every command, and the
// child process of a cron run, reaches it with --etcd-ca, --etcd-cert and
// --etcd-key; without them the cluster is unreachable (exit 3).
func TestStoreEtcdTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary against embedded etcd")
	}
	dir := t.TempDir()
	ca, server, client := writeTestPKI(t, dir)
	c := etcdtest.Start(t, etcdtest.Options{Configure: func(_ int, cfg *embed.Config) {
		cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = server[0], server[1]
		cfg.ClientTLSInfo.TrustedCAFile = ca
		cfg.ClientTLSInfo.ClientCertAuth = true
	}})
	n := newEtcdNode(t, etcdURL(t, c))
	if code, _, errs := n.run("", "store", "init"); code != exitStoreDown {
		t.Errorf("store init on a TLS cluster without the TLS flags: exit %d, %s; want 3", code, errs)
	}
	// The key under a name a script could have, to see it protected below.
	keyFile := filepath.Join(dir, "etcd-client-key.js")
	if pem, err := os.ReadFile(client[1]); err != nil || os.WriteFile(keyFile, pem, 0o600) != nil {
		t.Fatal(err)
	}
	tls := []string{"--etcd-ca", ca, "--etcd-cert", client[0], "--etcd-key", keyFile}
	n.must("", append(tls, "store", "init")...)
	job := writeScript(t, dir, "hello.js", "console.log('hello over TLS')")
	n.must("", append(tls, "cron", "add", "hello", "--schedule", "@daily", "--script", job)...)
	if out := n.must("", append(tls, "cron", "run", "hello")...); !strings.Contains(out, "hello over TLS") {
		t.Errorf("cron run over TLS (its child reaches the store too):\n%s", out)
	}
	// The client key is one of the files a job's script may not be.
	code, _, errs := n.run("", append(tls, "cron", "add", "leak", "--schedule", "@daily", "--script", keyFile)...)
	if code != exitUsage || !strings.Contains(errs, "is scriptrun's own file") || strings.Contains(errs, "PRIVATE KEY") {
		t.Errorf("cron add with the etcd client key as its script: exit %d, %s; want it refused", code, errs)
	}
	// A hint repeats the flags, so that the command it suggests reaches
	// the same store.
	_, out, _ := n.run("", append(tls, "token", "add", "gh", "--type", "bearer")...)
	if !strings.Contains(out, "--etcd-ca "+ca) || !strings.Contains(out, "--store "+n.url) {
		t.Errorf("token add's hint does not repeat the store's flags:\n%s", out)
	}
}

// writeTestPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and returns their files (certificate, key).
func writeTestPKI(t *testing.T, dir string) (ca string, server, client [2]string) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = serial, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	caCert, caKey := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	ca = write("ca.pem", "CERTIFICATE", caCert.Raw)
	leaf := func(name string, usage ...x509.ExtKeyUsage) [2]string {
		cert, key := issue(&x509.Certificate{Subject: pkix.Name{CommonName: name}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage}, caCert, caKey)
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return [2]string{write(name+".pem", "CERTIFICATE", cert.Raw), write(name+"-key.pem", "EC PRIVATE KEY", der)}
	}
	return ca, leaf("server", x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth), leaf("client", x509.ExtKeyUsageClientAuth)
}
