package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/scriptrun/scriptrun/store"
)

// flights runs at most one call per key at a time in this process; callers
// asking for a key while its call runs wait for it and share its result. The
// call runs in its own goroutine: a caller that gives up stops waiting, not
// the call, so a refresh the provider has answered is still stored. wait
// returns once every call (and every job started with goBackground) is done.
type flights struct {
	group   singleflight.Group
	running sync.WaitGroup
}

// do runs fn under key, or joins the call of key already running.
func (f *flights) do(ctx context.Context, key string, fn func() (*entry, error)) (*entry, error) {
	f.running.Add(1) // per caller, so wait cannot pass a call about to start
	ch := f.group.DoChan(key, func() (any, error) { return fn() })
	select {
	case r := <-ch:
		f.running.Done()
		e, _ := r.Val.(*entry)
		return e, r.Err
	case <-ctx.Done():
		go func() { <-ch; f.running.Done() }()
		return nil, ctx.Err()
	}
}

// goBackground runs fn in a goroutine that wait waits for.
func (f *flights) goBackground(fn func()) { f.running.Go(fn) }

func (f *flights) wait() { f.running.Wait() }

// renew brings the named token up to date for r in one flight per token:
// every caller in this process waiting for it shares the flight's result.
// The flight runs on its own context, bounded by RefreshTimeout: a refresh
// the provider has answered must be stored even if the script timed out.
func (m *Manager) renew(ctx context.Context, name string, r reason) (*entry, error) {
	detached := context.WithoutCancel(ctx)
	e, err := m.flights.do(ctx, "renew\x00"+name, func() (*entry, error) {
		ctx, cancel := context.WithTimeout(detached, m.refreshTimeout)
		defer cancel()
		e, err := m.renewWithTokenLock(ctx, name, r)
		m.remember(name, e)
		return e, err
	})
	if err != nil && ctx.Err() != nil && CodeOf(err) == "" {
		return nil, fmt.Errorf("token %q: waiting for its refresh: %w", name, err)
	}
	return e, err
}

// Close waits for refreshes in flight (and last-use records) to be stored,
// so a process that exits right after a script does not drop a rotated
// refresh token.
func (m *Manager) Close() error {
	m.flights.wait()
	return nil
}

// maxRedecide bounds how often one flight reads the token and decides
// again after another process stored a new credential under it.
const maxRedecide = 3

// renewWithTokenLock is one flight. Under the token's lock (which excludes
// other processes while it holds; m.mu is not held) it takes four steps:
// re-read the token, decide again, call the token endpoint, save the
// answer fenced on what was read (renewOnce). When the fence finds that
// another process stored a new credential meanwhile, it starts again from
// the re-read, which then usually signs with that credential.
//
// Why the lock alone is not enough: on etcd it is a lease, and a holder
// that stalls past the lease's TTL (a GC pause, a stopped VM, a partition)
// loses it while its token endpoint call is in flight; another process
// then takes it and refreshes too. etcd's documentation says this of its
// own locks: "a lease-based lock service cannot provide mutual exclusion
// to processes" (contrib/lock/README.md, after Kleppmann's "How to do
// distributed locking"; and "Notes on the usage of lock and lease" in its
// API guarantees, added after Jepsen's etcd issue #11457), and it has the
// protected resource validate a version number, a fencing token. Here that
// is the token record's revision, compared in the same transaction as the
// write (store.Tx.ReplaceToken). The lock saves others a second call; the
// fence makes the write correct, so the answer is stored even after the
// lock was lost (the provider has rotated already: dropping it would lose
// the credential) and dropped, as a possible replay, when another process
// stored first.
func (m *Manager) renewWithTokenLock(ctx context.Context, name string, r reason) (*entry, error) {
	lock, err := m.db.LockToken(ctx, name)
	if err != nil {
		return nil, newError(CodeRefreshFailed, name, err, "token %q: could not take its refresh lock: %v", name, err)
	}
	defer lock.Unlock()
	if m.lockHook != nil {
		m.lockHook(lock)
	}
	for attempt := 1; ; attempt++ {
		e, err := m.renewOnce(ctx, lock, name, r)
		var sup *superseded
		if !errors.As(err, &sup) {
			return e, err
		}
		if attempt == maxRedecide {
			return nil, sup.terr
		}
		if r.kind == reasonForced {
			r = due // another process's new credential is the refresh asked for
		}
	}
}

