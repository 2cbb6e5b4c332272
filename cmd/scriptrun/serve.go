package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/internal/promtext"
	"github.com/scriptrun/scriptrun/notify"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/web"
)

const defaultServeAddr = "127.0.0.1:8080"

func newServeCmd(a *app) *cobra.Command {
	var cfg serveConfig
	var addr string
	c := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] [--callback-url URL] [--allowed-host NAME]... [--tls-cert FILE --tls-key FILE] [--metrics-addr 127.0.0.1:9464] [--cron-grace 10s]",
		Short: "Run the web console, the OAuth callback and the cron scheduler",
		Long: `Serves the web console (providers, tokens, "Get authorization token", cron
jobs) and the OAuth callback, and runs the home's cron jobs, until interrupted
(SIGINT or SIGTERM stop it gracefully: running jobs get --cron-grace to finish,
then are cancelled and recorded).

The callback URL is the redirect URI registered at providers: --callback-url,
else $SCRIPTRUN_CALLBACK_URL, else ` + defaultCallbackURL + `, the
same as for token authorize. The console answers it at /oauth/callback.

The console answers only to the names it is served under, so that a web
page cannot reach it by pointing its own DNS name at this machine (DNS
rebinding): the --addr address (and localhost for a loopback one; for
0.0.0.0 or [::], the loopback names and this machine's IP addresses), the
callback URL's host, and each --allowed-host. Behind a reverse proxy, or
under a DNS name of this machine, add that name with --allowed-host (host
or host:port; repeat the flag or separate names with commas). Other names
get 421 Misdirected Request.

Sign-in needs the admin password (scriptrun admin password); until one is set,
serve prints a one-time setup link. Scripts, the REPL and token commands keep
working on the same home while it runs. Logs go to standard error.

One serve per home runs the cron jobs. A second serve on the same home warns,
serves its console (which shows and edits the jobs, and hands "Run now" to
the first), and takes the jobs over when the first stops. On an etcd store
every serve is a node that schedules the jobs, each due time running on one
of them; a node that dies has its running jobs recorded lost by the others
within --node-ttl (README: "Running several nodes").

--metrics-addr serves Prometheus metrics at /metrics on a loopback address
(they have no sign-in): runs by job and status, durations, missed runs, token
refreshes and fetches (the runs' included), and the Go runtime's and the
process's own (go_*, process_*).

Serve also sends the webhooks of scriptrun notify: it checks tokens and jobs
when they change and once a minute, and retries deliveries for 24 h.`,
		Args: noArgs,
	}
	c.Flags().StringVar(&addr, "addr", defaultServeAddr, "address to listen on; anything but loopback should use TLS")
	c.Flags().StringVar(&cfg.callback, "callback-url", "", "redirect URI registered at the providers (default $SCRIPTRUN_CALLBACK_URL, else "+defaultCallbackURL+")")
	c.Flags().StringSliceVar(&cfg.allowedHosts, "allowed-host", nil, "also answer to this host name or host:port in the Host header, e.g. a reverse proxy's (repeatable, or comma-separated)")
	c.Flags().StringVar(&cfg.certFile, "tls-cert", "", "serve HTTPS with this certificate (PEM), with --tls-key")
	c.Flags().StringVar(&cfg.keyFile, "tls-key", "", "the private key (PEM) of --tls-cert")
	c.Flags().StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics; a loopback address, e.g. 127.0.0.1:9464 (default: off)")
	c.Flags().DurationVar(&cfg.cronGrace, "cron-grace", cron.DefaultGracePeriod, "on shutdown, how long running cron jobs may finish before they are cancelled")
	c.Flags().DurationVar(&cfg.failingAfter, "notify-failing-after", notify.DefaultFailingAfter, "send token.refresh_failing once a token's refreshes have failed this long (see scriptrun notify)")
	addClusterFlags(c, &cfg.cluster)
	c.RunE = func(c *cobra.Command, args []string) error {
		if (cfg.certFile == "") != (cfg.keyFile == "") {
			return usageErr("give --tls-cert and --tls-key together")
		}
		if cfg.failingAfter <= 0 {
			return usageErr("--notify-failing-after %s is not valid: give a positive duration, e.g. --notify-failing-after 15m", cfg.failingAfter)
		}
		if cfg.cronGrace <= 0 || cfg.cronGrace > 24*time.Hour {
			return usageErr("--cron-grace %s is not valid: give a positive duration up to 24h, e.g. --cron-grace 30s", cfg.cronGrace)
		}
		if _, err := web.ParseAllowedHosts(cfg.allowedHosts...); err != nil {
			return usageErr("--allowed-host: %v", strings.TrimPrefix(err.Error(), "web: "))
		}
		cfg.callback = a.callbackURL(cfg.callback)
		cfg.addr = addr
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return usageErr("cannot listen on %s (%v): is another scriptrun serve running? stop it, or choose another --addr", addr, errors.Unwrap(err))
		}
		if cfg.metricsAddr != "" {
			if cfg.metrics, err = listenMetrics(cfg.metricsAddr); err != nil {
				ln.Close()
				return err
			}
		}
		return a.serve(ctx, ln, cfg)
	}
	return c
}

