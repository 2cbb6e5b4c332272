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
}

// runsLooked is how many of a job's newest runs a check reads.
const runsLooked = 50

// Check compares every token and job with what was last seen of it and
// records what changed: the new watch states and a delivery per event and
// interested notifier, in one transaction. It returns how many deliveries
// it created. When nothing changed it only reads.
func (s *Service) Check() (int, error) {
	now := s.o.Now()
	var dirty bool
	err := s.db.View(func(tx *store.Tx) error {
		changes, gone, err := s.changes(tx, now)
		dirty = len(gone) > 0 || slices.ContainsFunc(changes, func(c change) bool { return c.write })
		return err
	})
	if err != nil || !dirty {
		return 0, err
	}
	var created int
	var announced []announcement
	err = s.db.Update(func(tx *store.Tx) error {
		created, announced = 0, nil // the closure may run again (an optimistic store)
		changes, gone, err := s.changes(tx, now)
		if err != nil {
			return err
		}
		notifiers, err := tx.Notifiers()
		if _, other := store.DamagedRecords(err); other != nil {
			return other
		}
		for _, c := range changes {
			as, err := apply(tx, c, notifiers)
			for _, a := range as {
				created += a.deliveries
			}
			announced = append(announced, as...)
			if err != nil {
				return err
			}
		}
		for _, subject := range gone {
			if err := tx.DeleteWatchState(subject); err != nil {
				return err
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
func (s *Service) changes(tx *store.Tx, now time.Time) ([]change, []string, error) {
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
		out = append(out, change{state: next, write: !known || next != old, events: evs})
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
		out = append(out, change{state: next, write: !known || next != old, events: evs})
	}
	var gone []string
	for subject := range states {
		if !seen[subject] {
			gone = append(gone, subject)
		}
	}
	return out, gone, nil
}