// renewOnce takes the four steps of a flight once. Called with the token's
// lock held.
func (m *Manager) renewOnce(ctx context.Context, lock store.Lock, name string, r reason) (*entry, error) {
	// 1. Re-read: another process may have renewed it while we waited.
	t, p, err := m.read(name)
	if err != nil {
		return nil, err
	}
	// 2. Decide again, on what the lock protects now.
	d := decide(&t, p, r, m.now())
	switch {
	case d.signs() || d.action == reload: // reload: it was just read again
		return newEntry(t, p, m.now())
	case d.action == fail:
		return m.failed(t, p, r, d.err, 0)
	case !d.calls():
		return nil, d.err
	}
	// 3. Call the token endpoint.
	start := time.Now()
	set, err := m.callEndpoint(ctx, t, *p, d.action)
	if err != nil {
		return m.failed(t, p, r, callError(t, *p, d.action, err), time.Since(start))
	}
	// 4. Save the answer, durably, before anyone uses it.
	return m.commit(lock, t, p, d.action, set, time.Since(start))
}

// read returns the token and its provider (nil when the provider is gone).
func (m *Manager) read(name string) (store.Token, *store.Provider, error) {
	var t store.Token
	var p *store.Provider
	err := m.db.View(func(tx *store.Tx) (err error) {
		t, p, err = tx.TokenWithProvider(name)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return t, nil, newError(CodeNotFound, name, err, "token %q does not exist: create it with `scriptrun token add %s --provider NAME`", name, name)
	case err != nil:
		return t, nil, newError(CodeStore, name, err, "token %q: %v", name, err)
	}
	return t, p, nil
}

// callEndpoint asks p's token endpoint for a new token set for t: with the
// refresh token (refresh) or with the client's credentials (fetch). Called
// with the token's file lock held.
func (m *Manager) callEndpoint(ctx context.Context, t store.Token, p store.Provider, a action) (tokenSet, error) {
	var call func(ctx context.Context) (*oauth2.Token, error)
	if a == fetch {
		call = clientCredentialsConfig(p, t).Token
	} else {
		cfg := oauthConfig(p, t, "")
		call = func(ctx context.Context) (*oauth2.Token, error) {
			// Only a refresh token, so x/oauth2's own (10 s early) expiry
			// check always asks the provider.
			return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: t.Secret.RefreshToken}).Token()
		}
	}
	m.step("sending")
	set, err := m.tokenCall(ctx, p, call)
	if err == nil {
		m.step("received")
	}
	return set, err
}

// callError words a failed call to the token endpoint. A dead refresh token
// (deadRefreshToken) gets CodeReauthRequired; anything else may pass.
func callError(t store.Token, p store.Provider, a action, err error) *Error {
	if a == fetch {
		what := describe(err, t.Secret.AccessToken, p.ClientSecret)
		return newError(CodeRefreshFailed, t.Name, err, "token %q could not get an access token from provider %q (client_credentials): %s", t.Name, p.Name, what)
	}
	what := describe(err, t.Secret.RefreshToken, t.Secret.AccessToken, p.ClientSecret)
	var th *throttled
	if errors.As(err, &th) {
		what += "; the provider asked not to be called again before " + th.until.UTC().Format(time.RFC3339) + " (Retry-After)"
	}
	if !deadRefreshToken(err) {
		return newError(CodeRefreshFailed, t.Name, err, "token %q could not be refreshed: %s", t.Name, what)
	}
	return newError(CodeReauthRequired, t.Name, err, "token %q could not be refreshed: %s: an admin must press \"Get authorization token\" again or run `scriptrun token authorize %s`", t.Name, what, t.Name)
}

