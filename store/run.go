package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// RunStatus is where a job's run is in its life. Queued and running are
// transient; the others are final.
type RunStatus string

// Run statuses.
const (
	RunQueued    RunStatus = "queued"    // waiting for the previous run or a free slot
	RunRunning   RunStatus = "running"   // the script is running
	RunSucceeded RunStatus = "succeeded" // the script finished without an uncaught error
	RunFailed    RunStatus = "failed"    // the script threw, did not compile, or could not start
	RunTimedOut  RunStatus = "timed_out" // the job's timeout stopped it
	RunSkipped   RunStatus = "skipped"   // not run: overlap policy, missed while down, or busy elsewhere
	RunCancelled RunStatus = "cancelled" // stopped by shutdown, replace, removal, or its process died
	// RunLost: the node running it went away (its lease expired) before
	// the run finished; another node recorded it, with the output last
	// flushed (clustered stores only).
	RunLost RunStatus = "lost"
)

// Final reports whether a run in status s is over.
func (s RunStatus) Final() bool {
	switch s {
	case RunSucceeded, RunFailed, RunTimedOut, RunSkipped, RunCancelled, RunLost:
		return true
	}
	return false
}

func (s RunStatus) valid() bool { return s == RunQueued || s == RunRunning || s.Final() }

// RunTrigger says why a run happened.
type RunTrigger string

// Run triggers.
const (
	TriggerSchedule RunTrigger = "schedule"
	TriggerManual   RunTrigger = "manual" // `scriptrun cron run`, or "run now" in the console
)

// MaxRunOutput bounds the output stored with a run; callers cap what they
// capture well below it (package cron keeps 1 MiB by default).
const MaxRunOutput = 16 << 20

// Run is one run of a job: its outcome and timing. Its output is stored
// apart (RunOutput) so that listing runs stays cheap.
type Run struct {
	ID      uint64     `json:"id"`
	Job     string     `json:"job"`
	Trigger RunTrigger `json:"trigger"`
	Status  RunStatus  `json:"status"`
	// Scheduled is when a scheduled run was due; for a record of missed
	// runs, the last one missed. Zero for manual runs.
	Scheduled time.Time `json:"scheduled,omitzero"`
	Created   time.Time `json:"created"`           // when the run was recorded (triggered)
	Started   time.Time `json:"started,omitzero"`  // when the script started
	Finished  time.Time `json:"finished,omitzero"` // when the run ended
	// ScriptSHA256 is the digest of the source that ran (or would have).
	ScriptSHA256 string `json:"scriptSha256,omitempty"`
	// Error is what went wrong: the message and the JavaScript stack.
	Error string `json:"error,omitempty"`
	// Reason says why a run was skipped or cancelled, in words.
	Reason string `json:"reason,omitempty"`
	// Missed counts the scheduled runs this record stands for that did not
	// happen because no scheduler was running (or it was far too late).
	Missed int `json:"missed,omitempty"`
	// OutputBytes is how much the script wrote; more than was kept when
	// Truncated is set.
	OutputBytes int64 `json:"outputBytes,omitempty"`
	Truncated   bool  `json:"truncated,omitempty"`
	// RunBy names the process that ran it, e.g. "serve (pid 4242)".
	RunBy string `json:"runBy,omitempty"`
	// Node and NodeID name the node that runs it on a clustered store, and
	// which life of that node (NodeInfo.ID): when that registration ends
	// before the run does, the run is lost.
	Node   string `json:"node,omitempty"`
	NodeID string `json:"nodeId,omitempty"`
}

// Duration is how long the script ran; zero until the run has finished.
func (r Run) Duration() time.Duration {
	if r.Started.IsZero() || r.Finished.IsZero() {
		return 0
	}
	return r.Finished.Sub(r.Started)
}

