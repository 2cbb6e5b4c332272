// Package cron runs the store's jobs on their schedules: a Scheduler lives
// in `scriptrun serve`, fires jobs with gocron, runs each through an
// Executor with the job's timeout and memory cap (serve's runs each script
// in a child process; the default, in a fresh JavaScript runtime in this
// process with the token manager as its signer), and records every run (status, timing, error with the JavaScript
// stack, output capped at 1 MiB) in a history bounded per job. It also keeps
// idle tokens alive and counts what happens for Prometheus (Metrics, a
// promtext.Collector, which also counts the token manager's refreshes
// and fetches from its events: Metrics.TokenEvent).
//
// # What runs
//
// A job runs the source captured when it was added or updated (store.Job),
// never a file read at run time, so it runs exactly what its admin reviewed
// and its SHA-256 says what that is. Such a script cannot require() files of
// its own folder (only "url", "buffer" and "console"): bundle helpers into the script.
//
// # When
//
// Schedule is the only definition of due times (see its documentation for
// daylight saving time and @every); gocron fires at the times it returns,
// from a scheduler in UTC with the zones inside the schedules. Each run is
// recorded when it is triggered (queued, running or skipped) and again when
// it ends; records of runs due on the same moment share one commit. A run
// queued for a free slot starts as soon as it gets one, as the record of
// its start is written (its queued record already exists); its final
// record is written after that one.
//
// Overlap policies act within the scheduler: skip (a run still going means
// the new one is recorded as skipped), queue (the new one waits; at most one
// waits, others are skipped) and replace (the running one is cancelled and
// recorded as cancelled, then the new one starts). Across processes a job
// runs in one place at a time (a lock file per job): a trigger that finds it
// running elsewhere, e.g. in a `scriptrun cron run`, is recorded as skipped.
//
// # Changes, restarts, shutdown
//
// Other processes change jobs in the store; every change moves a version
// counter that the scheduler reads every PollInterval (one read of about a
// tenth of a millisecond), reloading jobs only when it moved. A run request
// from `scriptrun cron run` travels the same way (RequestRun).
//
// A Host is where a process meets the home's one scheduler: `scriptrun
// serve` starts its Scheduler through one, which, while another serve
// holds the home's scheduler, takes the jobs over when that one stops;
// "Run now" in any serve's console and `scriptrun cron run` go through a
// Host, which starts the run here or hands it to the process that
// schedules the jobs.
//
// On Start, runs that were due while no scheduler was running are recorded
// as one skipped run with the count of missed runs, not replayed; the next
// run is the next due time. Runs left queued or running by a process that
// died are recorded as cancelled. Stop stops firing, cancels queued runs,
// lets running ones finish for the grace period, then cancels them; all of
// them end recorded.
//
// # Several nodes (etcd)
//
// On a store shared by several hosts (store.DB.Clustered), each `scriptrun
// serve` is a node (Options.Node, registered on a lease): every node
// schedules every job and none takes the scheduler lock. Before a scheduled
// run a node claims (job, due time) in the store (store.Tx.ClaimRun): of any
// number of nodes exactly one claim commits, whatever their clocks say, and
// only that node runs or records the due time; the others skip it without a
// record. Runs are recorded with their node. Overlap policies hold across
// nodes through the job's run lock, cluster-wide there: skip records the
// run as skipped, queue waits (one waiting run per job, cluster-wide) for
// the run on the other node to end, replace first asks that node to cancel
// it. Runs missed while no node was up are recorded by the first node to
// start; a node that joins a running cluster records none.
//
// A node saves a running run's output every FlushInterval. When a node's
// registration ends before its run does (it died, or lost the cluster for
// longer than its lease), another node records the run as lost (status
// "lost", the node named in the reason) with that output, exactly once: the
// write re-reads the run and the node in one optimistic transaction. The
// job's run lock, a lease too, frees at about the same time, so the next
// due time runs normally.
//
// Job changes, run requests ("Run now" from `scriptrun cron run`, handled by
// the node whose take commits) and cancel requests (Host.CancelRun: the
// node running the run cancels it) reach every node by watch, within
// moments; the version poll stays as a fallback.
//
// # Caveats
//
//   - One scheduler per home on a bbolt file: Start fails with
//     ErrSchedulerRunning while another process holds the scheduler lock.
//   - Among nodes, a due time claimed by a node that dies before recording
//     it has no record; a node whose clock lags the others by more than 64
//     periods of a job finds its due times already past and runs none.
//   - Run timeouts use real time even when Options.Clock is fake.
//   - The default, in-process Executor cannot enforce a job's memory cap
//     (the heap is the whole process's) nor stop a native built-in that
//     does not return; `scriptrun serve` isolates each run in a process.
//   - Deleting a job deletes its history; bbolt reuses the freed pages but
//     does not shrink the file.
package cron
