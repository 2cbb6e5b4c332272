package cron

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// funcExecutor runs a Go function instead of a script.
type funcExecutor func(ctx context.Context, job store.Job, out io.Writer) error

func (f funcExecutor) Execute(ctx context.Context, job store.Job, out io.Writer) error {
	return f(ctx, job, out)
}

// clusterNode is one serve node of a cluster test: its own connection,
// registration and scheduler.
type clusterNode struct {
	db     *store.DB
	node   *store.Node
	s      *Scheduler
	events chan store.Run
}

// pollInterval is the cluster tests' version poll: long, so that what
// they see of changes comes by watch.
var pollInterval = time.Hour

// startClusterNodes starts n nodes on one fresh prefix of an embedded etcd,
// each running scripts with exec, stopped when the test ends.
func startClusterNodes(t *testing.T, n int, exec Executor) []*clusterNode {
	t.Helper()
	return startClusterNodesOn(t, etcdtest.New(t), store.Options{Create: true}, n, exec)
}

// startClusterNodesOn is startClusterNodes on cluster c, opened with opts.
func startClusterNodesOn(t *testing.T, c *etcdtest.Cluster, opts store.Options, n int, exec Executor) []*clusterNode {
	t.Helper()
	url := "etcd://" + strings.Join(c.Endpoints(), ",") + "/" + strings.ToLower(t.Name()) + "/"
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		db, err := store.OpenURL(context.Background(), url, testKey, opts)
		if err != nil {
			t.Fatal(err)
		}
		node, err := db.RegisterNode(context.Background(), store.NodeInfo{Name: fmt.Sprintf("node-%d", i)}, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cn := &clusterNode{db: db, node: node, events: make(chan store.Run, 1024)}
		cn.s = New(Options{DB: db, Node: node, Executor: exec, RunBy: node.Info.Name, FlushInterval: 100 * time.Millisecond, GracePeriod: time.Second, PollInterval: pollInterval})
		cn.s.onEvent = func(r store.Run) {
			select {
			case cn.events <- r:
			default:
			}
		}
		nodes[i] = cn
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := cn.s.Stop(ctx); err != nil {
				t.Errorf("stop %s: %v", node.Info.Name, err)
			}
			node.Close()
			db.Close()
		})
	}
	return nodes
}

func startAll(t *testing.T, nodes []*clusterNode) {
	t.Helper()
	for _, n := range nodes {
		if err := n.s.Start(context.Background()); err != nil {
			t.Fatalf("start %s: %v", n.node.Info.Name, err)
		}
	}
}

// TestClusterOneRunPerTick: three nodes schedule the same jobs every
// second; each due time of each job runs exactly once, on the node that
// claimed it, and no node takes a scheduler lock.
func TestClusterOneRunPerTick(t *testing.T) {
	nodes := startClusterNodes(t, 3, funcExecutor(func(context.Context, store.Job, io.Writer) error { return nil }))
	jobs := []string{"a", "b", "c", "d"}
	for _, name := range jobs {
		j := testJobSpec(name, "@every 1s")
		if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
			t.Fatal(err)
		}
	}
	startAll(t, nodes)
	// Wait for at least 4 finished scheduled runs of every job.
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := 0
		for _, name := range jobs {
			var runs []store.Run
			if err := nodes[1].db.View(func(tx *store.Tx) (err error) { runs, err = tx.Runs(name, 0); return err }); err != nil {
				t.Fatal(err)
			}
			if countFinished(runs) >= 4 {
				done++
			}
		}
		if done == len(jobs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("jobs did not run 4 times each within 30 s")
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, not synchronising
	}
	for _, n := range nodes {
		stopNode(t, n)
	}
	byNode := map[string]int{}
	for _, name := range jobs {
		var runs []store.Run
		var claims []store.RunClaim
		if err := nodes[2].db.View(func(tx *store.Tx) (err error) {
			if runs, err = tx.Runs(name, 0); err != nil {
				return err
			}
			claims, err = tx.RunClaims(name)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		claimedBy := map[time.Time]string{}
		for _, c := range claims {
			claimedBy[c.Due] = c.Node
		}
		seen := map[time.Time]uint64{}
		for _, r := range runs {
			if r.Trigger != store.TriggerSchedule {
				continue
			}
			if prev, dup := seen[r.Scheduled]; dup {
				t.Errorf("job %s due %s ran twice: runs %d and %d", name, r.Scheduled.Format(time.StampMilli), prev, r.ID)
			}
			seen[r.Scheduled] = r.ID
			if r.Node == "" || claimedBy[r.Scheduled.UTC()] != r.Node {
				t.Errorf("run %d of %s on node %q, claimed by %q", r.ID, name, r.Node, claimedBy[r.Scheduled.UTC()])
			}
			byNode[r.Node]++
		}
	}
	t.Logf("runs by node: %v", byNode)
}

func countFinished(runs []store.Run) int {
	n := 0
	for _, r := range runs {
		if r.Status == store.RunSucceeded && r.Trigger == store.TriggerSchedule {
			n++
		}
	}
	return n
}

func stopNode(t *testing.T, n *clusterNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := n.s.Stop(ctx); err != nil {
		t.Errorf("stop %s: %v", n.node.Info.Name, err)
	}
}

func testJobSpec(name, spec string) store.Job {
	return store.Job{Name: name, Schedule: spec, Script: "console.log(1)", ScriptName: name + ".js", Timeout: time.Minute, Enabled: true}
}

// blockingExec writes a line, then waits until its run is cancelled or
// release is closed.
func blockingExec(started chan<- string, release <-chan struct{}) Executor {
	return funcExecutor(func(ctx context.Context, job store.Job, out io.Writer) error {
		fmt.Fprintf(out, "working on %s\n", job.Name)
		started <- job.Name
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return nil
		}
	})
}