// Where a run lives. A job's runs and their outputs are kept under the
// job's name, so that its whole history is deleted with two prefix deletes
// (DeleteJob) within etcd's 128 operations per transaction:
//
//	cronjobruns  name \x00 BE id -> Run (empty: an older run, see below)
//	cronoutput   name \x00 BE id -> output
//	cronruns     BE id -> 0x01 name: where run id is (Run(id) by id alone)
//	cronactive   BE id -> name: runs queued or running
//
// Runs recorded before this layout (every bbolt file of an older
// scriptrun) keep theirs: an empty index value under cronjobruns, the
// record under cronruns/BE id (a JSON object) and the output under
// cronoutput/BE id. They are read and updated where they are and deleted
// one key at a time; new runs never use it, so trimming makes them go, and
// ConvertRunLayout moves them (a serve node on etcd does at start, for a
// store copied from an older file).
// Nothing is migrated: a file stays readable by the scriptrun that wrote
// it (apart from runs recorded since), and the schema does not change.
//
// A pointer under cronruns is left behind when its job is deleted (one
// small key per run; deleting them would cost an operation each): Run(id)
// then finds no record and reports ErrNotFound, as for any deleted run.

// runPointer marks a cronruns value that names the job holding the run.
const runPointer = 0x01

func runIndexKey(job string, id uint64) string {
	k := make([]byte, 0, len(job)+9)
	k = append(k, job...)
	k = append(k, 0)
	return string(binary.BigEndian.AppendUint64(k, id))
}

// jobRunsPrefix is the prefix of a job's keys in cronjobruns and cronoutput.
func jobRunsPrefix(space, job string) string { return key(space, job+"\x00") }

// runLoc says where one run's record and output are.
type runLoc struct {
	job    string
	record string // key of the Run
	output string // key of its output
	legacy bool   // the layout of runs recorded by an older scriptrun
}

func newRunLoc(job string, id uint64) runLoc {
	return runLoc{job: job, record: key(spaceCronJobRuns, runIndexKey(job, id)), output: key(spaceCronOutput, runIndexKey(job, id))}
}

func legacyRunLoc(job string, id uint64) runLoc {
	k := string(u64(id))
	return runLoc{job: job, record: key(spaceCronRuns, k), output: key(spaceCronOutput, k), legacy: true}
}

// locateRun finds run id by its cronruns entry; ok is false when there is
// none (or its job, and the run with it, was deleted).
func (tx *Tx) locateRun(id uint64) (loc runLoc, ok bool, err error) {
	v, err := tx.kv.Get(key(spaceCronRuns, string(u64(id))))
	if err != nil {
		return runLoc{}, false, fmt.Errorf("read run %d from %s: %w", id, tx.db.path, err)
	}
	switch {
	case v == nil:
		return runLoc{}, false, nil
	case len(v) > 1 && v[0] == runPointer:
		return newRunLoc(string(v[1:]), id), true, nil
	}
	return legacyRunLoc("", id), true, nil
}

// AddRun records a new run of an existing job with output (nil for none),
// assigning its ID, and trims the job's history to its last KeepRuns runs
// (runs still queued or running are never trimmed; a history much longer
// than KeepRuns, after it was lowered, loses at most maxTrim runs per
// AddRun). A scheduled run advances
// the job's LastScheduled.
func (tx *Tx) AddRun(r Run, output []byte) (Run, error) {
	keep, err := tx.jobKeepRuns(r.Job)
	if err != nil {
		return Run{}, err
	}
	if err := checkRun(r, output); err != nil {
		return Run{}, err
	}
	if r.ID, err = tx.kv.NextSequence(spaceCronRuns); err != nil {
		return Run{}, err
	}
	if r.Created.IsZero() {
		r.Created = tx.db.now().UTC()
	}
	if err := tx.kv.Put(key(spaceCronRuns, string(u64(r.ID))), append([]byte{runPointer}, r.Job...)); err != nil {
		return Run{}, err
	}
	if err := tx.writeRun(newRunLoc(r.Job, r.ID), r, output, true); err != nil {
		return Run{}, err
	}
	return r, tx.trimRuns(r.Job, keep)
}

