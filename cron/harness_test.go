package cron

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/scriptrun/scriptrun/bindings"
	"github.com/scriptrun/scriptrun/store"
)

// waitLimit bounds how long a test waits for something that should happen
// at once; it only matters when a test is about to fail.
const waitLimit = 10 * time.Second

var testKey = bytes.Repeat([]byte{9}, store.KeySize)

// fakeSigner is a bindings.Signer whose behaviour a test sets.
type fakeSigner struct {
	SignFn func(ctx context.Context, name string, req *http.Request) error
}

var _ bindings.Signer = fakeSigner{}

func (f fakeSigner) Sign(ctx context.Context, name string, req *http.Request) error {
	return f.SignFn(ctx, name, req)
}
func (f fakeSigner) Rejects(_ string, status int, _ []byte) (bool, int)    { return status == 401, 0 }
func (f fakeSigner) Rejected(context.Context, string, *http.Request) error { return nil }
func (f fakeSigner) Permits(string, *url.URL) bool                         { return true }

// gate lets a test hold runs of gateScript inside the script until it
// releases them: every apiTokenAuth('gate') call waits on it.
type gate struct {
	entered chan *gateCall
}

type gateCall struct {
	ctx     context.Context
	release chan error
}

func newGate() *gate { return &gate{entered: make(chan *gateCall, 16)} }

func (g *gate) signer() fakeSigner {
	return fakeSigner{SignFn: func(ctx context.Context, name string, req *http.Request) error {
		c := &gateCall{ctx: ctx, release: make(chan error, 1)}
		g.entered <- c
		select {
		case err := <-c.release:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

// wait returns the next run that entered the gate.
func (g *gate) wait(t *testing.T) *gateCall {
	t.Helper()
	select {
	case c := <-g.entered:
		return c
	case <-time.After(waitLimit):
		t.Fatal("no run entered the gate")
		return nil
	}
}

// gateScript prints, waits at the gate, and prints again.
const gateScript = `console.log('start');
try { http.get('http://127.0.0.1:1/').apiTokenAuth('gate').send(); } catch (e) { console.log('gate: ' + e.message); }
console.log('end');`

// env is a store in a temp dir, a fake clock and a scheduler over them.
type env struct {
	db     *store.DB
	other  *store.DB // the same file, as another process would open it
	clock  *clockwork.FakeClock
	s      *Scheduler
	events chan store.Run
	gate   *gate
	t0     time.Time
}

func newEnv(t *testing.T, t0 time.Time, tweak func(*Options)) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scriptrun.db")
	clock := clockwork.NewFakeClockAt(t0)
	db, err := store.Open(path, testKey, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	other, err := store.Open(path, testKey, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, other: other, clock: clock, events: make(chan store.Run, 256), gate: newGate(), t0: t0}
	o := Options{DB: db, Clock: clock, Signer: e.gate.signer(), GracePeriod: 5 * time.Second}
	if tweak != nil {
		tweak(&o)
	}
	e.s = New(o)
	e.s.onEvent = func(r store.Run) { e.events <- r }
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		go func() { // release anything still at the gate so Stop is quick
			for {
				select {
				case c := <-e.gate.entered:
					c.release <- errors.New("test over")
				case <-ctx.Done():
					return
				}
			}
		}()
		if err := e.s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := db.Check(); err != nil {
			t.Errorf("database check: %v", err)
		}
	})
	return e
}

func job(name, schedule, script string) store.Job {
	return store.Job{
		Name: name, Schedule: schedule, Script: script, ScriptName: name + ".js",
		Timeout: time.Minute, Enabled: true, Args: []string{"a", "b"},
	}
}

// put stores a job through the other DB, as `scriptrun cron add` would.
func (e *env) put(t *testing.T, j store.Job) store.Job {
	t.Helper()
	if err := e.other.Update(func(tx *store.Tx) error { return tx.PutJob(j) }); err != nil {
		t.Fatal(err)
	}
	return e.job(t, j.Name)
}

func (e *env) job(t *testing.T, name string) store.Job {
	t.Helper()
	var j store.Job
	if err := e.db.View(func(tx *store.Tx) (err error) { j, err = tx.Job(name); return err }); err != nil {
		t.Fatal(err)
	}
	return j
}

func (e *env) start(t *testing.T) {
	t.Helper()
	if err := e.s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// waiters waits until the fake clock has n timers or tickers (gocron's job
// timers, the poll ticker, ...), so an Advance reaches all of them.
func (e *env) waiters(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.clock.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d clock waiters: %v", n, err)
	}
}

// advanceTo moves the fake clock to at.
func (e *env) advanceTo(at time.Time) { e.clock.Advance(at.Sub(e.clock.Now())) }

// next returns the next run record written that matches (earlier ones are
// dropped).
func (e *env) next(t *testing.T, match func(store.Run) bool) store.Run {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case r := <-e.events:
			if match(r) {
				return r
			}
		case <-timeout:
			t.Fatal("no matching run record was written")
			return store.Run{}
		}
	}
}

func final(r store.Run) bool { return r.Status.Final() }

func status(s store.RunStatus) func(store.Run) bool {
	return func(r store.Run) bool { return r.Status == s }
}

// runs returns a job's runs, newest first.
func (e *env) runs(t *testing.T, name string) []store.Run {
	t.Helper()
	var runs []store.Run
	if err := e.db.View(func(tx *store.Tx) (err error) { runs, err = tx.Runs(name, 0); return err }); err != nil {
		t.Fatal(err)
	}
	return runs
}

func (e *env) output(t *testing.T, id uint64) string {
	t.Helper()
	var out []byte
	if err := e.db.View(func(tx *store.Tx) (err error) { out, err = tx.RunOutput(id); return err }); err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// entry returns a copy of what the scheduler knows of a job (nil if none).
func (e *env) entry(name string) *entry {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	en := e.s.entries[name]
	if en == nil {
		return nil
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	return &entry{name: en.name, job: en.job, gid: en.gid, nextDue: en.nextDue, sched: en.sched}
}
