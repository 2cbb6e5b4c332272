package store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary act as another process taking job locks
// (STORE_TEST_LOCK_CHILD=path of the database).
func TestMain(m *testing.M) {
	if path := os.Getenv("STORE_TEST_LOCK_CHILD"); path != "" {
		os.Exit(lockChild(path, os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// lockChild takes and releases job locks on the database at path as told
// on in, one command a line ("lock NAME", "unlock NAME"), answering each
// with a line: "ok", "busy" or the error.
func lockChild(path string, in io.Reader, out io.Writer) int {
	db, err := Open(path, testKey(7), Options{})
	if err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	defer db.Close()
	held := map[string]func(){}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		verb, name, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "lock":
			unlock, err := db.TryLockJob(name)
			switch {
			case errors.Is(err, ErrBusy):
				fmt.Fprintln(out, "busy")
			case err != nil:
				fmt.Fprintln(out, err)
			default:
				held[name] = unlock
				fmt.Fprintln(out, "ok")
			}
		case "unlock":
			held[name]()
			delete(held, name)
			fmt.Fprintln(out, "ok")
		}
	}
	return 0
}

// lockProcess is a child process holding job locks on a database.
type lockProcess struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

func startLockProcess(t *testing.T, path string) *lockProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STORE_TEST_LOCK_CHILD="+path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("lock process: %v", err)
		}
	})
	return &lockProcess{t: t, in: in, out: bufio.NewScanner(out)}
}

// do sends one command and returns the answer.
func (p *lockProcess) do(cmd string) string {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		p.t.Fatal(err)
	}
	if !p.out.Scan() {
		p.t.Fatalf("lock process ended after %q: %v", cmd, p.out.Err())
	}
	return p.out.Text()
}

// Job locks exclude another process both ways, also when taken again on
// the descriptor each process keeps open after an unlock.
func TestTryLockJobAcrossProcesses(t *testing.T) {
	db := openTestDB(t)
	child := startLockProcess(t, db.Path())
	busyHere := func(name string) {
		t.Helper()
		if _, err := db.TryLockJob(name); !errors.Is(err, ErrBusy) {
			t.Errorf("TryLockJob(%s) here while the other process holds it: %v, want ErrBusy", name, err)
		}
	}
	for round := range 2 { // the second round reuses the kept descriptors
		unlock, err := db.TryLockJob("sync")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := child.do("lock sync"); got != "busy" {
			t.Errorf("round %d: the other process took sync while held here: %q", round, got)
		}
		if got := child.do("lock other"); got != "ok" {
			t.Fatalf("round %d: the other process could not take another job's lock: %q", round, got)
		}
		busyHere("other")
		unlock()
		if got := child.do("lock sync"); got != "ok" {
			t.Fatalf("round %d: the other process could not take sync after its release: %q", round, got)
		}
		busyHere("sync")
		child.do("unlock sync")
		child.do("unlock other")
	}
}

// In one process a job lock is held once: a second TryLockJob is busy,
// through the same DB or another on the same file; a lock file removed
// while its descriptor is kept is opened again, so the lock still excludes
// whoever opens the path now.
func TestTryLockJobInProcess(t *testing.T) {
	db := openTestDB(t)
	other, err := Open(db.Path(), testKey(7), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	unlock, err := db.TryLockJob("sync")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*DB{db, other} {
		if _, err := d.TryLockJob("sync"); !errors.Is(err, ErrBusy) {
			t.Errorf("second TryLockJob(sync) in this process: %v, want ErrBusy", err)
		}
	}
	unlock()

	// The lock file goes while its descriptor is kept (unlocked).
	path := filepath.Join(filepath.Dir(db.Path()), "locks", "cron-sync.lock")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	unlock, err = db.TryLockJob("sync")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Open(db.Path(), testKey(7), Options{}) // opens the path anew
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.TryLockJob("sync"); !errors.Is(err, ErrBusy) {
		t.Errorf("TryLockJob(sync) on the path while held after its file was removed: %v, want ErrBusy", err)
	}
	unlock()
}

// A backend keeps at most keptLimit lock files open, never closing one
// that is held.
func TestKeptLocksBounded(t *testing.T) {
	db := openTestDB(t)
	other, err := Open(db.Path(), testKey(7), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	unlockHeld, err := db.TryLockJob("held")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockHeld()
	limit := keptLimit.Get()
	if limit < 1 || limit > maxKeptLocks {
		t.Fatalf("keptLimit.Get() = %d, want 1 to %d", limit, maxKeptLocks)
	}
	for i := range limit + 10 {
		unlock, err := db.TryLockJob(fmt.Sprintf("j%d", i))
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	}
	kept := &db.file.kept
	open := func() int { kept.mu.Lock(); defer kept.mu.Unlock(); return len(kept.files) }
	if n := open(); n > limit {
		t.Errorf("%d lock files kept open, want at most %d", n, limit)
	}
	if _, err := other.TryLockJob("held"); !errors.Is(err, ErrBusy) {
		t.Errorf("a held lock after %d others: %v, want ErrBusy (its descriptor was closed)", limit+10, err)
	}
	// Close closes the free ones; the held lock stays held.
	must(t, db.Close())
	if n := open(); n != 1 {
		t.Errorf("%d lock files kept open after Close, want the held one", n)
	}
	if _, err := other.TryLockJob("held"); !errors.Is(err, ErrBusy) {
		t.Errorf("a held lock after Close: %v, want ErrBusy", err)
	}
}

// BenchmarkTryLockJob is what the scheduler pays per run for the job's
// run lock: take it, release it.
func BenchmarkTryLockJob(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey(7), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := db.TryLockJob("sync")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}
