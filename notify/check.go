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

// runsLooked is how many runs of a job a check reads: the newest of those
// after the last run its watch state has looked at.
const runsLooked = 50

// Check compares every token and job with what was last seen of it and
// records what changed: the new watch states and a delivery per event and
// interested notifier, a batch of subjects per transaction (recordBudget).
// It returns how many deliveries it created. When nothing changed it only
// reads.
func (s *Service) Check() (int, error) {
	now := s.o.Now()
	var dirty []change
	var gone map[string]store.WatchState
	notifiers := 0 // to size the batches
	err := s.db.View(func(tx *store.Tx) error {
		changes, g, err := s.changes(tx, now)
		if err != nil {
			return err
		}
		dirty, gone = slices.DeleteFunc(changes, func(c change) bool { return !c.write }), g
		if len(dirty) > 0 {
			ns, _ := tx.Notifiers() // an error shows in the write, which reads them again
			notifiers = len(ns)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	created := 0
	for _, b := range batches(dirty, gone, notifiers) {
		n, announced, err := s.record(b)
		created += n
		for _, a := range announced {
			s.log.Info("notify: event", "type", a.ev.Type, "subject", a.subject, "id", a.ev.ID, "deliveries", a.deliveries)
		}
		if err != nil {
			return created, fmt.Errorf("notify: record events: %w", err)
		}
	}
	return created, nil
}

// batch is what one transaction of a check records: changes to apply, and
// the states of subjects that are gone, to delete.
type batch struct {
	changes []change
	gone    map[string]store.WatchState
}

// recordBudget bounds the writes (and reads) of one batch: etcd refuses a
// transaction with more than --max-txn-ops (128 by default) of either, and
// a check after a burst of runs changes a state per job.
const recordBudget = 100

// batches splits a check's writes into batches within recordBudget: a
// change costs its state (read and written) and, per event and notifier,
// a delivery (read, written, and its pending mark); a gone subject its
// delete. A change that alone exceeds the budget has a batch of its own.
func batches(changes []change, gone map[string]store.WatchState, notifiers int) []batch {
	var out []batch
	cur, used := batch{}, 0
	add := func(cost int) {
		if used > 0 && used+cost > recordBudget {
			out = append(out, cur)
			cur, used = batch{}, 0
		}
		used += cost
	}
	for _, c := range changes {
		add(1 + 2*len(c.events)*max(notifiers, 1))
		cur.changes = append(cur.changes, c)
	}
	for subject, st := range gone {
		add(1)
		if cur.gone == nil {
			cur.gone = map[string]store.WatchState{}
		}
		cur.gone[subject] = st
	}
	if used > 0 {
		out = append(out, cur)
	}
	return out
}

// record writes one batch and returns how many deliveries it created and
// the events it recorded.
//
// The write reads only the watch states of the batch's subjects, not the
// tokens, jobs and runs the changes were computed from: a change is
// applied while its subject's state is still the one it was computed from,
// so two processes that saw the same change record it once, and runs
// written meanwhile (by every node, all the time) do not make this
// transaction conflict on an optimistic store. The next check sees what
// came after.
func (s *Service) record(b batch) (int, []announcement, error) {
	subjects := make([]string, 0, len(b.changes)+len(b.gone))
	for _, c := range b.changes {
		subjects = append(subjects, c.state.Subject)
	}
	for subject := range b.gone {
		subjects = append(subjects, subject)
	}
	var created int
	var announced []announcement
	err := s.db.Update(func(tx *store.Tx) error {
		created, announced = 0, nil // the closure may run again (an optimistic store)
		states, err := tx.WatchStatesOf(subjects)
		if err != nil {
			return err
		}
		notifiers, err := tx.Notifiers()
		if _, other := store.DamagedRecords(err); other != nil {
			return other
		}
		for _, c := range b.changes {
			if cur, ok := states[c.state.Subject]; ok != c.known || cur != c.prev {
				continue // another process got there first
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
		for subject, prev := range b.gone {
			if cur, ok := states[subject]; ok && cur == prev {
				if err := tx.DeleteWatchState(subject); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return created, announced, nil
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
// changed, and the subjects whose token or job is gone. Of a job it reads
// only the name (a damaged job keeps its watch state) and the runs after
// the last one its state has looked at (jobStep passes over the others):
// a check costs what happened since the last one, not every job's history.
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
	jobs, err := tx.JobNames()
	if err != nil {
		return nil, nil, err
	}
	for _, job := range jobs {
		subject := "job:" + job
		seen[subject] = true
		old, known := states[subject]
		// Unknown, LastRun is 0: the newest runsLooked runs.
		runs, err := tx.RunsAfter(job, old.LastRun, runsLooked)
		if err != nil {
			return nil, nil, err
		}
		s.runsRead.Add(int64(len(runs)))
		next, evs := jobStep(job, runs, old, known, now)
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
