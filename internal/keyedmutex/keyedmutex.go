// Package keyedmutex hands out one in-process lock per key, so goroutines of
// one process queue for a name before they contend for a lock other
// processes or nodes share (a lock file, an etcd lock). Each lock is a
// one-slot channel, which, unlike sync.Mutex, can be waited for with a
// context; a key's entry lives only while someone holds or waits for it.
package keyedmutex

import (
	"context"
	"errors"
	"sync"
)

// ErrBusy is TryLock's answer when another goroutine holds the key.
var ErrBusy = errors.New("busy in this process")

// Map is a set of locks by key. The zero value is ready to use.
type Map struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	ch   chan struct{}
	refs int
}

// Lock waits for key's turn until ctx is done, and returns the unlock.
func (k *Map) Lock(ctx context.Context, key string) (unlock func(), err error) {
	return k.acquire(ctx, key, true)
}

// TryLock takes key's turn if it is free now, or returns ErrBusy.
func (k *Map) TryLock(key string) (unlock func(), err error) {
	return k.acquire(context.Background(), key, false)
}

func (k *Map) acquire(ctx context.Context, key string, wait bool) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*entry)
	}
	l := k.m[key]
	if l == nil {
		l = &entry{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	drop := func() {
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	unlock := func() { <-l.ch; drop() }
	if !wait {
		select {
		case l.ch <- struct{}{}:
			return unlock, nil
		default:
			drop()
			return nil, ErrBusy
		}
	}
	select {
	case l.ch <- struct{}{}:
		return unlock, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}
