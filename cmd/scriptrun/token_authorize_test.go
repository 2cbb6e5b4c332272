package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The browser `token authorize` opens (xdg-open here; a script that writes
// its environment to a pipe) sees neither the master key nor the variable
// the client secret was read from, nor any other SCRIPTRUN_ variable; the
// rest of the desktop's environment reaches it.
func TestAuthorizeBrowserEnvironment(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh for the fake browser")
	}
	dir := t.TempDir()
	pipe := filepath.Join(dir, "env.fifo")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o700)
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\nenv > '"+pipe+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	const masterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	const clientSecret = "cs-7f3a9b2c4d5e6f708192"
	env := append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "SCRIPTRUN_")
	}),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"SCRIPTRUN_HOME="+filepath.Join(dir, "home"),
		"SCRIPTRUN_MASTER_KEY="+masterKey,
		"SCRIPTRUN_CALLBACK_URL=http://127.0.0.1:0/oauth/callback",
		"GRAPH_CLIENT_SECRET="+clientSecret,
		"DEPLOY_NOTE=uses "+clientSecret+" for graph",
		"DISPLAY=:42",
		"KEEP_ME=visible",
	)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scriptrun %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("provider", "add", "graph", "--client-id", "app-1", "--client-secret-env", "GRAPH_CLIENT_SECRET",
		"--auth-url", "https://login.example.com/authorize", "--token-url", "https://login.example.com/token")
	run("token", "add", "mail", "--provider", "graph", "--base-url", "https://graph.example.com")

	cmd := exec.Command(binary(t), "token", "authorize", "mail")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	got := make(chan []string, 1)
	go func() {
		f, err := os.Open(pipe) // waits for the browser to open the pipe
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		var lines []string
		for sc := bufio.NewScanner(f); sc.Scan(); {
			lines = append(lines, sc.Text())
		}
		got <- lines
	}()
	var browserEnv []string
	select {
	case browserEnv = <-got:
	case <-time.After(time.Minute):
		// Unblock the reader, then fail.
		if w, err := os.OpenFile(pipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("the browser was not started within a minute")
	}
	for _, kv := range browserEnv {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SCRIPTRUN_") {
			t.Errorf("the browser got %s", name)
		}
		if strings.Contains(value, clientSecret) || strings.Contains(value, masterKey) {
			t.Errorf("the browser got a secret in %s", name)
		}
	}
	for _, want := range []string{"DISPLAY=:42", "KEEP_ME=visible"} {
		if !slices.Contains(browserEnv, want) {
			t.Errorf("the browser did not get %s; its environment: %q", want, browserEnv)
		}
	}
}

func TestBrowserEnv(t *testing.T) {
	environ := []string{"PATH=/usr/bin", "SCRIPTRUN_MASTER_KEY=k", "scriptrun_home=/h", "TOKEN=abcd1234efgh", "NOTE=x abcd1234efgh y", "SHORT=ab", "HOME=/home/u", "EMPTY="}
	got := browserEnv(environ, "abcd1234efgh", "ab", "")
	want := []string{"PATH=/usr/bin", "HOME=/home/u", "EMPTY="}
	if !slices.Equal(got, want) {
		t.Errorf("browserEnv = %q, want %q", got, want)
	}
}
