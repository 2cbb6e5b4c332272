package etcdkv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/internal/keyedmutex"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
)

// Error is the type of the errors callers branch on (ErrNotFound and the
// rest). They are constants so that a package that hands them on under its
// own name (store.ErrConflict = ErrConflict) copies them without init work:
// a variable copied from another package's variable is set by an init
// function at every start of the program. Compare them with errors.Is.
type Error string

// Error returns the message.
func (e Error) Error() string { return string(e) }

// Errors callers branch on; returned errors wrap them with the key and what
// to do.
const (
	// ErrNotFound: the key does not exist.
	ErrNotFound Error = "not found"
	// ErrExists: a create-only write found the key already there.
	ErrExists Error = "already exists"
	// ErrConflict: a compare-and-swap write found the key changed since it
	// was read (its ModRevision moved); re-read and decide again.
	ErrConflict Error = "changed since it was read"
	// ErrTooLarge: the request would exceed the cluster's request size
	// limit; it was not sent.
	ErrTooLarge Error = "too large for etcd"
	// ErrUnavailable: no member answered in time (unreachable cluster, no
	// quorum, or every endpoint gone).
	ErrUnavailable Error = "etcd cluster unavailable"
	// ErrLeaseNotFound: a write named a lease that has expired or was
	// revoked.
	ErrLeaseNotFound Error = "lease not found"
	// ErrLockLost: the lease behind a Lock expired or was revoked; the
	// holder must not assume it still excludes others.
	ErrLockLost Error = "lock lost"
)

// DefaultMaxRequestBytes is etcd's default --max-request-bytes (1.5 MiB).
const DefaultMaxRequestBytes = 3 << 19

// DefaultMaxTxnOps is etcd's default --max-txn-ops: the most compares, and
// the most writes, one transaction may carry (each list on its own).
const DefaultMaxTxnOps = 128

// requestOverhead is the part of MaxRequestBytes kept for the request's
// framing, compares and keys beyond what Client counts.
const requestOverhead = 4 << 10

// Config says how to reach a cluster. Only cmd reads flags and environment;
// it fills a Config and calls Open.
type Config struct {
	// Target is the parsed store URL (etcdurl.Parse).
	Target etcdurl.Target
	// CAFile, CertFile, KeyFile are PEM files (--etcd-ca, --etcd-cert,
	// --etcd-key). With CAFile set the connection uses TLS verified against
	// it; CertFile and KeyFile add a client certificate.
	CAFile, CertFile, KeyFile string
	// Username and Password authenticate to a cluster with auth enabled.
	Username, Password string
	// DialTimeout bounds Open's first round trip and every call made
	// without a deadline of its own (default 5 s), so that an unreachable
	// cluster is an error rather than a hang.
	DialTimeout time.Duration
	// MaxRequestBytes is the cluster's --max-request-bytes (default
	// DefaultMaxRequestBytes). Writes larger than it are refused here with
	// ErrTooLarge.
	MaxRequestBytes int
	// MaxTxnOps is the cluster's --max-txn-ops (default
	// DefaultMaxTxnOps). A transaction with more compares, or more
	// writes, is refused here with ErrTooLarge.
	MaxTxnOps int
	// LockTTL is the lease of the client's locks (default DefaultLockTTL).
	LockTTL time.Duration
}

// Client is a connection to an etcd cluster, scoped to one key prefix: every
// key given to its methods is relative to Target.Prefix. It is safe for
// concurrent use.
type Client struct {
	gw      *gateway
	prefix  string
	timeout time.Duration
	maxReq  int
	maxOps  int
	target  etcdurl.Target
	sess    sessions
	local   keyedmutex.Map // Lock's in-process queue per name
}