// serveConfig is what serve needs besides the listener.
type serveConfig struct {
	callback          string   // the resolved callback URL
	addr              string   // --addr as given ("" = the listener's address only)
	allowedHosts      []string // --allowed-host
	certFile, keyFile string
	metricsAddr       string
	metrics           net.Listener  // from --metrics-addr; nil = no metrics
	cronGrace         time.Duration // 0 = cron.DefaultGracePeriod
	takeOverEvery     time.Duration // 0 = cron.DefaultTakeOverInterval; tests shorten it
	failingAfter      time.Duration // 0 = notify.DefaultFailingAfter
	cluster           clusterConfig // --node-name, --node-ttl (etcd stores)
}

// serve runs the console on ln until ctx ends, then shuts down gracefully.
func (a *app) serve(ctx context.Context, ln net.Listener, cfg serveConfig) error {
	defer ln.Close()
	if cfg.metrics != nil {
		defer cfg.metrics.Close()
	}
	out, errw := a.stdio.Out, a.stdio.Err
	port := ln.Addr().(*net.TCPAddr).Port
	cb, err := callbackFor(cfg.callback, port)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if cfg.certFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return usageErr("--tls-cert/--tls-key: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	// One log for the console, the scheduler and the token manager, whose
	// events the metrics also count (set before open builds the manager).
	logger := slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	metrics := cron.NewMetrics()
	notes := newServeNotify(logger, cfg.failingAfter)
	a.logger, a.onEvent = logger, notes.tokenEvents(metrics.TokenEvent)
	db, m, err := a.open()
	if err != nil {
		return err
	}
	node, ctx, leave, err := joinCluster(ctx, db, m, cfg.cluster, logger)
	if err != nil {
		return err
	}
	defer leave() // after the scheduler stopped, so that no run of it is lost
	defer notes.start(db)()
	grace := cfg.cronGrace
	if grace <= 0 {
		grace = cron.DefaultGracePeriod
	}
	// Runs execute in child processes, so that no script can take serve
	// down; the token events of their runs are logged and counted here.
	jobs, err := a.newJobProcess(logger)
	if err != nil {
		return err
	}
	jobs.onEvent = a.onEvent
	jobs.keepSpares()
	defer jobs.close() // after the scheduler stopped (below)

	takeOver := cfg.takeOverEvery
	if takeOver <= 0 {
		takeOver = cron.DefaultTakeOverInterval
	}
	host := cron.NewHost(cron.New(cron.Options{
		DB: db, Signer: m, Refresher: m, Metrics: metrics, Logger: logger, Executor: jobs,
		RunBy: runBy(node), GracePeriod: grace, Node: node, OnRunFinished: notes.runFinished,
	}), cron.HostOptions{TakeOverInterval: takeOver, AnswerWait: serveAnswerWait, Logger: logger})
	consoleHosts := append(listenHosts(cfg.addr, ln.Addr().(*net.TCPAddr)), cfg.allowedHosts...)
	console, err := web.New(web.Options{
		DB: db, Tokens: m, CallbackURL: cb.String(), Logger: logger,
		AllowedHosts:  consoleHosts,
		SecureCookies: tlsConfig != nil || cb.Scheme == "https",
		Cron:          host,
		Templates:     a.templates,
		Notify:        notes.service(),
		Command:       strings.TrimSuffix(a.hint("scriptrun "), " "),
	})
	if err != nil {
		return failErr(err)
	}
	// The metrics have no sign-in: a rebinding page must not read them either.
	var metricsHosts *web.AllowedHosts
	var metricsReg *promtext.Registry
	if cfg.metrics != nil {
		if metricsHosts, err = web.ParseAllowedHosts(append(listenHosts(cfg.metricsAddr, cfg.metrics.Addr().(*net.TCPAddr)), cfg.allowedHosts...)...); err != nil {
			return failErr(err)
		}
		metricsReg = metricsRegistry(metrics, func() bool { return host.Status() == cron.Here })
	}
	srv := &http.Server{
		Handler:           console,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // a refresh or code exchange may take its 30 s
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	base := consoleBase(ln.Addr().(*net.TCPAddr), tlsConfig != nil, cb)
	home, _ := a.homeDir()
	fmt.Fprintf(out, "scriptrun console: %s/\nOAuth callback (register it at your providers as the redirect URI): %s\nhome: %s\n", base, cb, home)
	for _, w := range serveWarnings(ln.Addr().(*net.TCPAddr), tlsConfig != nil, cb) {
		fmt.Fprintln(errw, "warning: "+w)
	}
	started := host.Start(ctx)
	if started && node != nil {
		fmt.Fprintf(out, "cron: node %s schedules the jobs with the other nodes on %s; each due time runs on one of them\n", node.Info.Name, db.Path())
	} else if started {
		fmt.Fprintln(out, "cron: this serve runs the home's jobs")
	} else if db.SchedulerRunning() {
		fmt.Fprintln(errw, "warning: another scriptrun serve runs this home's cron jobs; this one serves the console only (its cron pages hand \"Run now\" to that serve) and takes the jobs over when that one stops")
	} else {
		fmt.Fprintln(errw, "warning: the cron scheduler did not start (see the log); this serve retries every "+takeOver.String())
	}
	var metricsSrv *http.Server
	if cfg.metrics != nil {
		metricsSrv = &http.Server{Handler: metricsHosts.Handler(metricsHandler(metricsReg, logger), logger), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		fmt.Fprintf(out, "metrics: http://%s/metrics\n", cfg.metrics.Addr())
		go metricsSrv.Serve(cfg.metrics)
	}
	if setup := console.SetupPath(); setup != "" {
		fmt.Fprint(out, a.hint(fmt.Sprintf("\nNo admin password is set. Open this one-time link to choose one:\n\n  %s%s\n\n(or run `scriptrun admin password`)\n", base, setup)))
	}
	logger.Info("console listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil,
		"hosts", strings.Join(append(consoleHosts, cb.Host), " "))

	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	var serveErr error
	select {
	case err := <-served:
		serveErr = failErr(fmt.Errorf("the console stopped: %w", err))
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests and cron runs in progress", "cron_grace", grace)
	// The console and the scheduler stop side by side: requests get 15 s,
	// runs their grace period; the token manager closes after both (Main).
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := host.Stop(context.Background()); err != nil {
			logger.Warn("cron: stopping the scheduler", "err", err)
		}
	})
	if serveErr == nil {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logger.Warn("requests still running after 15 s; closing them", "err", err)
			srv.Close()
		}
		<-served
	}
	if metricsSrv != nil {
		metricsSrv.Close()
	}
	wg.Wait()
	if serveErr != nil {
		return serveErr
	}
	if err := nodeExit(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "console stopped")
	return nil
}

// listenHosts are the names a listener is reached under: its address and,
// for a loopback one, localhost; for an unspecified one (0.0.0.0, [::]) the
// loopback names and the machine's own IP addresses, since a rebinding
// attack needs a DNS name and an IP address cannot be one. A name given in
// addr (e.g. --addr myhost:8080) counts too. Other names come from the
// callback URL (added by the console) and --allowed-host.
func listenHosts(addr string, ln *net.TCPAddr) []string {
	port := strconv.Itoa(ln.Port)
	var ips []net.IP
	if ln.IP.IsUnspecified() {
		ips = append(ips, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
		if as, err := net.InterfaceAddrs(); err == nil {
			for _, a := range as {
				if n, ok := a.(*net.IPNet); ok {
					ips = append(ips, n.IP)
				}
			}
		}
	} else {
		ips = append(ips, ln.IP)
	}
	var hosts []string
	loopback := false
	for _, ip := range ips {
		hosts = append(hosts, net.JoinHostPort(ip.String(), port))
		loopback = loopback || ip.IsLoopback()
	}
	if loopback {
		hosts = append(hosts, net.JoinHostPort("localhost", port))
	}
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && net.ParseIP(h) == nil {
		if _, err := web.ParseAllowedHosts(h); err == nil {
			hosts = append(hosts, net.JoinHostPort(h, port))
		}
	}
	return hosts
}

// callbackFor checks the callback URL and, for a loopback one with port 0
// (tests, the demo), puts in the port the console listens on.
func callbackFor(raw string, port int) (*url.URL, error) {
	cb, err := url.Parse(raw)
	if err != nil || (cb.Scheme != "http" && cb.Scheme != "https") || cb.Host == "" || cb.User != nil || cb.Fragment != "" {
		return nil, usageErr("callback URL %q is not an absolute http(s) URL: give it like http://127.0.0.1:8080/oauth/callback", raw)
	}
	if cb.Port() == "0" && store.IsLoopback(cb.Hostname()) {
		cb.Host = net.JoinHostPort(cb.Hostname(), strconv.Itoa(port))
	}
	return cb, nil
}

// consoleBase is the console's address to print: the callback's origin when
// it points at this listener or is public HTTPS (a proxy in front), else the
// listening address (loopback for an unspecified one).
func consoleBase(addr *net.TCPAddr, tlsOn bool, cb *url.URL) string {
	if cb.Port() == strconv.Itoa(addr.Port) || (cb.Scheme == "https" && !store.IsLoopback(cb.Hostname())) {
		return cb.Scheme + "://" + cb.Host
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// serveWarnings lists setups that will not work or are unsafe.
func serveWarnings(addr *net.TCPAddr, tlsOn bool, cb *url.URL) []string {
	var ws []string
	if !addr.IP.IsLoopback() && !tlsOn {
		ws = append(ws, fmt.Sprintf("listening on %s without TLS: the admin password and session cookies can be read on the network; use --tls-cert/--tls-key, or listen on 127.0.0.1 behind an HTTPS proxy", addr))
	}
	if store.IsLoopback(cb.Hostname()) && cb.Port() != strconv.Itoa(addr.Port) {
		ws = append(ws, fmt.Sprintf("the callback URL %s is not this console (listening on port %d): providers will send the browser elsewhere; pass --callback-url with this console's address, and register it at the providers", cb, addr.Port))
	}
	if cb.Scheme == "http" && !store.IsLoopback(cb.Hostname()) {
		ws = append(ws, fmt.Sprintf("the callback URL %s uses plain http on a network host: authorization codes would travel unencrypted; use https", cb))
	}
	if !strings.HasSuffix(cb.Path, "/oauth/callback") {
		ws = append(ws, fmt.Sprintf("the console answers the callback at /oauth/callback, but the callback URL's path is %q: map it there in your proxy, or use a callback URL ending in /oauth/callback", cb.Path))
	}
	return ws
}
