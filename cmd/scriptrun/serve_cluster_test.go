package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// clusterServe is one `scriptrun serve` node of the end-to-end cluster test.
type clusterServe struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	logs *syncBuffer
	done chan error
}

// startClusterServe starts the real binary's serve as node name on the
// store at url, with the shared master key, and waits until it has joined.
func startClusterServe(t *testing.T, url, keyHex, name string, env ...string) *clusterServe {
	t.Helper()
	p := &clusterServe{name: name, out: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--callback-url", "http://127.0.0.1:0/oauth/callback", "--node-name", name)
	p.cmd.Env = append(os.Environ(), append([]string{"SCRIPTRUN_HOME=" + t.TempDir(), "SCRIPTRUN_STORE=" + url, "SCRIPTRUN_MASTER_KEY=" + keyHex}, env...)...)
	stdout, _ := p.cmd.StdoutPipe()
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.out.Write([]byte(sc.Text() + "\n"))
		}
		p.done <- p.cmd.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), "cron: node "+name+" schedules the jobs") {
		if time.Now().After(deadline) {
			t.Fatalf("serve %s did not join; stdout:\n%s\nstderr:\n%s", name, p.out, p.logs)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition
	}
	return p
}

// TestServeCluster is issue 13's end-to-end test: three serve processes on
// a three-member etcd run 20 jobs due every second; every due time is
// handled exactly once. Then the node running a long job is killed with
// SIGKILL and an etcd member stopped: the others go on, the killed run is
// recorded lost, no due time runs twice, and ticks are late by at most one
// node TTL. It logs the start delay (p50/p99) and the failover times.
//
// It measures timing across six processes, so it runs alone: with
// SCRIPTRUN_E2E_CLUSTER=1, as .ci/run does after the rest of the suite.
// Beside the other packages' tests under -race on a 2-core machine, every
// node stalls at once often enough to leave due times unhandled, which is
// the load, not the cluster.
func TestServeCluster(t *testing.T) {
	if os.Getenv("SCRIPTRUN_E2E_CLUSTER") == "" {
		t.Skip("runs alone: SCRIPTRUN_E2E_CLUSTER=1 go test -count=1 -run TestServeCluster ./cmd/scriptrun (.ci/run does)")
	}
	steady, after := 30*time.Second, 20*time.Second
	if testing.Short() {
		steady, after = 10*time.Second, 16*time.Second
	}
	c := etcdtest.Start(t, etcdtest.Options{Members: 3})
	url := "etcd://" + strings.Join(c.Endpoints(), ",") + "/e2e/"
	key := make([]byte, store.KeySize)
	rand.Read(key)
	keyHex := hex.EncodeToString(key)
	db, err := store.OpenURL(context.Background(), url, key, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var jobs []string
	for i := range 20 {
		jobs = append(jobs, fmt.Sprintf("tick-%02d", i))
	}
	put := func(name, script string) {
		j := store.Job{Name: name, Schedule: "@every 1s", Script: script, ScriptName: name + ".js", Timeout: time.Minute, Enabled: true}
		if err := db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range jobs {
		put(name, "console.log('tick', args.length)")
	}
	// One run of "long" lasts a minute; its other due times are skipped.
	put("long", "console.log('long started'); setTimeout(() => console.log('long done'), 60000);")

	const ttl = 10 * time.Second // --node-ttl, and the job locks' lease
	var nodes []*clusterServe
	for i := range 3 {
		nodes = append(nodes, startClusterServe(t, url, keyHex, fmt.Sprintf("n%d", i)))
	}
	t0 := time.Now()
	time.Sleep(steady) // the cluster runs; the test only watches the clock

	// The node running "long" dies; so does an etcd member.
	var running store.Run
	waitFor(t, "a run of long to be running", 20*time.Second, func() bool {
		runs := storeRuns(t, db, "long")
		i := slices.IndexFunc(runs, func(r store.Run) bool { return r.Status == store.RunRunning })
		if i >= 0 {
			running = runs[i]
		}
		return i >= 0
	})
	victim := nodes[slices.IndexFunc(nodes, func(n *clusterServe) bool { return n.name == running.Node })]
	killedAt := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	stopped := c.Leader()
	c.Stop(stopped)
	t.Logf("killed node %s (running run %d of long) and stopped etcd member %d, the leader", victim.name, running.ID, stopped)

	var lost store.Run
	waitFor(t, "the killed run to be recorded lost", ttl+15*time.Second, func() bool {
		_ = db.View(func(tx *store.Tx) (err error) { lost, err = tx.Run(running.ID); return err })
		return lost.Status == store.RunLost
	})
	lostAfter := lost.Finished.Sub(killedAt)
	if !strings.Contains(lost.Reason, victim.name) {
		t.Errorf("lost run's reason %q does not name node %s", lost.Reason, victim.name)
	}
	time.Sleep(max(0, after-time.Since(killedAt)))
	end := time.Now()
	for _, n := range nodes {
		if n != victim {
			stopClusterServe(t, n)
		}
	}

	// `cron runs` shows the lost run with its node.
	home := t.TempDir()
	cmd := exec.Command(binary(t), "cron", "runs", "long", "--limit", "0")
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home, "SCRIPTRUN_STORE="+url, "SCRIPTRUN_MASTER_KEY="+keyHex)
	out, err := cmd.CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^\s*`+fmt.Sprint(running.ID)+`\s+lost\b.*`).Match(out) || !strings.Contains(string(out), "node "+victim.name) {
		t.Errorf("cron runs long: %v\n%s\nwant run %d lost, naming node %s", err, out, running.ID, victim.name)
	}

	steadyDelays, failDelays, maxGap := checkTicks(t, db, jobs, t0, killedAt, end, ttl)
	resumed := firstStartAfter(storeRuns(t, db, "long"), killedAt)
	if resumed.IsZero() {
		t.Errorf("long did not run again after node %s died", victim.name)
	}
	t.Logf("cron start delay with 3 nodes: p50 %s, p99 %s over %d runs before the failures; p50 %s, p99 %s over %d runs after",
		pct(steadyDelays, 0.50).Round(time.Millisecond), pct(steadyDelays, 0.99).Round(time.Millisecond), len(steadyDelays),
		pct(failDelays, 0.50).Round(time.Millisecond), pct(failDelays, 0.99).Round(time.Millisecond), len(failDelays))
	t.Logf("after SIGKILL: lost recorded in %s, long running again in %s, largest gap between handled due times of a 1 s job %s",
		lostAfter.Round(10*time.Millisecond), resumed.Sub(killedAt).Round(10*time.Millisecond), maxGap)
}

func stopClusterServe(t *testing.T, p *clusterServe) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("serve %s after SIGTERM: %v\nstderr:\n%s", p.name, err, p.logs)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("serve %s did not stop within 60 s of SIGTERM", p.name)
	}
}

func storeRuns(t *testing.T, db *store.DB, job string) []store.Run {
	t.Helper()
	var runs []store.Run
	if err := db.View(func(tx *store.Tx) (err error) { runs, err = tx.Runs(job, 0); return err }); err != nil {
		t.Fatal(err)
	}
	return runs
}

// checkTicks checks the records of each 1 s job: no due time twice; every
// due time from 3 s after start to the kill handled; after it, no gap over
// ttl plus slack. It returns the start delays of runs due before and after
// the kill, and the largest gap.
func checkTicks(t *testing.T, db *store.DB, jobs []string, start, killed, end time.Time, ttl time.Duration) (before, after []time.Duration, maxGap time.Duration) {
	t.Helper()
	byStatus := map[string]int{}
	defer func() { t.Logf("records of the 1 s jobs: %v", byStatus) }()
	for _, job := range jobs {
		var dues []time.Time
		seen := map[time.Time]uint64{}
		for _, r := range storeRuns(t, db, job) {
			if r.Trigger != store.TriggerSchedule {
				continue
			}
			byStatus[string(r.Status)+" on "+r.Node]++
			if id, dup := seen[r.Scheduled]; dup {
				t.Errorf("%s due %s recorded twice: runs %d and %d", job, r.Scheduled.Format(time.StampMilli), id, r.ID)
			}
			seen[r.Scheduled] = r.ID
			dues = append(dues, r.Scheduled)
			switch {
			case r.Status != store.RunSucceeded:
			case r.Scheduled.Before(killed):
				before = append(before, r.Started.Sub(r.Scheduled))
			default:
				after = append(after, r.Started.Sub(r.Scheduled))
			}
		}
		sort.Slice(dues, func(i, j int) bool { return dues[i].Before(dues[j]) })
		for i := 1; i < len(dues); i++ {
			gap := dues[i].Sub(dues[i-1])
			maxGap = max(maxGap, gap)
			switch {
			case dues[i].Before(killed) && dues[i-1].After(start.Add(3*time.Second)) && gap > 1500*time.Millisecond:
				t.Errorf("%s: no record of the due times between %s and %s, before any failure", job, dues[i-1].Format(time.StampMilli), dues[i].Format(time.StampMilli))
			case gap > ttl+3*time.Second:
				t.Errorf("%s: a gap of %s after %s, over one node TTL (%s)", job, gap, dues[i-1].Format(time.StampMilli), ttl)
			}
		}
		if len(dues) == 0 || end.Sub(dues[len(dues)-1]) > ttl+3*time.Second {
			t.Errorf("%s: last handled due time %v, the test ended at %s", job, dues, end.Format(time.StampMilli))
		}
	}
	return before, after, maxGap
}

// firstStartAfter is when the first run started after t (zero: none).
func firstStartAfter(runs []store.Run, t time.Time) time.Time {
	var first time.Time
	for _, r := range runs {
		if r.Started.After(t) && (first.IsZero() || r.Started.Before(first)) {
			first = r.Started
		}
	}
	return first
}