// Open connects to the cluster and makes one round trip (a read of the
// prefix), so that a wrong address, certificate or password is reported
// here, within DialTimeout.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Target.Endpoints) == 0 {
		return nil, fmt.Errorf("etcdkv: open: no endpoints")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = DefaultMaxTxnOps
	}
	var tlsCfg *tls.Config
	if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
		if (cfg.CertFile == "") != (cfg.KeyFile == "") {
			return nil, fmt.Errorf("etcdkv: open %s: --etcd-cert and --etcd-key go together", cfg.Target)
		}
		var err error
		if tlsCfg, err = tlsConfig(cfg.CAFile, cfg.CertFile, cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("etcdkv: open %s: TLS files: %w", cfg.Target, err)
		}
	}
	c := &Client{prefix: cfg.Target.Prefix, timeout: cfg.DialTimeout, maxReq: cfg.MaxRequestBytes, maxOps: cfg.MaxTxnOps, target: cfg.Target, sess: sessions{ttl: cfg.LockTTL}}
	c.gw = newGateway(cfg.Target.Endpoints, tlsCfg, cfg.Username, cfg.Password, cfg.DialTimeout)
	// The dial timeout holds here even under a longer caller deadline:
	// an unreachable cluster must be reported, not waited for. With a
	// user name, this first call authenticates.
	cctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := c.rangeKeys(cctx, rangeReq{Key: []byte(c.prefix), RangeEnd: prefixEnd([]byte(c.prefix)), CountOnly: true}); err != nil {
		c.gw.close()
		return nil, fmt.Errorf("etcdkv: open %s: %w", cfg.Target, c.explain(err))
	}
	return c, nil
}

// Close releases the client's locks (by revoking their lease) and ends the
// connection. Keys written with PutTTL stay until their own lease expires.
func (c *Client) Close() error {
	c.closeSession()
	c.gw.close()
	return nil
}

// Target is where this client is connected.
func (c *Client) Target() etcdurl.Target { return c.target }

// ctx bounds a call by DialTimeout unless the caller already set a deadline.
func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Client) key(k string) string { return c.prefix + k }

// explain turns transport and server errors into ones a user can act on,
// wrapping the package's sentinels. Secrets never appear: etcd's errors name
// no values, and this adds only the endpoints.
func (c *Client) explain(err error) error {
	if err == nil {
		return nil
	}
	var re *rpcError
	msg := ""
	if errors.As(err, &re) {
		msg = re.msg
	}
	eps := strings.Join(c.target.Endpoints, ",")
	switch {
	case strings.HasPrefix(msg, "etcdserver: request timed out"), msg == "etcdserver: no leader",
		msg == "etcdserver: leader changed":
		// The cluster took the request but could not commit it in time
		// (a leader change, lost quorum): a write may or may not have been
		// applied, and the caller must read back before retrying.
		return fmt.Errorf("%w: the cluster did not commit the request in time (leader lost or no quorum; a write may or may not have been applied): %v",
			ErrUnavailable, err)
	case errors.Is(err, errUnreachable):
		return fmt.Errorf("%w: no member could be reached at %s (is etcd running there, and a majority of its members up?): %v",
			ErrUnavailable, eps, err)
	case errors.Is(err, context.DeadlineExceeded) || (re != nil && re.code == codeDeadlineExceeded):
		return fmt.Errorf("%w: no answer in time from %s (is etcd running there, and a majority of its members up?): %v",
			ErrUnavailable, eps, err)
	case msg == "etcdserver: request is too large":
		return fmt.Errorf("%w: the cluster refused the request as larger than its --max-request-bytes: %v", ErrTooLarge, err)
	case msg == "etcdserver: too many operations in txn request":
		return fmt.Errorf("%w: the cluster refused the transaction as having more operations than its --max-txn-ops (set the same limit in the client's configuration): %v", ErrTooLarge, err)
	case strings.HasPrefix(msg, "etcdserver: authentication failed"), msg == "etcdserver: invalid auth token":
		return fmt.Errorf("etcd refused the user name or password (check $SCRIPTRUN_ETCD_USERNAME and $SCRIPTRUN_ETCD_PASSWORD): %w", err)
	case msg == "etcdserver: user name is empty":
		return fmt.Errorf("etcd requires a user name and password: set $SCRIPTRUN_ETCD_USERNAME and $SCRIPTRUN_ETCD_PASSWORD: %w", err)
	case msg == "etcdserver: permission denied":
		return fmt.Errorf("etcd user may not use prefix %s (grant it a role with readwrite on that prefix): %w", c.prefix, err)
	case msg == "etcdserver: requested lease not found":
		return fmt.Errorf("%w: %v", ErrLeaseNotFound, err)
	case re != nil && re.code == codeResourceExhausted:
		// gRPC's own cap (--max-request-bytes plus 512 KiB) spoke first.
		return fmt.Errorf("%w: the cluster refused the request as larger than it accepts: %v", ErrTooLarge, err)
	case re != nil && re.code == codeUnavailable, errors.Is(err, errUnreachable), errors.Is(err, errCutOff):
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, eps, err)
	}
	return err
}