// TestClusterLostRun: a node's registration ends while it runs a job (it
// died, as far as the others can tell): exactly one survivor records the
// run as lost, naming the node, with the output the node had saved.
func TestClusterLostRun(t *testing.T) {
	started := make(chan string, 4)
	release := make(chan struct{})
	defer close(release)
	nodes := startClusterNodes(t, 3, blockingExec(started, release))
	j := testJobSpec("long", "@every 1h")
	if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
		t.Fatal(err)
	}
	startAll(t, nodes)
	run, err := nodes[0].s.RunNow(context.Background(), "long")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	waitFor(t, "the running run's output to be saved", func() bool {
		var out []byte
		_ = nodes[1].db.View(func(tx *store.Tx) (err error) { out, err = tx.RunOutput(run.ID); return err })
		return strings.Contains(string(out), "working on long")
	})
	if err := nodes[0].node.Close(); err != nil { // node-0 "dies"
		t.Fatal(err)
	}
	var lost store.Run
	waitFor(t, "the run to be recorded lost", func() bool {
		_ = nodes[1].db.View(func(tx *store.Tx) (err error) { lost, err = tx.Run(run.ID); return err })
		return lost.Status == store.RunLost
	})
	if !strings.Contains(lost.Reason, "node-0") || lost.Node != "node-0" {
		t.Errorf("lost run: node %q, reason %q; want node-0 named", lost.Node, lost.Reason)
	}
	var out []byte
	if err := nodes[2].db.View(func(tx *store.Tx) (err error) { out, err = tx.RunOutput(run.ID); return err }); err != nil || !strings.Contains(string(out), "working on long") {
		t.Errorf("lost run's output = %q, %v; want the saved line", out, err)
	}
	// Both survivors sweep again: still one lost event.
	waitSweeps(t, nodes[1:], 2)
	n := 0
	for _, cn := range nodes[1:] {
	drain:
		for {
			select {
			case r := <-cn.events:
				if r.ID == run.ID && r.Status == store.RunLost {
					n++
				}
			default:
				break drain
			}
		}
	}
	if n != 1 {
		t.Errorf("the run was recorded lost %d times, want once", n)
	}
}