// UpdateRun replaces the record of run r.ID (same job) and, when output is
// not nil, its output. A run removed meanwhile (its job was deleted, or its
// record trimmed) gives an error wrapping ErrNotFound.
func (tx *Tx) UpdateRun(r Run, output []byte) error {
	old, loc, err := tx.runHeaderOf(r.ID)
	if err != nil {
		return err
	}
	if old.Job != r.Job {
		return fmt.Errorf("run %d belongs to job %q, not %q", r.ID, old.Job, r.Job)
	}
	if err := checkRun(r, output); err != nil {
		return err
	}
	r.Created = old.Created
	// Every record of a scheduled run noted its due time when written
	// (writeRun, since the first scriptrun with cron): the same due time
	// again moves nothing.
	noted := old.Trigger == TriggerSchedule && old.Scheduled.Equal(r.Scheduled)
	return tx.writeRun(loc, r, output, !noted)
}

// jobKeepRuns reads only the history setting of a job (not its script).
func (tx *Tx) jobKeepRuns(name string) (int, error) {
	v, err := tx.kv.Get(key(spaceCronJobs, name))
	if err != nil {
		return 0, tx.readError("job", name, err)
	}
	if v == nil {
		return 0, fmt.Errorf("job %q %w: list them with `scriptrun cron list`", name, ErrNotFound)
	}
	var rec struct {
		History int `json:"history"`
	}
	if err := tx.getRecord(kindJob, []byte(name), name, v, &rec); err != nil {
		return 0, err
	}
	return Job{History: rec.History}.KeepRuns(), nil
}

func checkRun(r Run, output []byte) error {
	if err := ValidateName("job", r.Job); err != nil {
		return err
	}
	if !r.Status.valid() {
		return fmt.Errorf("run status %q is not valid", r.Status)
	}
	if r.Trigger != TriggerSchedule && r.Trigger != TriggerManual {
		return fmt.Errorf("run trigger %q is not valid", r.Trigger)
	}
	if len(output) > MaxRunOutput {
		return fmt.Errorf("run output of %d bytes is over the limit of %d", len(output), MaxRunOutput)
	}
	return nil
}

// writeRun stores the record, its output and its place among active runs,
// at loc, and (note) advances its job's LastScheduled to a scheduled run's
// due time.
func (tx *Tx) writeRun(loc runLoc, r Run, output []byte, note bool) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode run %d: %w", r.ID, err)
	}
	id := string(u64(r.ID))
	if err := tx.kv.Put(loc.record, v); err != nil {
		return err
	}
	if output != nil {
		if err := tx.kv.Put(loc.output, output); err != nil {
			return err
		}
	}
	if r.Status.Final() {
		if err := tx.kv.Delete(key(spaceCronActive, id)); err != nil {
			return err
		}
	} else if err := tx.kv.Put(key(spaceCronActive, id), []byte(r.Job)); err != nil {
		return err
	}
	if note && r.Trigger == TriggerSchedule && !r.Scheduled.IsZero() {
		return tx.noteScheduled(r.Job, r.Scheduled)
	}
	return nil
}

// maxTrim bounds the runs one AddRun deletes (five keys each): a history
// cut from 10000 to 10 shrinks over the next runs, each transaction within
// etcd's 128 operations, instead of failing every AddRun.
const maxTrim = 16

// trimRuns deletes a job's oldest finished runs beyond keep, at most
// maxTrim of them.
func (tx *Tx) trimRuns(job string, keep int) error {
	// Only the oldest runs may go: the records of the others are not
	// kept (runAt reads them if it gets that far).
	runs, err := tx.jobRunsHead(job, maxTrim+trimSlack, keep+maxTrim)
	if err != nil {
		return err
	}
	extra := min(len(runs)-keep, maxTrim)
	// Which runs go is decided before any is deleted: the records at hand
	// are the store's own slices, read while it is unchanged.
	var doomed []jobRun
	for _, jr := range runs {
		if len(doomed) >= extra {
			break
		}
		r, _, err := tx.runAt(jr)
		if err == nil && !r.Status.Final() {
			continue // still going: it will be trimmed after it finished
		}
		doomed = append(doomed, jr)
	}
	for _, jr := range doomed {
		if err := tx.deleteRun(jr.loc(), jr.id); err != nil {
			return err
		}
	}
	return nil
}

