package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// bench holds the world of one benchmark run.
type bench struct {
	cfg      config
	srv      *servers
	bin      string
	goClient string
	node     string
	dir      string
	home     string
	db       *store.DB
	apis     []target
}

// target is an API the throughput measures run against, with the token
// (bound to its URL) that scriptrun signs with and the access token the Go
// and Node.js peers send.
type target struct {
	name   string // "API" or "light API", for the report
	url    string
	token  string // scriptrun's token name
	access string
}

// Token names in the bench home: one per API, each bound to its API's URL.
const (
	tokenAPI   = "bench"
	tokenLight = "bench-light"
)

func setup(cfg config) (*bench, error) {
	dir, err := os.MkdirTemp("", "scriptrun-bench-")
	if err != nil {
		return nil, err
	}
	b, err := newWorld(cfg, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := b.preparePeers(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// newWorld starts the servers and creates the home in dir: the provider and
// one token per API, authorized. In-process benchmarks use it alone.
func newWorld(cfg config, dir string) (*bench, error) {
	b := &bench{cfg: cfg, dir: dir, home: filepath.Join(dir, "home")}
	var err error
	if b.srv, err = startServers(cfg.tokenDelay); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.home, 0o700); err != nil {
		return nil, err
	}
	key, err := store.LoadKey(filepath.Join(b.home, "master.key"))
	if err != nil {
		return nil, err
	}
	if b.db, err = store.Open(filepath.Join(b.home, "scriptrun.db"), key, store.Options{}); err != nil {
		return nil, err
	}
	err = b.db.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(store.Provider{
			Name: "bench", ClientID: "bench", ClientSecret: "bench-secret", GrantType: store.GrantAuthorizationCode,
			AuthURL: "http://127.0.0.1/authorize", TokenURL: b.srv.tokenURL, AuthStyle: store.AuthStyleBody,
		}); err != nil {
			return err
		}
		for name, url := range map[string]string{tokenAPI: b.srv.apiURL, tokenLight: b.srv.lightURL} {
			if err := tx.CreateToken(store.Token{Name: name, Type: store.TypeOAuth2, Provider: "bench", Active: true,
				State: store.StateUnauthorized, BaseURL: url}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.apis = []target{{name: "API", url: b.srv.apiURL, token: tokenAPI}, {name: "light API", url: b.srv.lightURL, token: tokenLight}}
	if err := b.setLightToken(); err != nil {
		return nil, err
	}
	return b, b.setToken(time.Hour)
}

// preparePeers builds scriptrun and the Go peer, finds Node.js and writes
// the scripts every peer runs.
func (b *bench) preparePeers() error {
	var err error
	if b.bin, err = build(b.dir, "scriptrun", "./cmd/scriptrun"); err != nil {
		return err
	}
	if b.goClient, err = build(b.dir, "goclient", "./bench/goclient"); err != nil {
		return err
	}
	if p, err := exec.LookPath("node"); err == nil {
		b.node = p
	}
	for name, src := range map[string]string{
		"seq.js": scriptSeq, "conc.js": scriptConc, "fetch.js": scriptFetchConc, "hello.js": scriptHello, "storm.js": scriptStorm, "json.js": scriptJSON,
		"seq.mjs": nodeSeq, "conc.mjs": nodeConc, "json.mjs": nodeJSON,
	} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(src), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// setToken stores a fresh token set for the API that expires after d
// (negative: already expired).
func (b *bench) setToken(d time.Duration) error {
	access, refresh := b.srv.mint()
	b.apis[0].access = access
	return b.putToken(tokenAPI, access, refresh, d)
}

// setLightToken stores the light API's token, valid for an hour, and makes
// it the one the light API accepts.
func (b *bench) setLightToken() error {
	access, refresh := b.srv.mint()
	b.srv.allowLight(access)
	b.apis[1].access = access
	return b.putToken(tokenLight, access, refresh, time.Hour)
}

func (b *bench) putToken(name, access, refresh string, d time.Duration) error {
	now := time.Now()
	return b.db.Update(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		t.State = store.StateAuthorized
		t.Secret = store.Secret{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer"}
		t.LastRefreshed = now.Add(d - time.Hour)
		t.Expires = now.Add(d)
		return tx.PutToken(t)
	})
}

func (b *bench) close() {
	if b.db != nil {
		b.db.Close()
	}
	if b.srv != nil {
		b.srv.close()
	}
	os.RemoveAll(b.dir)
}

// output is the JSON line a peer prints.
type output struct {
	MS  float64   `json:"ms"`
	Lat []float64 `json:"lat"`
	// cpu is the process's user and system CPU time (with whatever it
	// waited for, as wait4 reports it), start-up included.
	cpu time.Duration
}

// scriptrun runs one script with the bench home and returns its output line.
func (b *bench) scriptrun(script string, args ...string) (output, error) {
	return b.exec(b.bin, append([]string{"--home", b.home, "run", filepath.Join(b.dir, script)}, args...)...)
}

func (b *bench) nodeRun(script string, args ...string) (output, error) {
	return b.exec(b.node, append([]string{filepath.Join(b.dir, script)}, args...)...)
}

func (b *bench) exec(bin string, args ...string) (output, error) {
	o, _, err := execPeak(false, bin, args...)
	return o, err
}

// execPeak runs bin and reads the JSON line it prints last; with peak, it
// also returns the process's peak resident memory in bytes (0 without GNU
// time: see coldRun).
func execPeak(peak bool, bin string, args ...string) (output, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name, argv, rssFile := bin, args, ""
	if peak && gnuTime != "" {
		f, err := os.CreateTemp("", "rss-")
		if err != nil {
			return output{}, 0, err
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		name, argv = gnuTime, append([]string{"-f", "%M", "-o", rssFile, bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return output{}, 0, fmt.Errorf("%s %v: %v\n%s%s", filepath.Base(bin), args, err, out.String(), errb.String())
	}
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	var o output
	if err := json.Unmarshal(lines[len(lines)-1], &o); err != nil {
		return output{}, 0, fmt.Errorf("%s: unreadable output %q", filepath.Base(bin), out.String())
	}
	o.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if rssFile == "" {
		return o, 0, nil
	}
	rss, err := readRSS(rssFile)
	return o, rss, err
}

// readRSS reads the peak resident memory GNU time wrote (KiB), in bytes.
func readRSS(file string) (int64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("GNU time printed %q", b)
	}
	return kb * 1024, nil
}

// coldRun starts bin once and returns wall time and peak resident memory.
//
// Peak memory comes from GNU time when it is installed: a child that Go
// starts directly inherits, in its rusage, the high-water mark of the
// parent's memory from before exec (Go forks with CLONE_VM), so the bench's
// own memory would be counted. Without GNU time, rss is 0.
func coldRun(bin string, args ...string) (time.Duration, int64, error) {
	var cmd *exec.Cmd
	var rssFile string
	if gnuTime != "" {
		f, err := os.CreateTemp("", "rss-")
		if err != nil {
			return 0, 0, err
		}
		f.Close()
		rssFile = f.Name()
		defer os.Remove(rssFile)
		cmd = exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rssFile, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Stdout = io.Discard
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", bin, err)
	}
	wall := time.Since(start)
	if rssFile == "" {
		return wall, 0, nil
	}
	rss, err := readRSS(rssFile)
	return wall, rss, err
}

// gnuTime is the path of GNU time, if installed.
var gnuTime = func() string {
	if p, err := exec.LookPath("/usr/bin/time"); err == nil {
		return p
	}
	return ""
}()

// goRun runs the plain-Go peer (bench/goclient) in its own process.
func (b *bench) goRun(t target, mode string, n, c int) (output, error) {
	return b.exec(b.goClient, mode, t.url, itoa(n), itoa(c), t.access)
}

func itoa(n int) string { return strconv.Itoa(n) }
