package tokens

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// TestMain lets the test binary act as one of several scriptrun processes
// sharing a home (see TestProcessesShareOneRefresh).
func TestMain(m *testing.M) {
	switch os.Getenv("TOKENS_TEST_PROCESS") {
	case "1":
		os.Exit(helperProcess())
	case "crash":
		os.Exit(crashProcess())
	}
	os.Exit(m.Run())
}

// helperProcess says "ready" and waits for its stdin to close (the start
// signal, given to every helper at once), then signs and sends requests from
// many goroutines with a clock set past the token's expiry.
func helperProcess() int {
	dbPath, api := os.Getenv("TOKENS_DB"), os.Getenv("TOKENS_API")
	offset, _ := time.ParseDuration(os.Getenv("TOKENS_CLOCK_OFFSET"))
	workers, _ := strconv.Atoi(os.Getenv("TOKENS_WORKERS"))
	db, err := store.Open(dbPath, storetest.Key(), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m := New(Options{DB: db, Now: func() time.Time { return time.Now().Add(offset) }})
	defer m.Close()
	os.Stdout.WriteString(helperReady)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it: the start signal
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", api+"/me", nil)
			if err := m.Sign(context.Background(), "api", req); err != nil {
				errs <- err
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("API status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		failed++
	}
	if failed > 0 {
		return 1
	}
	return 0
}

const helperReady = "ready\n"

// helperOutput collects a helper process's output and closes ready once the
// helper has said it is at the start line.
type helperOutput struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
}

func (o *helperOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	wasReady := bytes.Contains(o.buf.Bytes(), []byte(helperReady))
	o.buf.Write(p)
	if !wasReady && bytes.Contains(o.buf.Bytes(), []byte(helperReady)) {
		close(o.ready)
	}
	return len(p), nil
}

func (o *helperOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// runHelpers runs procs helper processes of workers callers each against
// e's home, their clocks offset, and waits for them. Every one first opens
// the database and stands at the start line; then they all go at once. It
// returns each failed helper's error with its output.
func runHelpers(t *testing.T, e *env, procs, workers int, offset time.Duration) []error {
	t.Helper()
	n := procs
	var cmds []*exec.Cmd
	var outs []*helperOutput
	var starts []io.Closer
	for range n {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "TOKENS_TEST_PROCESS=1", "TOKENS_DB="+e.db.Path(), "TOKENS_API="+e.srv.APIURL(),
			"TOKENS_CLOCK_OFFSET="+offset.String(), "TOKENS_WORKERS="+strconv.Itoa(workers))
		out := &helperOutput{ready: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = out, out
		start, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { start.Close() }) // a helper never left waiting
		cmds, outs, starts = append(cmds, cmd), append(outs, out), append(starts, start)
	}
	done := make([]chan error, n)
	for i, cmd := range cmds {
		done[i] = make(chan error, 1)
		go func() { done[i] <- cmd.Wait() }()
	}
	for i, out := range outs {
		select {
		case <-out.ready:
		case err := <-done[i]:
			t.Fatalf("helper %d ended (%v) before the start line:\n%s", i, err, out)
		case <-time.After(time.Minute):
			t.Fatalf("helper %d did not reach the start line:\n%s", i, out)
		}
	}
	for _, s := range starts {
		s.Close()
	}
	var errs []error
	for i := range cmds {
		if err := <-done[i]; err != nil {
			errs = append(errs, fmt.Errorf("process %d: %w\n%s", i, err, outs[i]))
		}
	}
	return errs
}

// Several OS processes sharing one home hit an expired token at once, over
// several expiries: each expiry costs exactly one token-endpoint call, every
// request succeeds, and no refresh token is ever presented twice.
func TestProcessesShareOneRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	const procs, workers, rounds = 3, 50, 3
	for round := 1; round <= rounds; round++ {
		for _, err := range runHelpers(t, e, procs, workers, time.Duration(round)*2*time.Hour) {
			t.Errorf("round %d %v", round, err)
		}
		st := e.srv.Stats()
		if st.RefreshRequests != round || st.RefreshTokenReuse != 0 {
			t.Fatalf("after round %d: %d refresh requests (want %d), %d refresh tokens reused (want 0)", round, st.RefreshRequests, round, st.RefreshTokenReuse)
		}
	}
}
