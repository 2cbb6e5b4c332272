package tokens

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// crashProcess refreshes the token over and over, printing each step of
// every refresh, until it is killed.
func crashProcess() int {
	db, err := store.Open(os.Getenv("TOKENS_DB"), storetest.Key(), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m := New(Options{DB: db})
	m.hook = func(step string) { os.Stdout.WriteString(step + "\n") }
	os.Stdout.WriteString("ready\n")
	for {
		if _, err := m.Refresh(context.Background(), "api"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// Not a wait: a random pause in this child fixture, so that the
		// parent's kills fall at every step of a refresh and between them.
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	}
}

// A process refreshing a token against a provider that rotates refresh
// tokens is killed with SIGKILL at random moments, 100 times. Every time the
// database opens and passes bbolt's consistency check, and the token still
// refreshes — except when the kill fell inside the one window no client can
// close: the provider had been sent the request (and may have rotated the
// refresh token) but the answer was not yet committed. The test tells those
// apart by the steps the process printed before it died.
func TestCrashDuringRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 100 processes")
	}
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	const kills = 100
	var survived, inWindow, lost int
	for i := range kills {
		last := killRefreshing(t, e, i)
		window := last == "sending" || last == "received"
		db, err := store.Open(e.db.Path(), storetest.Key(), store.Options{})
		if err != nil {
			t.Fatalf("kill %d: database does not open: %v", i, err)
		}
		if err := db.Check(); err != nil {
			t.Fatalf("kill %d: database check: %v", i, err)
		}
		_, err = New(Options{DB: db}).Refresh(context.Background(), "api")
		switch {
		case err == nil:
			survived++
		case window && CodeOf(err) == CodeReauthRequired:
			inWindow++
			e.authorize(t, "api") // the admin presses "Get authorization token" again
		default:
			lost++
			t.Errorf("kill %d after %q: the token no longer refreshes outside the window: %v", i, last, err)
			e.authorize(t, "api")
		}
	}
	t.Logf("%d kills: token refreshed afterwards %d times, lost in the provider-answered window %d times, lost otherwise %d times; provider saw %d refreshes",
		kills, survived, inWindow, lost, e.srv.Stats().RefreshRequests)
	if survived == 0 {
		t.Error("no kill was survived: the kills are not landing at random points")
	}
}

// killRefreshing starts a crashProcess on e's home, kills it with SIGKILL
// at a random moment and returns the last step it printed ("ready" when it
// printed none of a refresh).
func killRefreshing(t *testing.T, e *env, i int) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TOKENS_TEST_PROCESS=crash", "TOKENS_DB="+e.db.Path())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("kill %d: child did not start: %q %v\n%s", i, line, err, stderr.String())
	}
	// Not a wait for something: the kill lands at a random point.
	time.Sleep(time.Duration(rand.IntN(25000)) * time.Microsecond)
	cmd.Process.Signal(syscall.SIGKILL)
	rest := new(strings.Builder)
	r.WriteTo(rest)
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("kill %d: child ended on its own: %v\n%s", i, cmd.ProcessState, stderr.String())
	}
	if steps := strings.Fields(rest.String()); len(steps) > 0 {
		return steps[len(steps)-1]
	}
	return "ready"
}
