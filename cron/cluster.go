package cron

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Several serve nodes on one clustered (etcd) store: every node schedules
// every job (no scheduler lock); before a scheduled run a node claims
// (job, due time) in the store, and only the node whose claim commits runs
// it. A job runs in one place at a time through its run lock, which is
// cluster-wide there. A node records its runs with its name and life
// (store.Node); when its registration ends before a run does (the node
// died: its lease expired), another node records the run as lost, with the
// output the node last saved (it saves it every FlushInterval). Job changes,
// run requests and cancels reach every node by watch.

// Defaults of the cluster options.
const (
	DefaultFlushInterval = 2 * time.Second
	// lostCheckInterval is how often a node looks for runs of nodes that
	// went away, besides when it hears that a node did.
	lostCheckInterval = 2 * time.Second
	// lockWaitInterval is how often a run waiting for its job's lock held
	// on another node tries it again.
	lockWaitInterval = 250 * time.Millisecond
)

// clustered reports whether this scheduler is a node among several.
func (s *Scheduler) clustered() bool { return s.o.Node != nil }

// nodeName is this node's name, "" on a single machine.
func (s *Scheduler) nodeName() string {
	if s.o.Node == nil {
		return ""
	}
	return s.o.Node.Info.Name
}

// claimAttempts bounds the tries of a claim whose write may or may not have
// been applied (the cluster lost its leader meanwhile).
const claimAttempts = 3

// claim takes the scheduled run of e due at due for this node and reports
// whether it got it; on a single machine every due time is this process's.
// A claim that ended in ErrUnavailable may have been applied: the claims
// are read back, and the due time is this node's only if they name it.
// e.mu is held.
func (s *Scheduler) claim(e *entry, due time.Time) bool {
	if !s.clustered() {
		return true
	}
	var err error
	for range claimAttempts {
		var ok bool
		err = s.db.Update(func(tx *store.Tx) (err error) { ok, err = tx.ClaimRun(e.name, due, s.nodeName()); return err })
		if err == nil {
			return ok
		}
		if !errors.Is(err, store.ErrUnavailable) {
			break
		}
		if who, known := s.claimedBy(e.name, due); known {
			return who == s.nodeName()
		}
	}
	// Unknowable whether another node got it: running it could run it
	// twice, so this node does not.
	s.log.Error("cron: could not claim a scheduled run; another node may run it", "job", e.name, "due", due, "err", err)
	return false
}

// maxPassedOverClaims bounds the due times a late node claims after a
// stall (of a longer stall, the oldest ones and the newest; the others
// stay unrecorded).
const maxPassedOverClaims = 8

// claimPassedOver handles the due times between first and due that this
// node passed over because it fired late. Usually another node ran them
// (it claimed them on time, and the claim here fails). When every node
// stalled at once (a loaded machine, a GC pause, an etcd hiccup), no node
// did: this node claims each and records it as missed, so that every due
// time has exactly one record. They are at least one period old, so a node
// still about to run one on time cannot be outrun.
func (s *Scheduler) claimPassedOver(e *entry, first, due time.Time, why string) {
	passed, _ := e.sched.Due(first.Add(-time.Nanosecond), due.Add(-time.Nanosecond), maxPassedOverClaims)
	for _, t := range passed {
		if s.claim(e, t) {
			s.recordMissed(e, t, t, 1, why+"; no node ran it")
		}
	}
}

// claimedBy reads who claimed job's due time; known is false when the
// claims cannot be read or do not have it.
func (s *Scheduler) claimedBy(job string, due time.Time) (node string, known bool) {
	var claims []store.RunClaim
	if err := s.db.View(func(tx *store.Tx) (err error) { claims, err = tx.RunClaims(job); return err }); err != nil {
		return "", false
	}
	for _, c := range claims {
		if c.Due.Equal(due) {
			return c.Node, true
		}
	}
	return "", false
}

