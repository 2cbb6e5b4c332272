package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Cron jobs, their runs and the scheduler's bookkeeping live in key spaces
// (on bbolt, buckets) that are created on first write, so databases made
// before cron existed need no migration; a read of a missing one sees
// nothing. What each holds:
//
//	cron          "version" -> BE counter (CronVersion)
//	cronjobs      name -> jobRecord
//	cronstate     name -> JobState
//	cronruns      BE run id -> where the run is (see runLoc in run.go)
//	cronjobruns   name \x00 BE run id -> Run: a job's runs in order
//	cronoutput    name \x00 BE run id -> captured output
//	cronactive    BE run id -> job name: runs queued or running
//	cronrequests  BE request id -> RunRequest
var (
	bucketCronJobs     = []byte(spaceCronJobs)
	bucketCronRequests = []byte(spaceCronRequests)
	keyCronVersion     = key(spaceCron, "version")
)

// Overlap says what happens when a job is due while its previous run is
// still going.
type Overlap string

// Overlap policies.
const (
	OverlapSkip    Overlap = "skip"    // the new run is recorded as skipped (default)
	OverlapQueue   Overlap = "queue"   // the new run waits for the running one; at most one waits
	OverlapReplace Overlap = "replace" // the running one is cancelled and the new one starts
)

// Limits and defaults of a job.
const (
	DefaultJobTimeout = 5 * time.Minute
	MaxJobTimeout     = 24 * time.Hour
	DefaultRunHistory = 100
	MaxRunHistory     = 10000
	MaxScriptBytes    = 1 << 20
	MaxJobArgs        = 64
	MaxJobArgBytes    = 4096
	maxScheduleLen    = 200

	// DefaultJobMaxMemory caps a run's memory when a job sets none; a run
	// that grows past its cap is stopped and recorded as failed.
	DefaultJobMaxMemory int64 = 2 << 30
	// MinJobMaxMemory and MaxJobMaxMemory bound a job's memory cap: below
	// the minimum a runtime cannot start, above the maximum is a typo.
	MinJobMaxMemory int64 = 64 << 20
	MaxJobMaxMemory int64 = 1 << 40
)