// commit stores what the provider answered and only then returns it for
// use. A refresh keeps the old refresh token when the provider sent none,
// and earlier extra fields it did not repeat; a fetch replaces everything.
// The write is fenced on t, as read before the call: if another process
// stored a new credential meanwhile, the answer is dropped, the event
// says "possible refresh-token replay", and the error is a *superseded.
// Called with the token's lock held, or just lost: the write is made
// anyway when the fence holds, since the provider has already rotated.
func (m *Manager) commit(lock store.Lock, t store.Token, p *store.Provider, a action, set tokenSet, took time.Duration) (*entry, error) {
	next, kind, failure, how := set.replacing, EventFetched, EventFetchFailed, "fetched"
	if a == refresh {
		next, kind, failure, how = set.renewing, EventRefreshed, EventRefreshFailed, "refreshed"
	}
	saved, rotated, err := m.save(t, next, set.expires, sameCredential(t.Secret))
	var sup *superseded
	if errors.As(err, &sup) {
		m.emit(Event{Kind: EventReplaySuspected, Token: t.Name, Type: t.Type, Provider: t.Provider, Duration: took, Message: sup.terr.Msg})
		return nil, err
	}
	if err != nil {
		// The provider may have rotated the refresh token: say so plainly.
		terr := newError(CodeStore, t.Name, err, "token %q was %s by the provider but could not be stored (%v); if the provider rotates refresh tokens it must be authorized again", t.Name, how, err)
		m.emit(Event{Kind: failure, Token: t.Name, Type: t.Type, Provider: t.Provider, Duration: took, Code: terr.Code, Message: terr.Msg})
		return nil, terr
	}
	m.noteLockLost(lock, t, how)
	m.step("saved")
	m.emit(Event{Kind: kind, Time: saved.LastRefreshed, Token: t.Name, Type: t.Type, Provider: t.Provider, Duration: took, Rotated: rotated, Expires: saved.Expires})
	return newEntry(saved, p, m.now())
}

func (m *Manager) step(s string) {
	if m.hook != nil {
		m.hook(s)
	}
}

// failed records a failure in the token (lastMessage, failure count and
// time, and state reauth_required when terr's code is CodeReauthRequired)
// and tells listeners. Then decide, asked again about the token as
// recorded, says whether its old access token may still sign (a failure that
// may pass, while it has not expired): if so it is returned, else terr.
// Called with the token's file lock held.
func (m *Manager) failed(t store.Token, p *store.Provider, r reason, terr *Error, took time.Duration) (*entry, error) {
	kind := EventRefreshFailed
	switch {
	case terr.Code == CodeReauthRequired:
		kind = EventReauthRequired
	case fetches(p):
		kind = EventFetchFailed
	}
	m.emit(Event{Kind: kind, Token: t.Name, Type: t.Type, Provider: t.Provider, Duration: took, Code: terr.Code, Message: terr.Msg})
	recorded, err := m.recordFailure(t.Name, terr)
	if err != nil {
		return nil, err
	}
	if decide(&recorded, p, r, m.now()).signs() {
		return newEntry(recorded, p, m.now())
	}
	return nil, terr
}

// recordFailure writes terr into the stored token and returns it as stored.
// Called with the token's file lock held.
func (m *Manager) recordFailure(name string, terr *Error) (store.Token, error) {
	var saved store.Token
	err := m.db.Update(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		t.LastMessage = terr.Msg
		t.RefreshFailures++
		t.RefreshFailed = m.now().UTC()
		t.RetryAfter = time.Time{}
		var th *throttled
		if errors.As(terr, &th) {
			t.RetryAfter = th.until.UTC()
		}
		if terr.Code == CodeReauthRequired {
			t.State = store.StateReauthRequired
		}
		saved = t
		return tx.PutToken(t)
	})
	if err != nil {
		return saved, newError(CodeStore, name, err, "%s (and recording that failed: %v)", terr.Msg, err)
	}
	return saved, nil
}

// maxSaveAttempts bounds how often save writes again over other changes
// to the token that leave its credential as read (a last-use time, an
// admin's edit of its fields).
const maxSaveAttempts = 4