// convertRunLayout moves runs a store copied from an older bbolt file keeps
// in the older layout to the per-job one, so that their jobs can be deleted
// within etcd's operations per transaction (store.DB.ConvertRunLayout).
func (s *Scheduler) convertRunLayout() {
	n, err := s.db.ConvertRunLayout()
	if err != nil {
		s.log.Warn("cron: could not move old runs to the per-job layout; will try at the next start", "err", err)
	}
	if n > 0 {
		s.log.Info("cron: moved runs of an older scriptrun to the per-job layout", "runs", n)
	}
}

// othersAlive reports whether another node is registered: then the jobs
// were scheduled while this one was away, and nothing was missed.
func (s *Scheduler) othersAlive() bool {
	var nodes []store.NodeInfo
	if err := s.db.View(func(tx *store.Tx) (err error) { nodes, err = tx.Nodes(); return err }); err != nil {
		return true // unknown: recording missed runs that were not is worse
	}
	for _, n := range nodes {
		if n.Name != s.nodeName() {
			return true
		}
	}
	return false
}

// startClusterLoops starts, on a clustered store, the watches of job
// changes and of nodes, and the search for lost runs.
func (s *Scheduler) startClusterLoops(ctx context.Context) {
	if !s.clustered() {
		return
	}
	changed := make(chan struct{}, 1)
	nodes := make(chan struct{}, 1)
	kick := func(ch chan struct{}) func(string) {
		return func(string) {
			select {
			case ch <- struct{}{}:
			default: // one pending notice stands for any number
			}
		}
	}
	for kind, ch := range map[string]chan struct{}{store.ChangeCron: changed, store.ChangeNodes: nodes} {
		if err := s.db.Watch(ctx, kind, kick(ch)); err != nil {
			s.log.Warn("cron: cannot watch the store; changes are seen by polling", "kind", kind, "err", err)
		}
	}
	s.loops.Add(2)
	go func() {
		defer s.loops.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				if err := s.poll(ctx); err != nil {
					s.log.Warn("cron: reading job changes failed; will retry", "err", err)
				}
			}
		}
	}()
	go s.lostLoop(ctx, nodes)
}

// lostLoop records the runs of nodes that went away as lost: when it hears
// of a node change, and every lostCheckInterval.
func (s *Scheduler) lostLoop(ctx context.Context, nodes <-chan struct{}) {
	defer s.loops.Done()
	t := time.NewTicker(lostCheckInterval)
	defer t.Stop()
	for {
		if err := s.sweepLost(); err != nil {
			s.log.Warn("cron: looking for runs of nodes that went away failed; will retry", "err", err)
		}
		s.sweeps.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-nodes:
		case <-t.C:
		}
	}
}