// Job is a script on a schedule. Its script is the source captured when the
// job was added or updated, not a path read at run time: a job runs exactly
// what its admin reviewed, whose SHA-256 ScriptSHA256 shows, even if the file
// changes or disappears. ScriptPath only says where the source came from.
type Job struct {
	Name string `json:"name"`
	// Schedule is the cron spec: 5 fields, 6 with seconds first, or a
	// descriptor (@hourly, @daily, @every 10m). Package cron parses it.
	Schedule string `json:"schedule"`
	// TimeZone is the IANA zone the schedule is read in ("" is stored as UTC).
	TimeZone string `json:"timeZone"`
	// Script is the captured source; ScriptName is its name in stack traces.
	Script       string `json:"script"`
	ScriptName   string `json:"scriptName"`
	ScriptPath   string `json:"scriptPath,omitempty"`
	ScriptSHA256 string `json:"scriptSha256"` // set by PutJob from Script
	// Args is the script's args global.
	Args    []string      `json:"args,omitempty"`
	Timeout time.Duration `json:"timeout"`
	Overlap Overlap       `json:"overlap"`
	// MaxMemory caps a run's memory in bytes (0 means DefaultJobMaxMemory).
	MaxMemory int64 `json:"maxMemory,omitempty"`
	// History is how many runs are kept (0 means DefaultRunHistory).
	History int       `json:"history,omitempty"`
	Enabled bool      `json:"enabled"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Activated is when the job last started counting its schedule: when it
	// was created, enabled, or its schedule or time zone changed. Runs due
	// before it are not "missed".
	Activated time.Time `json:"activated"`
}

// KeepRuns is the number of runs kept for the job.
func (j Job) KeepRuns() int {
	if j.History <= 0 {
		return DefaultRunHistory
	}
	return j.History
}

// MemoryLimit is the job's memory cap in bytes.
func (j Job) MemoryLimit() int64 {
	if j.MaxMemory <= 0 {
		return DefaultJobMaxMemory
	}
	return j.MaxMemory
}

// ScriptDigest returns the hex SHA-256 of a script's source, as shown for a
// job so that an admin can tell what will run.
func ScriptDigest(src string) string {
	sum := sha256.Sum256([]byte(src))
	return hex.EncodeToString(sum[:])
}

// JoinJobFieldErrors adds the problems found while reading a job's fields
// from text (a timeout that is not a duration, a script file that cannot be
// captured: first) to those Check found in the job (err). A problem Check
// found in a field already in first is left out: it would only repeat it
// about the zero value left there; so is the script's name when the script
// file could not be read, since the name is the file's.
func JoinJobFieldErrors(first FieldErrors, err error) error {
	if slices.ContainsFunc(first, func(p FieldError) bool { return p.Field == "script" }) {
		if rest := AsFieldErrors(err); rest != nil {
			err = slices.DeleteFunc(slices.Clone(rest), func(p FieldError) bool { return p.Field == "scriptName" }).err()
		}
	}
	return JoinFieldErrors(first, err)
}

// fieldError is a single problem as an error.
func fieldError(field, label, format string, args ...any) error {
	var es FieldErrors
	es.add(field, label, format, args...)
	return es
}

// JobChecks are the checks of a job that need packages which import store:
// package cron parses schedules and compiles scripts, and hands them to
// Check (cron.CheckJob). A nil check is skipped; PutJob runs none, so a job
// written without them is checked for everything else.
type JobChecks struct {
	// Schedule checks spec, read in loc. Its error says what is wrong
	// without naming the field: `"* * * *" is not valid: it has 4 fields…`.
	Schedule func(spec string, loc *time.Location) error
	// Script checks that source compiles; its error says where it does not.
	Script func(name, source string) error
}

// Validate checks j without JobChecks: every rule of its own fields.
func (j Job) Validate() error { return j.Check(JobChecks{}) }

// Check checks every field of j, and with c its schedule and script, and
// returns every problem at once as FieldErrors, or nil. These are the
// rules of a job; nothing else restates them.
func (j Job) Check(c JobChecks) error {
	var es FieldErrors
	if err := ValidateName("job", j.Name); err != nil {
		es.add("name", "job name", "%s", strings.TrimPrefix(err.Error(), "job name "))
	}
	loc, zoneErr := LoadZone(j.TimeZone)
	switch s := strings.TrimSpace(j.Schedule); {
	case s == "":
		es.add("schedule", "schedule", `required: give a cron spec such as "*/5 * * * *", "@hourly" or "@every 10m"`)
	case len(j.Schedule) > maxScheduleLen:
		es.add("schedule", "schedule", "%d characters long: at most %d", len(j.Schedule), maxScheduleLen)
	case c.Schedule != nil:
		if zoneErr != nil {
			loc = time.UTC // still check the spec
		}
		if err := c.Schedule(j.Schedule, loc); err != nil {
			es.add("schedule", "schedule", "%v", err)
		}
	}
	if zoneErr != nil {
		es.add("timeZone", "time zone", "%s", strings.TrimPrefix(zoneErr.Error(), "time zone "))
	}
	es.script(j, c)
	if len(j.Args) > MaxJobArgs {
		es.add("args", "arguments", "%d arguments: at most %d", len(j.Args), MaxJobArgs)
	}
	for i, a := range j.Args {
		if len(a) > MaxJobArgBytes || !utf8.ValidString(a) {
			es.add("args", "arguments", "argument %d is not UTF-8 text of at most %d bytes", i+1, MaxJobArgBytes)
			break
		}
	}
	if j.Timeout <= 0 || j.Timeout > MaxJobTimeout {
		es.add("timeout", "timeout", "%s", timeoutProblem(j.Timeout.String()))
	}
	switch j.Overlap {
	case OverlapSkip, OverlapQueue, OverlapReplace:
	default:
		es.add("overlap", "overlap", "%q is not valid: use skip (a run still going means the new one is skipped), queue (the new one waits; one at most) or replace (the running one is cancelled)", j.Overlap)
	}
	if j.MaxMemory != 0 && (j.MaxMemory < MinJobMaxMemory || j.MaxMemory > MaxJobMaxMemory) {
		es.add("maxMemory", "memory cap", "%s", maxMemoryProblem(FormatBytes(j.MaxMemory)))
	}
	if j.History < 0 || j.History > MaxRunHistory {
		es.add("history", "history", "%d is not valid: keep 1 to %d runs (0 means %d)", j.History, MaxRunHistory, DefaultRunHistory)
	}
	return es.err()
}

// script checks the job's script and its name; it compiles the script (c)
// only when both are usable.
func (es *FieldErrors) script(j Job, c JobChecks) {
	usable := false
	switch {
	case strings.TrimSpace(j.Script) == "":
		es.add("script", "script", "empty: give the script's source")
	case len(j.Script) > MaxScriptBytes:
		es.add("script", "script", "%s: a job's script may have at most %s", FormatBytes(int64(len(j.Script))), FormatBytes(MaxScriptBytes))
	case !utf8.ValidString(j.Script):
		es.add("script", "script", "not UTF-8 text")
	default:
		usable = true
	}
	if n := j.ScriptName; n == "" || len(n) > 255 || filepath.Base(n) != n || strings.ContainsAny(n, "\x00\n") || n == "." || n == ".." {
		es.add("scriptName", "script name", "%q is not a file name (e.g. sync.js)", n)
		usable = false
	}
	if !usable || c.Script == nil {
		return
	}
	if err := c.Script(j.ScriptName, j.Script); err != nil {
		es.add("script", "script", "does not compile: %v", err)
	}
}

func timeoutProblem(text string) string {
	return fmt.Sprintf("%s is not valid: give a positive duration up to %s, such as 30s, 5m or 1h30m", text, shortHours(MaxJobTimeout))
}

// shortHours writes 24h0m0s as 24h.
func shortHours(d time.Duration) string {
	return strings.TrimSuffix(d.String(), "0m0s")
}

func maxMemoryProblem(text string) string {
	return fmt.Sprintf("%s is not valid: give %s to %s, e.g. 512MiB (the default is %s)",
		text, FormatBytes(MinJobMaxMemory), FormatBytes(MaxJobMaxMemory), FormatBytes(DefaultJobMaxMemory))
}

// ParseJobTimeout reads a job's timeout as people write it (30s, 5m,
// 1h30m) and checks its range; its error is a FieldErrors.
func ParseJobTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 || d > MaxJobTimeout {
		return 0, fieldError("timeout", "timeout", "%s", timeoutProblem(strconv.Quote(s)))
	}
	return d, nil
}

// ParseJobMaxMemory reads a job's memory cap as people write it (512MiB,
// 2GiB) and checks its range; its error is a FieldErrors.
func ParseJobMaxMemory(s string) (int64, error) {
	n, err := ParseBytes(s)
	if err != nil {
		return 0, fieldError("maxMemory", "memory cap", "%v", err)
	}
	if n < MinJobMaxMemory || n > MaxJobMaxMemory {
		return 0, fieldError("maxMemory", "memory cap", "%s", maxMemoryProblem(FormatBytes(n)))
	}
	return n, nil
}

// ParseJobHistory reads how many runs a job keeps, as typed in a form or
// given as a flag: 1 to MaxRunHistory (a stored 0 means the default, but
// typing 0 is a mistake); its error is a FieldErrors.
func ParseJobHistory(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxRunHistory {
		return 0, fieldError("history", "history", "%q is not valid: keep 1 to %d runs, e.g. %d", s, MaxRunHistory, DefaultRunHistory)
	}
	return n, nil
}

// LoadZone loads an IANA time zone for a job; "" is UTC. "Local" is refused:
// it would mean different zones for the CLI that wrote the job and the
// server that runs it.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" || strings.ContainsAny(name, " \t\n\x00") || len(name) > 64 {
		return nil, fmt.Errorf("time zone %q is not valid: give an IANA name such as Europe/Berlin, America/New_York or UTC", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q is unknown: give an IANA name such as Europe/Berlin, America/New_York or UTC", name)
	}
	return loc, nil
}

type jobRecord struct {
	Job
}

// JobState is what the scheduler remembers of a job between restarts.
type JobState struct {
	// LastScheduled is the latest due time the scheduler has dealt with (run,
	// skipped or recorded as missed). Runs due after it and before now were
	// missed while no scheduler was running.
	LastScheduled time.Time `json:"lastScheduled,omitzero"`
}

// CronVersion is a counter that every change to jobs (and every run request)
// increases, so a scheduler in another process can notice changes with one
// cheap read. A failed read gives 0: the version is only a hint to re-read.
func (tx *Tx) CronVersion() uint64 {
	if v, _ := tx.kv.Get(keyCronVersion); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (tx *Tx) bumpCronVersion() error {
	return tx.kv.Put(keyCronVersion, u64(tx.CronVersion()+1))
}

// Job returns the named job, or an error wrapping ErrNotFound.
func (tx *Tx) Job(name string) (Job, error) {
	v, err := tx.kv.Get(key(spaceCronJobs, name))
	if err != nil {
		return Job{}, tx.readError("job", name, err)
	}
	if v == nil {
		return Job{}, fmt.Errorf("job %q %w: list them with `scriptrun cron list`", name, ErrNotFound)
	}
	return tx.decodeJob(name, v)
}

// Jobs returns every job, ordered by name. Damaged jobs are left out of the
// list and reported together in the error, one *RecordError each (see
// DamagedRecords); the others are all returned.
func (tx *Tx) Jobs() ([]Job, error) {
	var out []Job
	var damaged []error
	err := tx.kv.List(key(spaceCronJobs, ""), func(k string, v []byte) error {
		j, err := tx.decodeJob(k, v)
		if err != nil {
			if asRecordError(err, &damaged) {
				return nil
			}
			return err
		}
		out = append(out, j)
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, listDamaged(damaged)
}

// JobNames returns every job's name, in order, from a keys-only listing:
// no record is read or authenticated, so a damaged job is listed too (Job
// and Jobs report it).
func (tx *Tx) JobNames() ([]string, error) {
	var out []string
	err := tx.kv.Keys(key(spaceCronJobs, ""), func(name string) error {
		out = append(out, name)
		return nil
	})
	return out, err
}

func (tx *Tx) decodeJob(name string, v []byte) (Job, error) {
	var rec jobRecord
	if err := tx.getRecord(kindJob, []byte(name), name, v, &rec); err != nil {
		return Job{}, err
	}
	if rec.Name != name || rec.ScriptSHA256 != ScriptDigest(rec.Script) {
		return Job{}, tx.recordError(kindJob, name, errUnreadable)
	}
	return rec.Job, nil
}

// CreateJob stores a new job; an existing name gives ErrExists.
func (tx *Tx) CreateJob(j Job) error {
	if _, err := tx.Job(j.Name); err == nil {
		return fmt.Errorf("job %q %w: change it with `scriptrun cron update %s`", j.Name, ErrExists, j.Name)
	}
	return tx.PutJob(j)
}

// PutJob validates j and stores it, replacing any job of that name. It fills
// defaults (UTC, skip), computes ScriptSHA256 from Script, sets Updated,
// Created when the job is new, and Activated when the job is new, was
// enabled, or its schedule or time zone changed. Running schedulers see the
// change through CronVersion.
func (tx *Tx) PutJob(j Job) error {
	if j.TimeZone == "" {
		j.TimeZone = "UTC"
	}
	if j.Overlap == "" {
		j.Overlap = OverlapSkip
	}
	if err := j.Validate(); err != nil {
		return err
	}
	j.ScriptSHA256 = ScriptDigest(j.Script)
	now := tx.db.now().UTC()
	j.Updated = now
	if old, err := tx.Job(j.Name); err == nil {
		j.Created = old.Created
		j.Activated = old.Activated
		if (j.Enabled && !old.Enabled) || j.Schedule != old.Schedule || j.TimeZone != old.TimeZone {
			j.Activated = now
		}
	} else if errors.Is(err, ErrNotFound) {
		j.Created, j.Activated = now, now
	} else {
		return err
	}
	if err := tx.putRecord(spaceCronJobs, kindJob, j.Name, jobRecord{Job: j}); err != nil {
		return err
	}
	return tx.bumpCronVersion()
}

// SetJobEnabled enables or disables a job.
func (tx *Tx) SetJobEnabled(name string, enabled bool) (Job, error) {
	j, err := tx.Job(name)
	if err != nil {
		return Job{}, err
	}
	j.Enabled = enabled
	if err := tx.PutJob(j); err != nil {
		return Job{}, err
	}
	return tx.Job(name)
}

// DeleteJob removes a job with its runs, their output, its state and its
// pending run requests. A damaged job can be removed: that is how it is
// re-created.
func (tx *Tx) DeleteJob(name string) error {
	if ok, err := tx.exists(spaceCronJobs, "job", name); err != nil || !ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("job %q %w: list them with `scriptrun cron list`", name, ErrNotFound)
	}
	if err := tx.deleteJobRuns(name); err != nil {
		return err
	}
	if err := tx.kv.Delete(key(spaceCronState, name)); err != nil {
		return err
	}
	if err := tx.kv.Delete(key(spaceCronClaims, name)); err != nil {
		return err
	}
	reqs, err := tx.RunRequests()
	if _, other := DamagedRecords(err); other != nil {
		return other
	}
	for _, r := range reqs {
		if r.Job == name {
			if err := tx.DeleteRunRequest(r.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	if err := tx.kv.Delete(key(spaceCronJobs, name)); err != nil {
		return err
	}
	return tx.bumpCronVersion()
}

// JobState returns the scheduler's bookkeeping for a job (zero if none).
func (tx *Tx) JobState(name string) (JobState, error) {
	var st JobState
	v, err := tx.kv.Get(key(spaceCronState, name))
	if err != nil {
		return st, tx.readError("state of job", name, err)
	}
	if v == nil {
		return st, nil
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return JobState{}, fmt.Errorf("%w: state of job %q in %s is unreadable", ErrDamaged, name, tx.db.path)
	}
	return st, nil
}

// noteScheduled advances a job's LastScheduled to t.
func (tx *Tx) noteScheduled(name string, t time.Time) error {
	st, err := tx.JobState(name)
	if err != nil {
		return err
	}
	if !t.After(st.LastScheduled) {
		return nil
	}
	st.LastScheduled = t.UTC()
	return tx.put(spaceCronState, "state of job", name, st)
}

// RunRequest asks the scheduler of another process (`scriptrun serve`) to
// run a job now. The scheduler claims it by filling RunID.
type RunRequest struct {
	ID        uint64    `json:"id"`
	Job       string    `json:"job"`
	Requested time.Time `json:"requested"`
	RunID     uint64    `json:"runId,omitempty"` // set when a scheduler claimed it
	Claimed   time.Time `json:"claimed,omitzero"`
	Error     string    `json:"error,omitempty"` // why the scheduler could not run it
	// Taker is the node that took the request on a clustered store, where
	// every node serves requests and only the taker answers.
	Taker string `json:"taker,omitempty"`
	// Cancel, when set, asks instead that run Cancel of Job be cancelled
	// for Reason, by whichever node runs it (clustered stores).
	Cancel uint64 `json:"cancel,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// RequestCancel records a request that the node running run runID of job
// cancel it for reason (a clustered store: the run may be on another host).
// It is served like a run request (CronVersion moves).
func (tx *Tx) RequestCancel(job string, runID uint64, reason string) (RunRequest, error) {
	if err := ValidateName("job", job); err != nil {
		return RunRequest{}, err
	}
	id, err := tx.kv.NextSequence(spaceCronRequests)
	if err != nil {
		return RunRequest{}, err
	}
	r := RunRequest{ID: id, Job: job, Requested: tx.db.now().UTC(), Cancel: runID, Reason: reason}
	if err := tx.putRequest(r); err != nil {
		return RunRequest{}, err
	}
	return r, tx.bumpCronVersion()
}

// TakeRunRequest gives request id to node unless another node took it or
// it was answered: of nodes serving requests together, exactly one gets
// each (a second taker's Update re-runs and sees the first).
func (tx *Tx) TakeRunRequest(id uint64, node string) (bool, error) {
	r, err := tx.RunRequest(id)
	if err != nil {
		return false, err
	}
	if !r.Claimed.IsZero() || (r.Taker != "" && r.Taker != node) {
		return false, nil
	}
	r.Taker = node
	return true, tx.putRequest(r)
}

// RequestRun records a request to run the named job now. The job must exist.
func (tx *Tx) RequestRun(job string) (RunRequest, error) {
	if _, err := tx.Job(job); err != nil {
		return RunRequest{}, err
	}
	id, err := tx.kv.NextSequence(spaceCronRequests)
	if err != nil {
		return RunRequest{}, err
	}
	r := RunRequest{ID: id, Job: job, Requested: tx.db.now().UTC()}
	if err := tx.putRequest(r); err != nil {
		return RunRequest{}, err
	}
	return r, tx.bumpCronVersion()
}

func (tx *Tx) putRequest(r RunRequest) error {
	return tx.putRecord(spaceCronRequests, kindRunRequest, string(u64(r.ID)), r)
}

func (tx *Tx) decodeRequest(id uint64, v []byte) (RunRequest, error) {
	var r RunRequest
	if err := tx.getRecord(kindRunRequest, u64(id), strconv.FormatUint(id, 10), v, &r); err != nil {
		return RunRequest{}, err
	}
	if r.ID != id {
		return RunRequest{}, tx.recordError(kindRunRequest, strconv.FormatUint(id, 10), errUnreadable)
	}
	return r, nil
}

// RunRequest returns one run request, or an error wrapping ErrNotFound.
func (tx *Tx) RunRequest(id uint64) (RunRequest, error) {
	v, err := tx.kv.Get(key(spaceCronRequests, string(u64(id))))
	if err != nil {
		return RunRequest{}, fmt.Errorf("read run request %d from %s: %w", id, tx.db.path, err)
	}
	if v == nil {
		return RunRequest{}, fmt.Errorf("run request %d %w", id, ErrNotFound)
	}
	return tx.decodeRequest(id, v)
}

// RunRequests returns every run request, oldest first. Damaged requests
// (a forged one among them) are left out and reported together in the
// error, one *RecordError each (see DamagedRecords); the scheduler removes
// them with DeleteRunRequest.
func (tx *Tx) RunRequests() ([]RunRequest, error) {
	var out []RunRequest
	var damaged []error
	err := tx.kv.List(key(spaceCronRequests, ""), func(k string, v []byte) error {
		if len(k) != 8 {
			damaged = append(damaged, tx.recordError(kindRunRequest, fmt.Sprintf("%x", k), errUnreadable))
			return nil
		}
		r, err := tx.decodeRequest(binary.BigEndian.Uint64([]byte(k)), v)
		if err != nil {
			if asRecordError(err, &damaged) {
				return nil
			}
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, listDamaged(damaged)
}

// ClaimRunRequest marks a request as taken by the run runID, or, when runID
// is 0, as refused for the reason errMsg.
func (tx *Tx) ClaimRunRequest(id, runID uint64, errMsg string) error {
	r, err := tx.RunRequest(id)
	if err != nil {
		return err
	}
	if !r.Claimed.IsZero() {
		return fmt.Errorf("run request %d was already claimed", id)
	}
	r.RunID, r.Error, r.Claimed = runID, errMsg, tx.db.now().UTC()
	return tx.putRequest(r)
}

// DeleteRunRequest removes a run request, damaged or not.
func (tx *Tx) DeleteRunRequest(id uint64) error {
	k := key(spaceCronRequests, string(u64(id)))
	v, err := tx.kv.Get(k)
	if err != nil {
		return fmt.Errorf("read run request %d from %s: %w", id, tx.db.path, err)
	}
	if v == nil {
		return fmt.Errorf("run request %d %w", id, ErrNotFound)
	}
	return tx.kv.Delete(k)
}

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// ErrBusy reports that a lock is held by someone else.
var ErrBusy = errors.New("busy")

// LockScheduler takes the home's scheduler lock, which a `scriptrun serve`
// holds while it schedules jobs, so that jobs run in one process only. It
// waits up to wait for a holder that is only probing (SchedulerRunning), and
// fails with an error wrapping ErrBusy when another scheduler holds it.
func (db *DB) LockScheduler(wait time.Duration) (unlock func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if db.file == nil {
		return nil, fmt.Errorf("the scheduler lock is kept only in a bbolt file, not in %s", db.path)
	}
	// Not queued in-process: a second scheduler in this process must fail
	// like one in another process, not wait its turn.
	unlock, err = db.file.lockFileOnly(ctx, schedulerLock)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("another scheduler (a `scriptrun serve`) is running on %s: %w", filepath.Dir(db.path), ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("take scheduler lock: %w", err)
	}
	return unlock, nil
}

const schedulerLock = "cron-scheduler"

// SchedulerRunning reports whether a process holds the scheduler lock; on
// a clustered store, where every serve node schedules and none takes that
// lock, whether a node is registered (RegisterNode).
func (db *DB) SchedulerRunning() bool {
	if db.Clustered() {
		var nodes []NodeInfo
		err := db.View(func(tx *Tx) (err error) { nodes, err = tx.Nodes(); return err })
		return err == nil && len(nodes) > 0
	}
	return db.kv.held(schedulerLock)
}

// TryLockJob takes the named job's run lock without waiting; a job runs in
// one place at a time across processes (the scheduler in `scriptrun serve`
// and `scriptrun cron run`). It fails with an error wrapping ErrBusy while
// another holder has it. The lock dies with its process.
func (db *DB) TryLockJob(name string) (unlock func(), err error) {
	if err := ValidateName("job", name); err != nil {
		return nil, err
	}
	l, err := db.kv.tryLock("cron-" + name)
	if err != nil {
		return nil, fmt.Errorf("job %q run lock: %w", name, err)
	}
	return l.Unlock, nil
}
