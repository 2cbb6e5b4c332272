package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
)

// What a store shared by several hosts (etcd) adds for cron and the token
// manager: nodes registered on a lease, claims of scheduled runs, and change
// notices by watch (ETCD-DESIGN.md §4 and §6). A bbolt store has none of
// it: one machine, one scheduler (LockScheduler), and polling.
//
//	nodes        name -> NodeInfo, attached to the node's lease
//	cronclaims   job name -> the job's recently claimed due times

// Key spaces of this file.
const (
	spaceNodes      = "nodes"
	spaceCronClaims = "cronclaims"
)

// ErrTooLarge: a write does not fit one request of the etcd store (its
// --max-request-bytes, Options.Etcd.MaxRequestBytes); nothing was written.
var ErrTooLarge error = etcdkv.ErrTooLarge

// ErrNotClustered: the operation needs a store shared by several hosts
// (etcd); a bbolt file has one scheduler and polls instead.
var ErrNotClustered = errors.New("only a clustered (etcd) store has nodes, claims and watches")

// clusterBackend is what a backend shared by several hosts provides on top
// of backend; the etcd backend satisfies it (cluster_etcd.go), bbolt does
// not.
type clusterBackend interface {
	// register writes key for as long as this process keeps a lease of
	// ttl alive, create-only (ErrExists while another holder has it);
	// value is given the lease's id. lost is closed when the lease ends;
	// release ends it at once, deleting key.
	register(ctx context.Context, key string, ttl time.Duration, value func(lease int64) ([]byte, error)) (lost <-chan struct{}, release func() error, err error)
	// watch calls fn with the name (the key after "space/") of every
	// change under space, in order, until ctx is done; after the watch
	// broke and resumed from a fresh read, fn("") says "anything may
	// have changed". fn must return quickly.
	watch(ctx context.Context, space string, fn func(name string))
}

func (db *DB) cluster() (clusterBackend, error) {
	if c, ok := db.kv.(clusterBackend); ok {
		return c, nil
	}
	return nil, fmt.Errorf("%s: %w", db.path, ErrNotClustered)
}

// NodeInfo is a registered node, as others see it.
type NodeInfo struct {
	Name string `json:"name"`
	// ID tells this life of the node from an earlier one of the same
	// name: the id of its lease.
	ID      string    `json:"id"`
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
	Started time.Time `json:"started"`
}

// Node is this process's registration in a clustered store: it lasts while
// the process keeps its lease alive (it dies with the process, within the
// lease's TTL).
type Node struct {
	Info    NodeInfo
	lost    <-chan struct{}
	release func() error
}

// Lost is closed when the registration ended: Close, or the lease expired
// (the cluster was unreachable for longer than the TTL). Runs recorded
// with this node may then be marked lost by other nodes.
func (n *Node) Lost() <-chan struct{} { return n.lost }

// Close ends the registration at once.
func (n *Node) Close() error { return n.release() }

