package keyedmutex

import (
	"context"
	"errors"
	"testing"
)

func TestMap(t *testing.T) {
	var k Map
	unlock, err := k.Lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.TryLock("a"); !errors.Is(err, ErrBusy) {
		t.Fatalf("TryLock of a held key: %v, want ErrBusy", err)
	}
	other, err := k.TryLock("b")
	if err != nil {
		t.Fatalf("another key is independent: %v", err)
	}
	other()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.Lock(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock of a held key with a done context: %v", err)
	}
	unlock()
	again, err := k.TryLock("a")
	if err != nil {
		t.Fatalf("TryLock after unlock: %v", err)
	}
	again()
	if len(k.m) != 0 {
		t.Errorf("%d entries left after every unlock, want 0", len(k.m))
	}
}