// save stores a new credential, next(the credential read), expiring at
// expires, as authorized with no failure, and returns the token as stored
// and whether the refresh token changed. The write is fenced on read's
// revision (store.Tx.ReplaceToken). When the token has changed since, it
// is read again: if applies(the token now) still holds (its credential is
// the one the answer replaces), the answer is written over the other
// changes, fenced on the new read; if not, nothing is written and the
// error is a *superseded. Called with the token's lock held (a refresh, a
// fetch, or an authorization's code exchange), or just lost.
func (m *Manager) save(read store.Token, next func(old store.Secret) store.Secret, expires time.Time, applies func(store.Token) bool) (store.Token, bool, error) {
	base := read
	for attempt := 1; ; attempt++ {
		saved, rotated := renewed(base, next, expires, m.now())
		err := m.db.Update(func(tx *store.Tx) error { return tx.ReplaceToken(saved, base.Revision) })
		if !errors.Is(err, store.ErrConflict) || attempt == maxSaveAttempts {
			return saved, rotated, err
		}
		var cur store.Token
		if err := m.db.View(func(tx *store.Tx) (err error) { cur, err = tx.Token(read.Name); return err }); err != nil {
			return saved, rotated, err
		}
		if !applies(cur) {
			return store.Token{}, false, &superseded{terr: newError(CodeRefreshFailed, read.Name, err,
				"token %q: another process stored a new credential while this one's token endpoint call was in flight; its answer was dropped and the token read again (possible refresh-token replay: if the provider detects reuse it may revoke the grant)", read.Name)}
		}
		base = cur
	}
}

// renewed is base with the credential next(base's), expiring at expires,
// obtained now, authorized with no failure, and whether the refresh token
// changed.
func renewed(base store.Token, next func(old store.Secret) store.Secret, expires, now time.Time) (store.Token, bool) {
	t := base
	t.Secret = next(base.Secret)
	rotated := base.Secret.RefreshToken != "" && t.Secret.RefreshToken != base.Secret.RefreshToken
	t.Expires = expires.UTC()
	t.LastRefreshed = now.UTC()
	t.LastMessage = ""
	t.RefreshFailures = 0
	t.RefreshFailed = time.Time{}
	t.RetryAfter = time.Time{}
	t.State = store.StateAuthorized
	return t, rotated
}

// sameCredential says whether a token still holds the credential of read:
// the refresh and access tokens a refresh or fetch answer replaces.
func sameCredential(read store.Secret) func(store.Token) bool {
	return func(cur store.Token) bool {
		return cur.Secret.RefreshToken == read.RefreshToken && cur.Secret.AccessToken == read.AccessToken
	}
}

// anyCredential: an authorization replaces whatever credential is stored.
func anyCredential(store.Token) bool { return true }

// superseded is the error of a refresh whose answer was dropped because
// another process stored a new credential first; the flight reads the
// token and decides again.
type superseded struct{ terr *Error }

func (s *superseded) Error() string { return s.terr.Error() }
func (s *superseded) Unwrap() error { return s.terr }

// noteLockLost tells listeners when the token's lock ended (its etcd
// lease expired) while the token endpoint was called: the answer was
// stored all the same, the write being fenced on what was read.
func (m *Manager) noteLockLost(lock store.Lock, t store.Token, how string) {
	select {
	case <-lock.Lost():
		m.emit(Event{Kind: EventLockLost, Token: t.Name, Type: t.Type, Provider: t.Provider,
			Message: fmt.Sprintf("token %q: its lock's lease ended while it was being %s; the answer was stored, fenced on the token as read", t.Name, how)})
	default:
	}
}

// renewing is the secret after a refresh: the answer, with the old refresh
// token when the provider sent none (RFC 6749 section 6) and the old extra
// fields it did not repeat.
func (s tokenSet) renewing(old store.Secret) store.Secret {
	sec := s.secret
	if sec.RefreshToken == "" {
		sec.RefreshToken = old.RefreshToken
	}
	if len(old.Extra) > 0 {
		merged := make(map[string]json.RawMessage, len(old.Extra)+len(sec.Extra))
		maps.Copy(merged, old.Extra)
		maps.Copy(merged, sec.Extra)
		sec.Extra = merged
	}
	return sec
}

// replacing is the secret after an authorization or a client-credentials
// fetch: each answer is a whole new token set, nothing of the old is kept.
func (s tokenSet) replacing(store.Secret) store.Secret { return s.secret }
