// Package etcdkv is scriptrun's access to an etcd cluster: the few
// primitives that the store's etcd implementation is built from, each a
// thin, tested layer over etcd's v3 API (KV, Txn, Lease, Watch only, so
// that Debian's etcd 3.4 serves as well as 3.6 and 3.7).
//
//   - Get, List (one revision, paged), Put, Delete, with each key's
//     ModRevision;
//   - in a transaction, Keys (a keys-only List: no values sent) and
//     GetMany (chosen keys, one round trip per --max-txn-ops of them), so
//     a page of a long list reads every key but only its own values;
//   - View and Update: transactions as closures, as bbolt's, made
//     optimistic (a snapshot read, the read set compared in the commit,
//     the function re-run on conflict; see Client.Update);
//   - Commit: writes applied atomically under conditions, Unchanged(key,
//     rev) (compare-and-swap: the fence for a rotated token set) and
//     NothingNewUnder(prefix, rev); Create (create-only: the claim of a
//     (job, scheduled time)) and PutIfUnchanged are its common cases;
//   - Lock and TryLock: a lease-based mutex per name, waiters watching rather than
//     polling, whose loss is reported (Lock.Lost); see Lock for why the
//     lease alone is not enough and the write is the fence;
//   - PutTTL and Take: keys that expire with a lease (console sessions,
//     OAuth state) and a read-and-delete that one caller wins;
//   - Watch: changes under a prefix, delivered as they commit;
//   - a size guard: a request over the cluster's --max-request-bytes, or a
//     transaction with more compares or more writes than its --max-txn-ops,
//     is refused with ErrTooLarge before it is sent, and the cluster's own
//     refusals are mapped to the same error.
//
// # Transport
//
// etcdkv speaks etcd's v3 API as JSON over HTTP/1.1 (net/http and
// encoding/json): the gRPC gateway that etcd serves on its client port
// (/v3/kv/range, /v3/kv/txn, /v3/watch, /v3/lease/..., 3.4 and later).
// etcd's Go client would link gRPC, protobuf and zap into scriptrun, whose
// package initialisation every start paid, even on bbolt. A call goes to
// the member that answered last and moves to the next one when a member
// cannot be reached; the auth token is fetched again when the cluster
// says it expired; watches and lock waits require a leader (gRPC metadata
// hasleader, sent as the Grpc-Metadata-Hasleader header). Each request
// costs the member a JSON translation and a loopback gRPC call (about
// 150 µs and 2 to 3 × the CPU of a gRPC request, measured on a Get), the
// price of a client without gRPC.
//
// Every key is relative to the Client's prefix (etcdurl.Parse: etcd://h1,h2/p,
// default "/scriptrun/"), so several installations share a cluster.
//
// etcdkv does not import store: store imports it (the etcd implementation of
// the store interface lives in store, beside the bbolt one, and uses these
// primitives), so the dependency points one way and etcdkv knows nothing of
// records, sealing or MACs. Values are opaque bytes here.
//
// # Caveats
//
//   - A Client's locks share one lease (DefaultLockTTL, 10 s): a process
//     that dies releases its locks within the TTL; one that is cut off
//     learns of the loss at its next keep-alive (a third of the TTL).
//   - Lock excludes goroutines of one Client in-process first; to etcd a
//     Client is one holder.
//   - NothingNewUnder does not see deletions: a transaction that depends on
//     a list's membership must also fence on a key that deletes rewrite.
//   - Lease expiry in etcd is driven by the leader's clock and raised to a
//     minimum (1.5 × the election timeout): a 1 s TTL lasts about 2 s on a
//     default cluster (measured on etcd 3.4).
//   - Watch delivers each change once per watch; a watcher that falls
//     behind a compaction gets an error event (ErrCompacted) and must
//     re-read. A hung member delays events by up to the heartbeat (5 s of
//     quiet, then a 3 s status probe) before the watch moves on.
//   - With --client-cert-auth, etcd's gateway reaches the member's own
//     gRPC service with the member's server certificate, which must
//     therefore allow client authentication too (extended key usage
//     clientAuth), as etcd's security guide asks.
//   - A write cut off by a leader change or lost quorum fails with
//     ErrUnavailable but may have been applied: read back before retrying
//     (Txn.Applied tells whether the cluster holds what an Update wrote).
//
// The tests run against embedded etcd (etcdtest) or, with
// $SCRIPTRUN_ETCD_ENDPOINTS set, an external cluster.
package etcdkv
