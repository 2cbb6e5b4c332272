package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// run parses its own flags: the global ones before the script are taken
// (as cobra takes them for other commands), those after it are the
// script's.
func TestTakeGlobalFlags(t *testing.T) {
	tests := []struct {
		args      []string
		rest      []string
		home, url string
		ca        string
		err       string
	}{
		{args: []string{"--store", "etcd://h:1/", "s.js", "--store", "x"}, rest: []string{"s.js", "--store", "x"}, url: "etcd://h:1/"},
		{args: []string{"--home=/h", "--timeout", "1s", "--store=f.db", "s.js"}, rest: []string{"--timeout", "1s", "s.js"}, home: "/h", url: "f.db"},
		{args: []string{"--etcd-ca", "ca.pem", "--max-memory=1GiB", "s.js", "a"}, rest: []string{"--max-memory=1GiB", "s.js", "a"}, ca: "ca.pem"},
		{args: []string{"s.js", "--home", "/x"}, rest: []string{"s.js", "--home", "/x"}},
		{args: []string{"--etcd-ca"}, err: "--etcd-ca needs a value"},
	}
	for _, tt := range tests {
		a := &app{}
		rest, err := a.takeGlobalFlags(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(rest, tt.rest) || a.home != tt.home || a.storeFlags.url != tt.url || a.storeFlags.etcdCA != tt.ca {
			t.Errorf("%q: rest %q, home %q, store %q, ca %q, err %v; want %q, %q, %q, %q", tt.args, rest, a.home, a.storeFlags.url, a.storeFlags.etcdCA, err, tt.rest, tt.home, tt.url, tt.ca)
		}
	}
}

func TestStoreLocation(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		flag, env string
		want      string
		err       string
	}{
		{want: filepath.Join(home, "scriptrun.db")},
		{env: "etcd://10.0.0.1:2379,10.0.0.2/team-a", want: "etcd://10.0.0.1:2379,10.0.0.2/team-a"},
		{flag: "etcd://a:1/", env: "etcd://b:2/", want: "etcd://a:1/"},
		{flag: "/srv/other.db", want: "/srv/other.db"},
		{flag: "ETCD://a:1", want: "ETCD://a:1"},
		{flag: "etcd://", err: "--store: store URL \"etcd://\" names no host"},
		{env: "etcd://a:1/x/../y", err: "$SCRIPTRUN_STORE:"},
		{flag: "redis://u:pw@h/", err: "not a redis:// URL"},
	}
	for _, tt := range tests {
		a := &app{home: home, getenv: func(k string) string {
			if k == envStore {
				return tt.env
			}
			return ""
		}}
		a.storeFlags.url = tt.flag
		got, err := a.storeLocation()
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("flag %q env %q: %q, %v; want an error saying %q", tt.flag, tt.env, got, err, tt.err)
		case tt.err != "" && strings.Contains(err.Error(), "pw@"):
			t.Errorf("flag %q: the error repeats the URL's credentials: %v", tt.flag, err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("flag %q env %q: %q, %v; want %q", tt.flag, tt.env, got, err, tt.want)
		}
	}
}