// jobRun is one entry of a job's run index: the run's id, its layout,
// and its record when the index holds it (the current layout) and it was
// kept (jobRunsHead).
type jobRun struct {
	id     uint64
	job    string
	legacy bool
	record []byte
}

// loc is where the run is (made on demand: most entries listed are never
// read or deleted).
func (jr jobRun) loc() runLoc {
	if jr.legacy {
		return legacyRunLoc(jr.job, jr.id)
	}
	return newRunLoc(jr.job, jr.id)
}

// trimSlack: trimRuns keeps the records of this many runs beyond maxTrim
// at hand, for the unfinished ones it passes over.
const trimSlack = 8

// jobRuns returns a job's runs from its index, oldest first.
func (tx *Tx) jobRuns(job string) ([]jobRun, error) { return tx.jobRunsHead(job, -1, 0) }

// jobRunsHead returns a job's runs from its index, oldest first, with the
// records of the first n at hand (all when n < 0); the others' are read
// when needed (runAt). A full history is a hundred runs, and reading every
// record cost each AddRun more than writing its own. The records are the
// store's slices, valid in the transaction until it writes; room is made
// for size runs at first.
func (tx *Tx) jobRunsHead(job string, n, size int) ([]jobRun, error) {
	out := make([]jobRun, 0, size)
	err := tx.kv.List(jobRunsPrefix(spaceCronJobRuns, job), func(k string, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: run index of job %q in %s is unreadable", ErrDamaged, job, tx.db.path)
		}
		id := binary.BigEndian.Uint64([]byte(k))
		jr := jobRun{id: id, job: job}
		if len(v) == 0 {
			jr.legacy = true
		} else if n < 0 || len(out) < n {
			jr.record = v
		}
		out = append(out, jr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deleteRun removes one run: record, output, index entry, pointer, and its
// place among active runs.
func (tx *Tx) deleteRun(loc runLoc, id uint64) error {
	k := string(u64(id))
	for _, kk := range []string{loc.record, loc.output, key(spaceCronRuns, k), key(spaceCronActive, k), key(spaceCronJobRuns, runIndexKey(loc.job, id))} {
		if err := tx.kv.Delete(kk); err != nil {
			return err
		}
	}
	return nil
}

// deleteJobRuns removes a job's whole history: the current layout with two
// prefix deletes, runs of the older layout one by one, and the job's
// active runs. Pointers of the current layout stay (see runLoc).
func (tx *Tx) deleteJobRuns(job string) error {
	runs, err := tx.jobRuns(job)
	if err != nil {
		return err
	}
	for _, jr := range runs {
		if !jr.legacy {
			continue
		}
		k, loc := string(u64(jr.id)), jr.loc()
		for _, kk := range []string{loc.record, loc.output, key(spaceCronRuns, k)} {
			if err := tx.kv.Delete(kk); err != nil {
				return err
			}
		}
	}
	var active []string
	err = tx.kv.List(key(spaceCronActive, ""), func(k string, v []byte) error {
		if string(v) == job {
			active = append(active, key(spaceCronActive, k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range active {
		if err := tx.kv.Delete(k); err != nil {
			return err
		}
	}
	if err := tx.kv.DeletePrefix(jobRunsPrefix(spaceCronJobRuns, job)); err != nil {
		return err
	}
	return tx.kv.DeletePrefix(jobRunsPrefix(spaceCronOutput, job))
}

// Run returns one run, or an error wrapping ErrNotFound.
func (tx *Tx) Run(id uint64) (Run, error) {
	r, _, err := tx.run(id)
	return r, err
}

// run returns run id and where it is.
func (tx *Tx) run(id uint64) (Run, runLoc, error) {
	v, loc, err := tx.runValue(id)
	if err != nil {
		return Run{}, runLoc{}, err
	}
	r, err := tx.decodeRun(id, v)
	if loc.legacy {
		loc = legacyRunLoc(r.Job, id)
	}
	return r, loc, err
}

// runHeader is what UpdateRun reads of the record it replaces: decoding
// the whole record cost it more than writing the new one.
type runHeader struct {
	ID        uint64     `json:"id"`
	Job       string     `json:"job"`
	Trigger   RunTrigger `json:"trigger"`
	Scheduled time.Time  `json:"scheduled,omitzero"`
	Created   time.Time  `json:"created"`
}

// runHeaderOf returns the header of run id and where the run is.
func (tx *Tx) runHeaderOf(id uint64) (runHeader, runLoc, error) {
	v, loc, err := tx.runValue(id)
	if err != nil {
		return runHeader{}, runLoc{}, err
	}
	var h runHeader
	if err := json.Unmarshal(v, &h); err != nil || h.ID != id {
		return runHeader{}, runLoc{}, fmt.Errorf("%w: run %d in %s is unreadable", ErrDamaged, id, tx.db.path)
	}
	if loc.legacy {
		loc = legacyRunLoc(h.Job, id)
	}
	return h, loc, nil
}

// runValue returns the stored record of run id (a slice valid in the
// transaction until it writes) and where it is; its job is not known yet
// for a run of the older layout.
func (tx *Tx) runValue(id uint64) ([]byte, runLoc, error) {
	loc, ok, err := tx.locateRun(id)
	if err != nil {
		return nil, runLoc{}, err
	}
	if !ok {
		return nil, runLoc{}, runNotFound(id)
	}
	v, err := tx.kv.Get(loc.record)
	if err != nil {
		return nil, runLoc{}, fmt.Errorf("read run %d from %s: %w", id, tx.db.path, err)
	}
	if v == nil {
		return nil, runLoc{}, runNotFound(id) // its job was deleted
	}
	return v, loc, nil
}

// runNotFound is run's ErrNotFound (made when needed: UpdateRun reads a
// run for every record the scheduler writes).
func runNotFound(id uint64) error {
	return fmt.Errorf("run %d %w: list a job's runs with `scriptrun cron runs NAME`", id, ErrNotFound)
}

// runAt returns the run of an index entry.
func (tx *Tx) runAt(jr jobRun) (Run, runLoc, error) {
	if jr.record == nil {
		return tx.run(jr.id)
	}
	r, err := tx.decodeRun(jr.id, jr.record)
	return r, jr.loc(), err
}

func (tx *Tx) decodeRun(id uint64, v []byte) (Run, error) {
	var r Run
	if err := json.Unmarshal(v, &r); err != nil || r.ID != id {
		return Run{}, fmt.Errorf("%w: run %d in %s is unreadable", ErrDamaged, id, tx.db.path)
	}
	return r, nil
}

// RunOutput returns what a run's script wrote (nil if nothing was stored).
// The slice is a copy and stays valid after the transaction.
func (tx *Tx) RunOutput(id uint64) ([]byte, error) {
	_, loc, err := tx.run(id)
	if err != nil {
		return nil, err
	}
	v, err := tx.kv.Get(loc.output)
	if err != nil {
		return nil, fmt.Errorf("read output of run %d from %s: %w", id, tx.db.path, err)
	}
	return bytes.Clone(v), nil
}

// Runs returns a job's runs, newest first, at most limit of them (all when
// limit <= 0).
func (tx *Tx) Runs(job string, limit int) ([]Run, error) {
	// The index lists ids oldest first; a job keeps at most its history
	// (KeepRuns) plus its unfinished runs, so reading them all is cheap.
	runs, err := tx.jobRuns(job)
	if err != nil {
		return nil, err
	}
	var out []Run
	for i := len(runs) - 1; i >= 0; i-- {
		if limit > 0 && len(out) == limit {
			break
		}
		r, _, err := tx.runAt(runs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// RunsAfter returns a job's runs whose ID is above after, oldest first: the
// newest limit of them (all when limit <= 0). It reads the job's run index
// from after on and decodes only the runs it returns, so a caller that
// remembers the last run it looked at (package notify) pays for the runs
// since, not for the job's history.
func (tx *Tx) RunsAfter(job string, after uint64, limit int) ([]Run, error) {
	if after == math.MaxUint64 {
		return nil, nil // no run can follow
	}
	var index []jobRun
	err := tx.kv.ListFrom(jobRunsPrefix(spaceCronJobRuns, job), string(u64(after+1)), func(k string, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("%w: run index of job %q in %s is unreadable", ErrDamaged, job, tx.db.path)
		}
		// v is read (runAt) before the transaction ends: no copy.
		jr := jobRun{id: binary.BigEndian.Uint64([]byte(k)), job: job, legacy: len(v) == 0}
		if !jr.legacy {
			jr.record = v
		}
		index = append(index, jr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(index) > limit {
		index = index[len(index)-limit:]
	}
	out := make([]Run, 0, len(index))
	for _, jr := range index {
		r, _, err := tx.runAt(jr)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// LastRun returns a job's most recent run; ok is false when it has none.
func (tx *Tx) LastRun(job string) (r Run, ok bool, err error) {
	runs, err := tx.Runs(job, 1)
	if err != nil || len(runs) == 0 {
		return Run{}, false, err
	}
	return runs[0], true, nil
}

// ActiveRuns returns the runs recorded as queued or running, oldest first.
// After a crash some of them are stale: their process is gone.
func (tx *Tx) ActiveRuns() ([]Run, error) {
	var out []Run
	err := tx.kv.List(key(spaceCronActive, ""), func(k string, _ []byte) error {
		r, err := tx.Run(binary.BigEndian.Uint64([]byte(k)))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		out = append(out, r)
		return err
	})
	return out, err
}

// Bounds of one transaction of ConvertRunLayout: runs, and output bytes
// (etcd's operations and request size per transaction).
const (
	convertRuns  = 20
	convertBytes = 256 << 10
)

// ConvertRunLayout moves the runs recorded in the older layout (see runLoc)
// into the per-job one, a few per transaction, and returns how many it
// moved. A store copied from an older bbolt file to etcd needs it before a
// job with a long old history can be deleted there (each old run costs
// etcd operations; runs of the current layout go with one prefix delete).
// It is idempotent and safe to run on several nodes at once.
func (db *DB) ConvertRunLayout() (int, error) {
	var jobs []string
	err := db.kv.view(func(kv kvTx) error {
		return kv.List(key(spaceCronJobs, ""), func(k string, _ []byte) error { jobs = append(jobs, k); return nil })
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, job := range jobs {
		for {
			var n int
			err := db.Update(func(tx *Tx) (err error) { n, err = tx.convertRuns(job); return err })
			if err != nil {
				return total, fmt.Errorf("move the runs of job %q to the per-job layout: %w", job, err)
			}
			total += n
			if n == 0 {
				break
			}
		}
	}
	return total, nil
}

// convertRuns moves up to convertRuns old-layout runs of job (fewer when
// their outputs pass convertBytes) and returns how many it moved.
func (tx *Tx) convertRuns(job string) (int, error) {
	runs, err := tx.jobRuns(job)
	if err != nil {
		return 0, err
	}
	n, size := 0, 0
	for _, jr := range runs {
		if !jr.legacy {
			continue
		}
		if n == convertRuns || (n > 0 && size > convertBytes) {
			break
		}
		loc := jr.loc()
		rec, err := tx.kv.Get(loc.record)
		if err != nil {
			return n, err
		}
		out, err := tx.kv.Get(loc.output)
		if err != nil {
			return n, err
		}
		to := newRunLoc(job, jr.id)
		if rec == nil {
			rec = []byte{} // no record: drop the index entry below
		}
		if err := tx.moveRun(jr.id, job, to, rec, out); err != nil {
			return n, err
		}
		n++
		size += len(out)
	}
	return n, nil
}

// moveRun writes an old-layout run at to and its pointer over the old
// record, and removes its old output.
func (tx *Tx) moveRun(id uint64, job string, to runLoc, rec, out []byte) error {
	old := string(u64(id))
	if len(rec) == 0 {
		// An index entry without its record: nothing to move.
		return tx.kv.Delete(to.record)
	}
	if err := tx.kv.Put(to.record, rec); err != nil {
		return err
	}
	if out != nil {
		if err := tx.kv.Put(to.output, out); err != nil {
			return err
		}
	}
	if err := tx.kv.Delete(key(spaceCronOutput, old)); err != nil {
		return err
	}
	return tx.kv.Put(key(spaceCronRuns, old), append([]byte{runPointer}, job...))
}
