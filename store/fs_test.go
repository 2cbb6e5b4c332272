package store

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tmpfs mounts a small tmpfs for the test (root only: CI runs as root).
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to simulate the file system (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// A full disk fails the write with a clear message, writes nothing, and
// leaves a database that opens and passes its check.
func TestDiskFull(t *testing.T) {
	dir := tmpfs(t, "512k")
	db, err := Open(filepath.Join(dir, "scriptrun.db"), testKey(7), Options{})
	must(t, err)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("small")) }))
	// Fill the rest of the file system.
	f, err := os.Create(filepath.Join(dir, "filler"))
	must(t, err)
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	big := testProvider("big")
	big.Description = strings.Repeat("x", 200<<10)
	err = db.Update(func(tx *Tx) error { return tx.CreateProvider(big) })
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk is full") || !strings.Contains(err.Error(), db.Path()) {
		t.Fatalf("write on a full disk: %v, want a 'disk is full' error naming the file", err)
	}
	os.Remove(filepath.Join(dir, "filler"))
	db2, err := Open(db.Path(), testKey(7), Options{})
	must(t, err)
	must(t, db2.Check())
	must(t, db2.View(func(tx *Tx) error {
		if _, err := tx.Provider("big"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the failed record is there: %v", err)
		}
		_, err := tx.Provider("small")
		return err
	}))
	must(t, db2.Update(func(tx *Tx) error { return tx.CreateProvider(big) }))
}

// A read-only home: reads work, writes fail with a clear message.
func TestReadOnlyHome(t *testing.T) {
	dir := tmpfs(t, "1m")
	path := filepath.Join(dir, "scriptrun.db")
	db, err := Open(path, testKey(7), Options{})
	must(t, err)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v %s", err, out)
	}
	ro, err := Open(path, testKey(7), Options{})
	if err != nil {
		t.Fatalf("Open on a read-only file system: %v", err)
	}
	must(t, ro.View(func(tx *Tx) error { _, err := tx.Provider("graph"); return err }))
	err = ro.Update(func(tx *Tx) error { return tx.DeleteProvider("graph", true) })
	if err == nil || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), path) {
		t.Fatalf("write on a read-only file system: %v", err)
	}
}