// sweepLost records as lost every unfinished run whose node's life ended.
// Each is written in an Update that re-reads the run and the node, so that
// of the surviving nodes exactly one records it, once.
func (s *Scheduler) sweepLost() error {
	var runs []store.Run
	alive := map[string]string{}
	err := s.db.View(func(tx *store.Tx) error {
		var err error
		if runs, err = tx.ActiveRuns(); err != nil {
			return err
		}
		nodes, err := tx.Nodes()
		for _, n := range nodes {
			alive[n.Name] = n.ID
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Node == "" {
			s.closeOrphan(r)
			continue
		}
		if alive[r.Node] == r.NodeID || r.NodeID == s.o.Node.Info.ID {
			continue // its node lives, or it is this node's (still going here)
		}
		if err := s.markLost(r.ID); err != nil {
			return err
		}
	}
	return nil
}

// closeOrphan records as cancelled an unfinished run of no node (a
// `scriptrun cron run`) whose job's run lock is free: its process ended
// before the run did. The lock keeps two nodes from doing it at once; the
// run is re-read under it, so one that just ended keeps its record.
func (s *Scheduler) closeOrphan(r store.Run) {
	unlock, err := s.db.TryLockJob(r.Job)
	if err != nil {
		return // still running in a live process, or unknowable
	}
	defer unlock()
	closed := false
	err = s.db.Update(func(tx *store.Tx) error {
		closed = false
		cur, err := tx.Run(r.ID)
		if err != nil || cur.Status.Final() {
			return err
		}
		cur.Status, cur.Finished = store.RunCancelled, s.clock.Now().UTC()
		cur.Reason = "the process running it (" + cur.RunBy + ") ended before the run finished"
		closed = true
		return tx.UpdateRun(cur, nil)
	})
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.log.Warn("cron: could not close a run left unfinished", "job", r.Job, "run", r.ID, "err", err)
	case closed:
		s.log.Warn("cron run was left unfinished by a process that ended", "job", r.Job, "run", r.ID)
	}
}

// markLost records run id as lost unless it ended or its node came back
// meanwhile.
func (s *Scheduler) markLost(id uint64) error {
	var lost store.Run
	err := s.db.Update(func(tx *store.Tx) error {
		lost = store.Run{}
		r, err := tx.Run(id)
		if err != nil || r.Status.Final() {
			return err
		}
		if ok, err := tx.NodeAlive(r.Node, r.NodeID); err != nil || ok {
			return err
		}
		r.Status = store.RunLost
		r.Finished = s.clock.Now().UTC()
		r.Reason = fmt.Sprintf("node %s, which ran it, went away (it stopped renewing its lease) before the run ended; recorded by node %s with the output it last saved", r.Node, s.nodeName())
		if err := tx.UpdateRun(r, nil); err != nil {
			return err
		}
		lost = r
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // its job was removed
	}
	if err != nil {
		return fmt.Errorf("record run %d as lost: %w", id, err)
	}
	if lost.ID != 0 {
		s.log.Warn("cron run lost: the node running it went away", "job", lost.Job, "run", lost.ID, "node", lost.Node)
		s.metrics.run(lost)
		s.event(lost)
	}
	return nil
}

// flushOutput saves a running run's output every FlushInterval on a
// clustered store, so that a run whose node dies keeps what it wrote. It
// returns a function that stops the saving and waits for it.
func (s *Scheduler) flushOutput(a *activeRun, out *capture) (stop func()) {
	if !s.clustered() {
		return func() {}
	}
	run := a.run // a.run belongs to the run's goroutine; this is a copy
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(s.o.FlushInterval)
		defer t.Stop()
		var saved []byte
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			output, total, truncated := out.output()
			if bytes.Equal(output, saved) {
				continue
			}
			saved = bytes.Clone(output)
			run.OutputBytes, run.Truncated = total, truncated
			r := run
			err := s.writer.do(func(tx *store.Tx) error {
				// A run another node recorded lost (this node was cut
				// off for longer than its lease) stays so until it ends.
				if cur, err := tx.Run(r.ID); err != nil || cur.Status.Final() {
					return err
				}
				return tx.UpdateRun(r, saved)
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("cron: could not save a running run's output", "job", r.Job, "run", r.ID, "err", err)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// waitElsewhereLocked handles a trigger that found the job running on
// another node: with overlap queue or replace it waits (queued) for that
// run to end, replace first asking its node to cancel it; with skip, or
// when a run already waits anywhere, it is recorded as skipped. e.mu is
// held.
func (s *Scheduler) waitElsewhereLocked(e *entry, base store.Run) (store.Run, error) {
	var waiting, running []store.Run
	err := s.db.View(func(tx *store.Tx) error {
		active, err := tx.ActiveRuns()
		for _, r := range active {
			switch {
			case r.Job != e.name:
			case r.Status == store.RunQueued:
				waiting = append(waiting, r)
			case r.Status == store.RunRunning:
				running = append(running, r)
			}
		}
		return err
	})
	if err != nil {
		return store.Run{}, err
	}
	const elsewhere = "the job was running in another process (a `scriptrun cron run`, or another node)"
	if e.job.Overlap == store.OverlapSkip || e.job.Overlap == "" || (e.job.Overlap == store.OverlapQueue && len(waiting) > 0) {
		base.Status, base.Reason = store.RunSkipped, elsewhere
		if len(waiting) > 0 {
			base.Reason = fmt.Sprintf("the job was running on another node and run %d is already waiting (the queue holds one)", waiting[0].ID)
		}
		return s.record(base)
	}
	a := s.newActive(e, base)
	a.waiting = true
	a.run.Status, a.run.Reason = store.RunQueued, "waiting for the run on another node to end"
	rec, err := s.record(a.run)
	if err != nil {
		a.cancel(err)
		return store.Run{}, err
	}
	a.id, a.run.ID = rec.ID, rec.ID
	if e.job.Overlap == store.OverlapReplace {
		for _, r := range append(running, waiting...) {
			s.requestCancel(r, fmt.Sprintf("replaced by run %d", rec.ID))
		}
	}
	e.running = a
	s.active.Add(1)
	s.runs.Add(1)
	go s.executeWhenFree(e, a)
	return a.run, nil
}

// executeWhenFree waits for the job's run lock, held on another node, then
// runs a; cancelled meanwhile, a ends unstarted.
func (s *Scheduler) executeWhenFree(e *entry, a *activeRun) {
	for {
		unlock, err := s.db.TryLockJob(e.name)
		if err == nil {
			a.unlockJob = unlock
			s.execute(e, a)
			return
		}
		if !errors.Is(err, store.ErrBusy) {
			s.log.Warn("cron: a waiting run could not take its job's lock; will retry", "job", e.name, "run", a.id, "err", err)
		}
		t := time.NewTimer(lockWaitInterval)
		select {
		case <-a.ctx.Done():
			t.Stop()
			s.end(e, a, nil, context.Canceled)
			s.runs.Done()
			return
		case <-t.C:
		}
	}
}

// requestCancel asks the node running r to cancel it.
func (s *Scheduler) requestCancel(r store.Run, reason string) {
	err := s.writer.do(func(tx *store.Tx) error { _, err := tx.RequestCancel(r.Job, r.ID, reason); return err })
	if err != nil {
		s.log.Warn("cron: could not ask another node to cancel a run", "job", r.Job, "run", r.ID, "err", err)
	}
}

// CancelAnywhere cancels run id here if it is queued or running here, or
// else, on a clustered store, asks the node that runs it to (a request in
// the store, served by watch). It reports whether the run was found
// unfinished.
func (s *Scheduler) CancelAnywhere(id uint64, reason string) bool {
	if s.CancelRun(id, reason) {
		return true
	}
	if !s.clustered() || s.db == nil {
		return false
	}
	var r store.Run
	if err := s.db.View(func(tx *store.Tx) (err error) { r, err = tx.Run(id); return err }); err != nil || r.Status.Final() {
		return false
	}
	err := s.db.Update(func(tx *store.Tx) error { _, err := tx.RequestCancel(r.Job, r.ID, reason); return err })
	if err != nil {
		s.log.Warn("cron: could not ask another node to cancel a run", "job", r.Job, "run", r.ID, "err", err)
		return false
	}
	return true
}

// serveCancel acts on a cancel request: the node running the run cancels
// it and answers; others leave it. It reports whether the request is done
// with (answered here, or stale).
func (s *Scheduler) serveCancel(req store.RunRequest) {
	if s.CancelRun(req.Cancel, req.Reason) {
		err := s.writer.do(func(tx *store.Tx) error { return tx.ClaimRunRequest(req.ID, req.Cancel, "") })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("cron: could not answer a cancel request", "job", req.Job, "run", req.Cancel, "err", err)
		}
		return
	}
	if s.clock.Now().Sub(req.Requested) > requestTTL {
		s.deleteRequest(req.ID)
	}
}

// takeRequest reports whether this node serves run request req: on a
// single machine always; among nodes, the one whose take commits.
func (s *Scheduler) takeRequest(req store.RunRequest) bool {
	if !s.clustered() {
		return true
	}
	var ok bool
	err := s.db.Update(func(tx *store.Tx) (err error) { ok, err = tx.TakeRunRequest(req.ID, s.nodeName()); return err })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("cron: could not take a run request", "job", req.Job, "err", err)
	}
	return err == nil && ok
}

func (s *Scheduler) deleteRequest(id uint64) {
	_ = s.writer.do(func(tx *store.Tx) error {
		if err := tx.DeleteRunRequest(id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}
