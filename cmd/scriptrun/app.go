package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/templates"
	"github.com/scriptrun/scriptrun/tokens"
)

// Stdio is the program's standard streams.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// app is one invocation: where the home is and, once opened, its database
// and token manager. Only this package reads flags, environment and files.
type app struct {
	stdio  Stdio
	getenv func(string) string
	home   string // from --home; resolved by homeDir
	// storeFlags choose the store (--store, --etcd-*; store_open.go).
	storeFlags storeFlags
	closeOnce  sync.Once // of closeStore

	once    sync.Once
	db      *store.DB
	manager *tokens.Manager
	openErr error
	logger  *slog.Logger       // the token manager's events as log records; nil = discard
	onEvent func(tokens.Event) // the token manager's events (tokens.Options.OnEvent); nil = none

	// liveManager is manager once open has made it, for exitStuck, which
	// runs on another goroutine while a script may be opening the home.
	liveManager atomic.Pointer[tokens.Manager]
	// exit ends the process when a script's stop cannot take effect
	// (exitStuck); os.Exit in Main, so only subprocess tests reach it; nil
	// leaves the run to end when the built-in does.
	exit func(code int)
}

// homeDir is --home, else $SCRIPTRUN_HOME, else ~/.scriptrun.
func (a *app) homeDir() (string, error) {
	if a.home != "" {
		return filepath.Abs(a.home)
	}
	if h := a.getenv("SCRIPTRUN_HOME"); h != "" {
		return filepath.Abs(h)
	}
	user, err := os.UserHomeDir()
	if err != nil {
		return "", configErr("cannot find your home folder (%v): pass --home DIR or set SCRIPTRUN_HOME", err)
	}
	return filepath.Join(user, ".scriptrun"), nil
}

// open opens the store (openStore: the home's database, created with its
// key on first use, or the one --store names) and the token manager over
// it, once.
func (a *app) open() (*store.DB, *tokens.Manager, error) {
	a.once.Do(func() {
		db, err := a.openStore(context.Background())
		if err != nil {
			a.openErr = err
			return
		}
		a.db = db
		a.manager = tokens.New(tokens.Options{DB: db, Logger: a.logger, OnEvent: a.onEvent, Client: &http.Client{Timeout: defaultRefreshTimeout}})
		a.liveManager.Store(a.manager)
	})
	return a.db, a.manager, a.openErr
}

// templates loads the built-in provider templates and the home's own.
func (a *app) templates() (*templates.Set, error) {
	home, err := a.homeDir()
	if err != nil {
		return nil, err
	}
	set, err := templates.Load(filepath.Join(home, "templates"))
	if err != nil {
		return nil, configErr("%v", err)
	}
	return set, nil
}

// close waits for token refreshes in flight to be stored, then closes the
// store.
func (a *app) close() {
	if a.manager != nil {
		a.manager.Close()
	}
	a.closeStore()
}

// scriptClient is the HTTP client scripts send through: net/http's defaults,
// with an idle pool sized for scripts that keep many requests in flight
// (the default keeps 2 connections per host, so 64 concurrent calls would
// open and close connections all the time).
func scriptClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 128
	return &http.Client{Transport: tr}
}

// lazySigner opens the home only when a script first signs a request, so
// scripts that use no token start without touching the database.
type lazySigner struct{ a *app }

func (s lazySigner) Sign(ctx context.Context, name string, req *http.Request) error {
	_, m, err := s.a.open()
	if err != nil {
		return signerOpenError(err)
	}
	return m.Sign(ctx, name, req)
}

// Rejects is asked only for answers to requests Sign signed, so the home is
// open by then; if it is not, a 401 alone is a rejection.
func (s lazySigner) Rejects(name string, status int, body []byte) (bool, int) {
	_, m, err := s.a.open()
	if err != nil {
		return status == http.StatusUnauthorized, 0
	}
	return m.Rejects(name, status, body)
}

func (s lazySigner) Rejected(ctx context.Context, name string, req *http.Request) error {
	_, m, err := s.a.open()
	if err != nil {
		return signerOpenError(err)
	}
	return m.Rejected(ctx, name, req)
}

// Permits is asked only for redirects of requests Sign signed, so the home
// is open by then; if it is not, nothing is permitted.
func (s lazySigner) Permits(name string, u *url.URL) bool {
	_, m, err := s.a.open()
	if err != nil {
		return false
	}
	return m.Permits(name, u)
}

func signerOpenError(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		err = ee.err
	}
	return fmt.Errorf("cannot open the token store: %w", err)
}