// TestClusterCancelElsewhere: a run going on one node is cancelled from
// another (the console's Cancel on any node).
func TestClusterCancelElsewhere(t *testing.T) {
	started := make(chan string, 4)
	release := make(chan struct{})
	defer close(release)
	nodes := startClusterNodes(t, 2, blockingExec(started, release))
	j := testJobSpec("long", "@every 1h")
	if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
		t.Fatal(err)
	}
	startAll(t, nodes)
	run, err := nodes[0].s.RunNow(context.Background(), "long")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if !nodes[1].s.CancelAnywhere(run.ID, "cancelled from node-1's console") {
		t.Fatal("CancelAnywhere did not find the run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := FollowRun(ctx, nodes[1].db, run.ID, 50*time.Millisecond)
	if err != nil || r.Status != store.RunCancelled || r.Reason != "cancelled from node-1's console" {
		t.Errorf("run after a cancel from another node: %s %q, %v; want cancelled with the reason", r.Status, r.Reason, err)
	}
}

// TestClusterQueueAcrossNodes: with overlap queue, a run triggered on one
// node while the job runs on another waits for it, then runs.
func TestClusterQueueAcrossNodes(t *testing.T) {
	started := make(chan string, 4)
	release := make(chan struct{})
	nodes := startClusterNodes(t, 2, blockingExec(started, release))
	j := testJobSpec("long", "@every 1h")
	j.Overlap = store.OverlapQueue
	if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
		t.Fatal(err)
	}
	startAll(t, nodes)
	first, err := nodes[0].s.RunNow(context.Background(), "long")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	second, err := nodes[1].s.RunNow(context.Background(), "long")
	if err != nil || second.Status != store.RunQueued {
		t.Fatalf("run on node-1 while node-0 runs the job: %s, %v; want queued", second.Status, err)
	}
	third, err := nodes[1].s.RunNow(context.Background(), "long")
	if err != nil || third.Status != store.RunSkipped {
		t.Errorf("a third run: %s, %v; want skipped (the queue holds one)", third.Status, err)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for _, id := range []uint64{first.ID, second.ID} {
		r, err := FollowRun(ctx, nodes[1].db, id, 50*time.Millisecond)
		if err != nil || r.Status != store.RunSucceeded {
			t.Errorf("run %d: %s, %v; want succeeded", id, r.Status, err)
		}
	}
}

// waitSweeps waits until every node has finished n more lost-run sweeps.
func waitSweeps(t *testing.T, nodes []*clusterNode, n int64) {
	t.Helper()
	start := make([]int64, len(nodes))
	for i, cn := range nodes {
		start[i] = cn.s.sweeps.Load()
	}
	waitFor(t, fmt.Sprintf("%d more lost-run sweeps on each node", n), func() bool {
		for i, cn := range nodes {
			if cn.s.sweeps.Load() < start[i]+n {
				return false
			}
		}
		return true
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not synchronising
	}
}

// TestClusterOutputTooLarge: on a cluster whose requests are smaller than
// a run's output, the run's final record is kept, with a note instead of
// the output, not lost in a failed write.
func TestClusterOutputTooLarge(t *testing.T) {
	const limit = 128 << 10
	c := etcdtest.Start(t, etcdtest.Options{MaxRequestBytes: limit})
	opts := store.Options{Create: true}
	opts.Etcd.MaxRequestBytes = limit
	nodes := startClusterNodesOn(t, c, opts, 1, funcExecutor(func(_ context.Context, _ store.Job, out io.Writer) error {
		_, err := out.Write([]byte(strings.Repeat("x", 3*limit)))
		return err
	}))
	if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(testJobSpec("loud", "@every 1h")) }); err != nil {
		t.Fatal(err)
	}
	startAll(t, nodes)
	run, err := nodes[0].s.RunNow(context.Background(), "loud")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := nodes[0].s.Wait(ctx, run.ID)
	if err != nil || r.Status != store.RunSucceeded || !r.Truncated {
		t.Fatalf("run with output over the store's request size: %s truncated %v, %v; want succeeded, truncated", r.Status, r.Truncated, err)
	}
	var out []byte
	if err := nodes[0].db.View(func(tx *store.Tx) (err error) { out, err = tx.RunOutput(run.ID); return err }); err != nil || !strings.Contains(string(out), "max-request-bytes") {
		t.Errorf("output = %.80q, %v; want the note naming --max-request-bytes", out, err)
	}
}

