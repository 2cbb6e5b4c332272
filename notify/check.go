package notify

import (
	"fmt"
	"slices"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// change is what one check found for one subject: its new state, whether
// that differs from the stored one, and the events to announce.
type change struct {
	state  store.WatchState
	write  bool
	events []Event
	// prev is the state the change was computed from (known: there was
	// one); it is written only while the store still holds prev.
	prev  store.WatchState
	known bool
}

// runsLooked is how many of a job's newest runs a check reads.
const runsLooked = 50

// Check compares every token and job with what was last seen of it and
// records what changed: the new watch states and a delivery per event and
// interested notifier, in one transaction. It returns how many deliveries
// it created. When nothing changed it only reads.
func (s *Service) Check() (int, error) {
	now := s.o.Now()
	var changes []change
	var gone map[string]store.WatchState
	err := s.db.View(func(tx *store.Tx) (err error) {
		changes, gone, err = s.changes(tx, now)
		return err
	})
	dirty := len(gone) > 0 || slices.ContainsFunc(changes, func(c change) bool { return c.write })
	if err != nil || !dirty {
		return 0, err
	}
	var created int
	var announced []announcement
	// The write reads only the watch states, not the tokens, jobs and runs
	// the changes were computed from: a change is applied while its
	// subject's state is still the one it was computed from, so two
	// processes that saw the same change record it once, and runs written
	// meanwhile (by every node, all the time) do not make this transaction
	// conflict on an optimistic store. The next check sees what came after.
	err = s.db.Update(func(tx *store.Tx) error {
		created, announced = 0, nil // the closure may run again (an optimistic store)
		states, err := tx.WatchStates()
		if err != nil {
			return err
		}
		notifiers, err := tx.Notifiers()
		if _, other := store.DamagedRecords(err); other != nil {
			return other
		}
		for _, c := range changes {
			if cur, ok := states[c.state.Subject]; !c.write || ok != c.known || cur != c.prev {
				continue // unchanged, or another process got there first
			}
			as, err := apply(tx, c, notifiers)
			for _, a := range as {
				created += a.deliveries
			}
			announced = append(announced, as...)
			if err != nil {
				return err
			}
		}
		for subject, prev := range gone {
			if cur, ok := states[subject]; ok && cur == prev {
				if err := tx.DeleteWatchState(subject); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("notify: record events: %w", err)
	}
	for _, a := range announced {
		s.log.Info("notify: event", "type", a.ev.Type, "subject", a.subject, "id", a.ev.ID, "deliveries", a.deliveries)
	}
	return created, nil
}

// announcement is an event recorded by a check, for its log line.
type announcement struct {
	ev         Event
	subject    string
	deliveries int
}

// apply writes one subject's new state and its events' deliveries.
func apply(tx *store.Tx, c change, notifiers []store.Notifier) ([]announcement, error) {
	if !c.write {
		return nil, nil
	}
	if err := tx.PutWatchState(c.state); err != nil {
		return nil, err
	}
	var out []announcement
	for _, ev := range c.events {
		n, err := enqueue(tx, ev, notifiers)
		if err != nil {
			return out, err
		}
		out = append(out, announcement{ev: ev, subject: c.state.Subject, deliveries: n})
	}
	return out, nil
}

// changes reads every token and job and its watch state and returns what
// changed, and the subjects whose token or job is gone.
func (s *Service) changes(tx *store.Tx, now time.Time) ([]change, map[string]store.WatchState, error) {
	states, err := tx.WatchStates()
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	toks, err := tx.Tokens()
	if _, other := store.DamagedRecords(err); other != nil {
		return nil, nil, other
	}
	lim := tokenLimits{failingAfter: s.o.FailingAfter, expiringWithin: s.o.ExpiringWithin}
	var out []change
	for _, t := range toks {
		subject := "token:" + t.Name
		seen[subject] = true
		old, known := states[subject]
		next, evs := tokenStep(t, old, now, lim)
		out = append(out, change{state: next, write: !known || next != old, events: evs, prev: old, known: known})
	}
	jobs, err := tx.Jobs()
	if _, other := store.DamagedRecords(err); other != nil {
		return nil, nil, other
	}
	for _, j := range jobs {
		subject := "job:" + j.Name
		seen[subject] = true
		runs, err := tx.Runs(j.Name, runsLooked)
		if err != nil {
			return nil, nil, err
		}
		slices.Reverse(runs) // oldest first
		old, known := states[subject]
		next, evs := jobStep(j.Name, runs, old, known, now)
		out = append(out, change{state: next, write: !known || next != old, events: evs, prev: old, known: known})
	}
	gone := map[string]store.WatchState{}
	for subject, st := range states {
		if !seen[subject] {
			gone[subject] = st
		}
	}
	return out, gone, nil
}
