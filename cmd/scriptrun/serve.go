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
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/web"
)

const defaultServeAddr = "127.0.0.1:8080"

func newServeCmd(a *app) *cobra.Command {
	var cfg serveConfig
	var addr string
	c := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] [--callback-url URL] [--tls-cert FILE --tls-key FILE]",
		Short: "Run the web console and the OAuth callback",
		Long: `Serves the web console (providers, tokens, "Get authorization token") and the
OAuth callback until interrupted (SIGINT or SIGTERM stop it gracefully).

The callback URL is the redirect URI registered at providers: --callback-url,
else $SCRIPTRUN_CALLBACK_URL, else ` + defaultCallbackURL + `, the
same as for token authorize. The console answers it at /oauth/callback.

Sign-in needs the admin password (scriptrun admin password); until one is set,
serve prints a one-time setup link. Scripts, the REPL and token commands keep
working on the same home while it runs. Logs go to standard error.`,
		Args: noArgs,
	}
	c.Flags().StringVar(&addr, "addr", defaultServeAddr, "address to listen on; anything but loopback should use TLS")
	c.Flags().StringVar(&cfg.callback, "callback-url", "", "redirect URI registered at the providers (default $SCRIPTRUN_CALLBACK_URL, else "+defaultCallbackURL+")")
	c.Flags().StringVar(&cfg.certFile, "tls-cert", "", "serve HTTPS with this certificate (PEM), with --tls-key")
	c.Flags().StringVar(&cfg.keyFile, "tls-key", "", "the private key (PEM) of --tls-cert")
	c.RunE = func(c *cobra.Command, args []string) error {
		if (cfg.certFile == "") != (cfg.keyFile == "") {
			return usageErr("give --tls-cert and --tls-key together")
		}
		cfg.callback = a.callbackURL(cfg.callback)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return usageErr("cannot listen on %s (%v): is another scriptrun serve running? stop it, or choose another --addr", addr, errors.Unwrap(err))
		}
		return a.serve(ctx, ln, cfg)
	}
	return c
}

// serveConfig is what serve needs besides the listener.
type serveConfig struct {
	callback          string // the resolved callback URL
	certFile, keyFile string
}

// serve runs the console on ln until ctx ends, then shuts down gracefully.
func (a *app) serve(ctx context.Context, ln net.Listener, cfg serveConfig) error {
	defer ln.Close()
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

	// The console's log, also given to the token manager for refresh events.
	logger := slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a.logger = logger
	db, m, err := a.open()
	if err != nil {
		return err
	}
	console, err := web.New(web.Options{
		DB: db, Tokens: m, CallbackURL: cb.String(), Logger: logger,
		SecureCookies: tlsConfig != nil || cb.Scheme == "https",
	})
	if err != nil {
		return failErr(err)
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
	if setup := console.SetupPath(); setup != "" {
		fmt.Fprintf(out, "\nNo admin password is set. Open this one-time link to choose one:\n\n  %s%s\n\n(or run `scriptrun admin password`)\n", base, setup)
	}
	logger.Info("console listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil)

	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		return failErr(fmt.Errorf("the console stopped: %w", err))
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in progress")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("requests still running after 15 s; closing them", "err", err)
		srv.Close()
	}
	<-served
	fmt.Fprintln(out, "console stopped")
	return nil
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