// TestClusterJobChangeByWatch: a job added and then disabled on one node
// is scheduled and then unscheduled by another within moments, with
// polling off (issue 13: within 1 s by watch).
func TestClusterJobChangeByWatch(t *testing.T) {
	nodes := startClusterNodes(t, 2, funcExecutor(func(context.Context, store.Job, io.Writer) error { return nil }))
	startAll(t, nodes)
	scheduled := func() bool {
		nodes[1].s.mu.Lock()
		defer nodes[1].s.mu.Unlock()
		e := nodes[1].s.entries["late"]
		if e == nil {
			return false
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		return !e.nextDue.IsZero()
	}
	j := testJobSpec("late", "@every 1h")
	start := time.Now()
	if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node-1 to schedule a job added on node-0", scheduled)
	t.Logf("a job added on node-0 was scheduled on node-1 after %s", time.Since(start).Round(time.Millisecond))
	if err := nodes[0].db.Update(func(tx *store.Tx) error { _, err := tx.SetJobEnabled("late", false); return err }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node-1 to unschedule a job disabled on node-0", func() bool { return !scheduled() })
}

// TestClusterOrphanRun: a run of no node (a `scriptrun cron run` that
// died) left running, its job's lock free, is closed as cancelled by a
// node; one whose lock is held (still going) is left alone.
func TestClusterOrphanRun(t *testing.T) {
	nodes := startClusterNodes(t, 2, funcExecutor(func(context.Context, store.Job, io.Writer) error { return nil }))
	for _, name := range []string{"dead", "alive"} {
		if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(testJobSpec(name, "@every 1h")) }); err != nil {
			t.Fatal(err)
		}
	}
	unlock, err := nodes[1].db.TryLockJob("alive")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ids := map[string]uint64{}
	for _, name := range []string{"dead", "alive"} {
		var r store.Run
		err := nodes[0].db.Update(func(tx *store.Tx) (err error) {
			r, err = tx.AddRun(store.Run{Job: name, Trigger: store.TriggerManual, Status: store.RunRunning, RunBy: "scriptrun cron run (pid 1)"}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = r.ID
	}
	startAll(t, nodes[:1])
	var dead store.Run
	waitFor(t, "the orphan run to be closed", func() bool {
		_ = nodes[1].db.View(func(tx *store.Tx) (err error) { dead, err = tx.Run(ids["dead"]); return err })
		return dead.Status.Final()
	})
	if dead.Status != store.RunCancelled || !strings.Contains(dead.Reason, "pid 1") {
		t.Errorf("orphan run: %s %q; want cancelled naming its process", dead.Status, dead.Reason)
	}
	waitSweeps(t, nodes[:1], 2) // another whole sweep after the one that closed it
	var alive store.Run
	if err := nodes[1].db.View(func(tx *store.Tx) (err error) { alive, err = tx.Run(ids["alive"]); return err }); err != nil || alive.Status != store.RunRunning {
		t.Errorf("a run whose lock is held: %s, %v; want still running", alive.Status, err)
	}
}

// TestClusterRunRequest: a run requested from outside (`scriptrun cron
// run` on any host) is taken by exactly one of the nodes, by watch.
func TestClusterRunRequest(t *testing.T) {
	nodes := startClusterNodes(t, 3, funcExecutor(func(context.Context, store.Job, io.Writer) error { return nil }))
	if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(testJobSpec("once", "@every 1h")) }); err != nil {
		t.Fatal(err)
	}
	startAll(t, nodes)
	if !Running(nodes[0].db) {
		t.Fatal("Running = false with three nodes registered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for i := range 3 {
		r, err := RequestRun(ctx, nodes[i].db, "once", 5*time.Second)
		if err != nil || r.Node == "" {
			t.Fatalf("request %d: run on node %q, %v", i, r.Node, err)
		}
		if r, err = FollowRun(ctx, nodes[i].db, r.ID, 20*time.Millisecond); err != nil || r.Status != store.RunSucceeded {
			t.Fatalf("request %d: %s, %v; want succeeded", i, r.Status, err)
		}
	}
	var runs []store.Run
	if err := nodes[1].db.View(func(tx *store.Tx) (err error) { runs, err = tx.Runs("once", 0); return err }); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Errorf("%d runs for 3 requests (%v), want 3", len(runs), runs)
	}
}

// TestClusterReplaceAcrossNodes: with overlap replace, a run triggered on
// one node cancels the job's run on another, then runs.
func TestClusterReplaceAcrossNodes(t *testing.T) {
	started := make(chan string, 4)
	release := make(chan struct{})
	defer close(release)
	nodes := startClusterNodes(t, 2, blockingExec(started, release))
	j := testJobSpec("long", "@every 1h")
	j.Overlap = store.OverlapReplace
	if err := nodes[0].db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
		t.Fatal(err)
	}
	startAll(t, nodes)
	first, err := nodes[0].s.RunNow(context.Background(), "long")
	if err != nil {
		t.Fatal(err)
	}
	<-started
	second, err := nodes[1].s.RunNow(context.Background(), "long")
	if err != nil || second.Status != store.RunQueued {
		t.Fatalf("run on node-1 while node-0 runs the job: %s, %v; want queued", second.Status, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := FollowRun(ctx, nodes[1].db, first.ID, 20*time.Millisecond)
	if err != nil || r.Status != store.RunCancelled || r.Reason != fmt.Sprintf("replaced by run %d", second.ID) {
		t.Errorf("replaced run: %s %q, %v; want cancelled, replaced by run %d", r.Status, r.Reason, err, second.ID)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the replacing run did not start")
	}
}