// RegisterNode registers this process as node info.Name (its ID is filled
// in) for as long as it lives, on a lease of ttl. A name held by a live
// node is refused with an error wrapping ErrExists. On a bbolt store it
// fails with ErrNotClustered.
func (db *DB) RegisterNode(ctx context.Context, info NodeInfo, ttl time.Duration) (*Node, error) {
	c, err := db.cluster()
	if err != nil {
		return nil, err
	}
	if err := ValidateName("node", info.Name); err != nil {
		return nil, err
	}
	if info.Started.IsZero() {
		info.Started = db.now().UTC()
	}
	lost, release, err := c.register(ctx, key(spaceNodes, info.Name), ttl, func(lease int64) ([]byte, error) {
		info.ID = fmt.Sprintf("%x", lease)
		return json.Marshal(info)
	})
	if errors.Is(err, ErrExists) {
		return nil, fmt.Errorf("node name %q is used by another live node on %s: give each serve its own --node-name: %w", info.Name, db.path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("register node %q on %s: %w", info.Name, db.path, err)
	}
	return &Node{Info: info, lost: lost, release: release}, nil
}

// Nodes returns the nodes registered now, ordered by name (none on bbolt).
func (tx *Tx) Nodes() ([]NodeInfo, error) {
	var out []NodeInfo
	err := tx.kv.List(key(spaceNodes, ""), func(k string, v []byte) error {
		var n NodeInfo
		if err := json.Unmarshal(v, &n); err != nil || n.Name != k {
			return fmt.Errorf("%w: node %q in %s is unreadable", ErrDamaged, k, tx.db.path)
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// NodeAlive reports whether the node name is registered in its life id.
func (tx *Tx) NodeAlive(name, id string) (bool, error) {
	v, err := tx.kv.Get(key(spaceNodes, name))
	if err != nil || v == nil {
		return false, err
	}
	var n NodeInfo
	if err := json.Unmarshal(v, &n); err != nil {
		return false, fmt.Errorf("%w: node %q in %s is unreadable", ErrDamaged, name, tx.db.path)
	}
	return n.ID == id, nil
}

// Change kinds for Watch.
const (
	// ChangeCron: jobs or run requests changed (the cron version moved).
	ChangeCron = spaceCron
	// ChangeTokens: a token changed; the name is the token's.
	ChangeTokens = spaceTokens
	// ChangeProviders: a provider changed, and with it what its tokens
	// sign with; the name is the provider's.
	ChangeProviders = spaceProviders
	// ChangeNodes: a node registered or went away; the name is the node's.
	ChangeNodes = spaceNodes
)

// Watch calls fn for every change of kind (ChangeCron, ChangeTokens, …) made
// by any process on any host, within moments of its commit, until ctx is
// done: in the background, fn getting the record's name, or "" when
// anything may have changed (the watch broke and resumed). fn must return
// quickly (hand the work to another goroutine). On a bbolt store it fails
// with ErrNotClustered: one machine polls (CronVersion).
func (db *DB) Watch(ctx context.Context, kind string, fn func(name string)) error {
	c, err := db.cluster()
	if err != nil {
		return err
	}
	switch kind {
	case ChangeCron, ChangeTokens, ChangeProviders, ChangeNodes:
	default:
		return fmt.Errorf("watch %q: not a kind of change (use store.ChangeCron, ChangeTokens, ChangeProviders or ChangeNodes)", kind)
	}
	c.watch(ctx, kind, fn)
	return nil
}

// claimWindow is how many claimed due times a job's claim record keeps. A
// node whose clock lags the others by more than that many periods finds
// its due times older than the record and runs nothing.
const claimWindow = 64

// claimRecord is a job's recently claimed due times, newest last.
type claimRecord struct {
	Dues  []int64  `json:"dues"` // Unix nanoseconds
	Nodes []string `json:"nodes"`
}

// ClaimRun claims the scheduled run of job due at due for node and reports
// whether it got it: false when another node (or this one) claimed it
// already, or when due is older than every due time the record keeps.
// Written in an Update, a claim is taken by exactly one of any number of
// nodes, whatever their clocks say: on etcd a second claimer's commit
// fails its compare and its re-run finds the claim. Claims go with the job
// (DeleteJob).
func (tx *Tx) ClaimRun(job string, due time.Time, node string) (bool, error) {
	if err := ValidateName("job", job); err != nil {
		return false, err
	}
	k := key(spaceCronClaims, job)
	var rec claimRecord
	v, err := tx.kv.Get(k)
	if err != nil {
		return false, tx.readError("claims of job", job, err)
	}
	if v != nil {
		if err := json.Unmarshal(v, &rec); err != nil || len(rec.Dues) != len(rec.Nodes) {
			rec = claimRecord{} // history only: start it again
		}
	}
	d := due.UnixNano()
	if slices.Contains(rec.Dues, d) || (len(rec.Dues) >= claimWindow && d < rec.Dues[0]) {
		return false, nil
	}
	i, _ := slices.BinarySearch(rec.Dues, d)
	rec.Dues = slices.Insert(rec.Dues, i, d)
	rec.Nodes = slices.Insert(rec.Nodes, i, node)
	if n := len(rec.Dues) - claimWindow; n > 0 {
		rec.Dues, rec.Nodes = rec.Dues[n:], rec.Nodes[n:]
	}
	return true, tx.put(spaceCronClaims, "claims of job", job, rec)
}

// RunClaim is who claimed a scheduled run.
type RunClaim struct {
	Due  time.Time
	Node string
}

// RunClaims returns the job's claims that the record still keeps, oldest
// first (the last claimWindow due times).
func (tx *Tx) RunClaims(job string) ([]RunClaim, error) {
	v, err := tx.kv.Get(key(spaceCronClaims, job))
	if err != nil || v == nil {
		return nil, err
	}
	var rec claimRecord
	if err := json.Unmarshal(v, &rec); err != nil || len(rec.Dues) != len(rec.Nodes) {
		return nil, fmt.Errorf("%w: claims of job %q in %s are unreadable", ErrDamaged, job, tx.db.path)
	}
	out := make([]RunClaim, len(rec.Dues))
	for i, d := range rec.Dues {
		out[i] = RunClaim{Due: time.Unix(0, d).UTC(), Node: rec.Nodes[i]}
	}
	return out, nil
}
