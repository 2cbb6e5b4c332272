package tokens

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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

// helperProcess waits for the start file, then signs and sends requests from
// many goroutines with a clock set past the token's expiry.
func helperProcess() int {
	dbPath, api, start := os.Getenv("TOKENS_DB"), os.Getenv("TOKENS_API"), os.Getenv("TOKENS_START")
	offset, _ := time.ParseDuration(os.Getenv("TOKENS_CLOCK_OFFSET"))
	workers, _ := strconv.Atoi(os.Getenv("TOKENS_WORKERS"))
	db, err := store.Open(dbPath, storetest.Key(), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m := New(Options{DB: db, Now: func() time.Time { return time.Now().Add(offset) }})
	defer m.Close()
	for {
		if _, err := os.Stat(start); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
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
		start := filepath.Join(t.TempDir(), "start")
		var cmds []*exec.Cmd
		var outs []*bytes.Buffer
		for range procs {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(),
				"TOKENS_TEST_PROCESS=1",
				"TOKENS_DB="+e.db.Path(),
				"TOKENS_API="+e.srv.APIURL(),
				"TOKENS_START="+start,
				"TOKENS_CLOCK_OFFSET="+(time.Duration(round)*2*time.Hour).String(),
				"TOKENS_WORKERS="+strconv.Itoa(workers),
			)
			out := &bytes.Buffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds, outs = append(cmds, cmd), append(outs, out)
		}
		time.Sleep(100 * time.Millisecond) // let them all reach the start line
		if err := os.WriteFile(start, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Errorf("round %d process %d: %v\n%s", round, i, err, outs[i])
			}
		}
		st := e.srv.Stats()
		if st.RefreshRequests != round || st.RefreshTokenReuse != 0 {
			t.Fatalf("after round %d: %d refresh requests (want %d), %d refresh tokens reused (want 0)", round, st.RefreshRequests, round, st.RefreshTokenReuse)
		}
	}
}
