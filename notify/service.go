package notify

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Defaults of Options.
const (
	DefaultFailingAfter   = 15 * time.Minute
	DefaultExpiringWithin = 7 * 24 * time.Hour
	DefaultCheckInterval  = time.Minute
	DefaultPollInterval   = 5 * time.Second
	DefaultGiveUpAfter    = 24 * time.Hour
	DefaultLease          = time.Minute
	DefaultTimeout        = 15 * time.Second
	// KeepDeliveries and KeepDays bound the delivery log.
	KeepDeliveries = 1000
	KeepDays       = 30
)

// Options configure a Service. Only DB is required.
type Options struct {
	DB *store.DB
	// Client posts deliveries (default: DefaultTimeout, no redirects
	// followed, the environment's proxy). Its CheckRedirect is replaced
	// so that a signed event never goes where its notifier does not point.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock of events, back-off and leases (default time.Now).
	Now func() time.Time
	// Backoff is the wait after the n-th failed attempt (default:
	// 30 s doubling, at most 1 h, with ±25 % jitter).
	Backoff func(n int) time.Duration
	// FailingAfter: a token whose refreshes have failed this long is
	// announced as token.refresh_failing (default 15 min; one setting for
	// every notifier: serve --notify-failing-after).
	FailingAfter time.Duration
	// ExpiringWithin: a static credential whose expiry is this close is
	// announced as token.expiring (default 7 days).
	ExpiringWithin time.Duration
	// CheckInterval is how often Run checks tokens and jobs, and
	// PollInterval how often it looks for deliveries due.
	CheckInterval, PollInterval time.Duration
	// GiveUpAfter: a delivery not delivered this long after its event is
	// marked failed (default 24 h).
	GiveUpAfter time.Duration
	// Lease is how long a process holds an attempt (default 1 min); it
	// must outlast the client's timeout.
	Lease time.Duration
	// Worker names this process in leases (default: host, pid and a
	// random suffix).
	Worker string
}

// Service derives events from the store and delivers them. Its methods are
// safe for concurrent use.
type Service struct {
	o    Options
	db   *store.DB
	log  *slog.Logger
	kick chan struct{}

	mu         sync.Mutex // guards lastTrim
	lastTrim   time.Time
	deliveryMu sync.Mutex // one DeliverDue pass at a time in this process
	// runsRead counts the runs checks have read (tests: a check reads
	// only the runs since the previous one).
	runsRead atomic.Int64
}

// New returns a Service on o.DB.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backoff == nil {
		o.Backoff = Backoff
	}
	o.FailingAfter = orDefault(o.FailingAfter, DefaultFailingAfter)
	o.ExpiringWithin = orDefault(o.ExpiringWithin, DefaultExpiringWithin)
	o.CheckInterval = orDefault(o.CheckInterval, DefaultCheckInterval)
	o.PollInterval = orDefault(o.PollInterval, DefaultPollInterval)
	o.GiveUpAfter = orDefault(o.GiveUpAfter, DefaultGiveUpAfter)
	o.Lease = orDefault(o.Lease, DefaultLease)
	if o.Worker == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = crand.Read(b)
		o.Worker = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	c := &http.Client{Timeout: DefaultTimeout}
	if o.Client != nil {
		cp := *o.Client
		c = &cp
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = c
	return &Service{o: o, db: o.DB, log: o.Logger, kick: make(chan struct{}, 1)}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Backoff is the default wait after the n-th failed attempt (n >= 1): 30 s
// doubling up to 1 h, with ±25 % jitter so that deliveries that failed
// together do not retry together.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + time.Duration((rand.Float64()-0.5)*0.5*float64(d))
}

// Kick makes Run check tokens and jobs soon (after a short pause, so that
// the change being announced has been stored), and deliver what that
// produced.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// TokenEvent is a tokens.Options.OnEvent listener: the outcomes that change
// a token's condition make Run check soon.
func (s *Service) TokenEvent(ev tokens.Event) {
	switch ev.Kind {
	case tokens.EventReauthRequired, tokens.EventRefreshFailed, tokens.EventFetchFailed,
		tokens.EventRefreshed, tokens.EventFetched, tokens.EventAuthorized, tokens.EventRevoked:
		s.Kick()
	}
}

// RunFinished is a cron.Options.OnRunFinished listener: a finished run
// makes Run check soon.
func (s *Service) RunFinished(store.Run) { s.Kick() }

// kickDelay lets the change that caused a kick be committed first: a token
// manager tells its listeners before it records a failure.
const kickDelay = 300 * time.Millisecond

// kickSpacing is the least time between checks that kicks cause: with many
// jobs finishing every second (on several nodes), a check per run would
// read every job's runs several times a second for nothing.
const kickSpacing = 2 * time.Second

// Run checks and delivers until ctx is done: at once, then every
// CheckInterval and PollInterval, and soon after each Kick.
func (s *Service) Run(ctx context.Context) {
	check := time.NewTicker(s.o.CheckInterval)
	defer check.Stop()
	poll := time.NewTicker(s.o.PollInterval)
	defer poll.Stop()
	s.cycle(ctx, true)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			s.cycle(ctx, true)
			last = time.Now()
		case <-poll.C:
			s.cycle(ctx, false)
		case <-s.kick:
			select {
			case <-ctx.Done():
				return
			case <-time.After(max(kickDelay, kickSpacing-time.Since(last))):
			}
			s.cycle(ctx, true)
			last = time.Now()
		}
	}
}

func (s *Service) cycle(ctx context.Context, check bool) {
	if check {
		if _, err := s.Check(); err != nil {
			s.log.Warn("notify: checking tokens and jobs", "err", err)
		}
		s.trim()
	}
	if _, err := s.DeliverDue(ctx); err != nil {
		s.log.Warn("notify: delivering", "err", err)
	}
}

// trim bounds the delivery log, at most once an hour.
func (s *Service) trim() {
	now := s.o.Now()
	s.mu.Lock()
	due := now.Sub(s.lastTrim) >= time.Hour
	if due {
		s.lastTrim = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	err := s.db.Update(func(tx *store.Tx) error {
		_, err := tx.TrimDeliveries(KeepDeliveries, now.Add(-KeepDays*24*time.Hour))
		return err
	})
	if err != nil {
		s.log.Warn("notify: trimming the delivery log", "err", err)
	}
}
