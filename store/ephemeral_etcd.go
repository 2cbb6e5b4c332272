package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
)

// etcdEphemeral keeps ephemeral state in etcd keys attached to leases, so
// that the cluster deletes them on its own soon after they expire; the
// expiry sealed in each value is what decides, to the nanosecond.
//
// Keys share leases: a lease granted for a bucket of time-to-live serves
// every write of that bucket for one step (leaseStep), so a busy console
// grants a few leases a minute instead of one per write (and per session
// refresh). A key so lives at least its TTL and at most two steps longer,
// unreadable meanwhile since its value has expired. See
// BenchmarkEphemeralPut for the cost of each way.
type etcdEphemeral struct {
	c   *etcdkv.Client
	now func() time.Time

	mu     sync.Mutex
	leases map[time.Duration]sharedLease // by bucket; guarded by mu
}

// sharedLease is a lease writes of one TTL bucket attach their keys to
// until usable passes.
type sharedLease struct {
	id     int64
	usable time.Time
}

func (e *etcdBackend) ephemeral(now func() time.Time) ephemeralKV {
	return &etcdEphemeral{c: e.c, now: now, leases: make(map[time.Duration]sharedLease)}
}

// leaseStep is how long one shared lease takes new keys for a TTL of ttl,
// and how much longer than its bucket it lives.
func leaseStep(ttl time.Duration) time.Duration {
	switch {
	case ttl < time.Minute:
		return time.Second
	case ttl < time.Hour:
		return time.Minute
	}
	return 10 * time.Minute
}

// lease returns a lease that outlives ttl from now: a shared one of ttl's
// bucket, granted when none is usable.
func (x *etcdEphemeral) lease(ttl time.Duration) (int64, error) {
	step := leaseStep(ttl)
	bucket := (ttl + step - 1) / step * step
	now := time.Now() // leases run on the cluster's time, not a test clock
	x.mu.Lock()
	defer x.mu.Unlock()
	if l, ok := x.leases[bucket]; ok && now.Before(l.usable) {
		return l.id, nil
	}
	// Granted under the mutex: concurrent writers share the new lease
	// rather than each granting one.
	id, err := x.c.Grant(context.Background(), bucket+step)
	if err != nil {
		return 0, err
	}
	x.leases[bucket] = sharedLease{id: id, usable: now.Add(step)}
	return id, nil
}

// forget drops a cached lease the cluster no longer knows (revoked, or the
// cluster restored from a backup).
func (x *etcdEphemeral) forget(id int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for b, l := range x.leases {
		if l.id == id {
			delete(x.leases, b)
		}
	}
}

func (x *etcdEphemeral) put(k string, v []byte, ttl time.Duration, createOnly bool) error {
	err := x.write(k, v, ttl, createOnly, 0)
	if createOnly && errors.Is(err, etcdkv.ErrConflict) {
		// A key is there: refuse, unless its value expired and only its
		// lease keeps it; then replace exactly that one.
		old, gerr := x.c.Get(context.Background(), k)
		switch {
		case errors.Is(gerr, etcdkv.ErrNotFound):
			err = x.write(k, v, ttl, true, 0)
		case gerr != nil:
			return gerr
		case live(old.Value, x.now()):
			return fmt.Errorf("%w: an unexpired value is there", ErrExists)
		default:
			err = x.write(k, v, ttl, true, old.ModRevision)
		}
	}
	if errors.Is(err, etcdkv.ErrConflict) {
		return fmt.Errorf("%w: written meanwhile by another node", ErrExists)
	}
	return err
}

// replace writes k only over the unexpired value it read: a delete or a
// write by another node in between makes it read again.
func (x *etcdEphemeral) replace(k string, v []byte, ttl time.Duration) error {
	for range 3 {
		old, err := x.c.Get(context.Background(), k)
		if errors.Is(err, etcdkv.ErrNotFound) || (err == nil && !live(old.Value, x.now())) {
			return fmt.Errorf("%w: no unexpired value to replace", ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err = x.write(k, v, ttl, true, old.ModRevision); !errors.Is(err, etcdkv.ErrConflict) {
			return err
		}
	}
	return errors.New("written by other nodes while this one tried: try again")
}

// write puts k under a shared lease, if createOnly only while its
// ModRevision is modRev (0: absent). A lease the cluster lost is replaced
// once.
func (x *etcdEphemeral) write(k string, v []byte, ttl time.Duration, createOnly bool, modRev int64) error {
	var conds []etcdkv.Cond
	if createOnly {
		conds = []etcdkv.Cond{etcdkv.Unchanged(k, modRev)}
	}
	for attempt := 0; ; attempt++ {
		id, err := x.lease(ttl)
		if err != nil {
			return err
		}
		_, err = x.c.Commit(context.Background(), conds, []etcdkv.Op{etcdkv.OpPutLease(k, v, id)})
		if errors.Is(err, etcdkv.ErrLeaseNotFound) && attempt == 0 {
			x.forget(id)
			continue
		}
		return err
	}
}

func (x *etcdEphemeral) get(k string) ([]byte, error) {
	kv, err := x.c.Get(context.Background(), k)
	if errors.Is(err, etcdkv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return kv.Value, nil
}

// take deletes k and returns its previous value in one request: the
// cluster applies deletes one at a time, so only one taker sees the value.
func (x *etcdEphemeral) take(k string) ([]byte, error) {
	kv, err := x.c.Take(context.Background(), k)
	if errors.Is(err, etcdkv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return kv.Value, nil
}

func (x *etcdEphemeral) del(k string) error { return x.c.Delete(context.Background(), k) }

func (x *etcdEphemeral) list(prefix string, fn func(v []byte)) error {
	kvs, _, err := x.c.List(context.Background(), prefix)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		fn(kv.Value)
	}
	return nil
}
