package store

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// sweepEvery is how often writes of ephemeral state also delete the expired
// values of every kind, on a backend without leases (bbolt).
const sweepEvery = 10 * time.Minute

// kvEphemeral keeps ephemeral state in ordinary keys of a backend's
// transactions (bbolt): the expiry in each value is checked on every read,
// and a write removes expired values every sweepEvery. One update
// transaction excludes every other, in this process and others (the file
// lock), so a take is a read and a delete in one of them.
type kvEphemeral struct {
	kv  backend
	now func() time.Time

	mu        sync.Mutex
	lastSweep time.Time // guarded by mu
}

func newKVEphemeral(kv backend, now func() time.Time) *kvEphemeral {
	return &kvEphemeral{kv: kv, now: now}
}

func (x *kvEphemeral) put(k string, v []byte, _ time.Duration, createOnly bool) error {
	now := x.now()
	sweep := x.sweepDue(now)
	return x.kv.update(func(tx kvTx) error {
		if createOnly {
			old, err := tx.Get(k)
			if err != nil {
				return err
			}
			if live(old, now) {
				return fmt.Errorf("%w: an unexpired value is there", ErrExists)
			}
		}
		if err := tx.Put(k, v); err != nil {
			return err
		}
		if sweep {
			return sweepExpired(tx, now)
		}
		return nil
	})
}

func (x *kvEphemeral) replace(k string, v []byte, _ time.Duration) error {
	now := x.now()
	return x.kv.update(func(tx kvTx) error {
		old, err := tx.Get(k)
		if err != nil {
			return err
		}
		if !live(old, now) {
			return fmt.Errorf("%w: no unexpired value to replace", ErrNotFound)
		}
		return tx.Put(k, v)
	})
}

// sweepDue reports whether this write should sweep, and if so starts the
// next period.
func (x *kvEphemeral) sweepDue(now time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if now.Sub(x.lastSweep) < sweepEvery && !now.Before(x.lastSweep) {
		return false
	}
	x.lastSweep = now
	return true
}

// sweepExpired deletes every expired (or unreadable) ephemeral value.
func sweepExpired(tx kvTx, now time.Time) error {
	prefix := key(spaceEphemeral, "")
	var dead []string
	err := tx.List(prefix, func(rest string, v []byte) error {
		if !live(v, now) {
			dead = append(dead, prefix+rest)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range dead {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func (x *kvEphemeral) get(k string) ([]byte, error) {
	var v []byte
	err := x.kv.view(func(tx kvTx) error {
		got, err := tx.Get(k)
		v = bytes.Clone(got) // valid only inside the transaction
		return err
	})
	return v, err
}

func (x *kvEphemeral) take(k string) ([]byte, error) {
	var v []byte
	err := x.kv.update(func(tx kvTx) error {
		got, err := tx.Get(k)
		if err != nil || got == nil {
			return err
		}
		v = bytes.Clone(got)
		return tx.Delete(k)
	})
	return v, err
}

func (x *kvEphemeral) del(k string) error {
	return x.kv.update(func(tx kvTx) error { return tx.Delete(k) })
}

func (x *kvEphemeral) list(prefix string, fn func(v []byte)) error {
	return x.kv.view(func(tx kvTx) error {
		return tx.List(prefix, func(_ string, v []byte) error { fn(v); return nil })
	})
}
