package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/internal/promtext"
	"github.com/scriptrun/scriptrun/store"
)

// listenMetrics listens on --metrics-addr, which must be a loopback address:
// the metrics name jobs and tokens, and have no sign-in of their own.
func listenMetrics(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return nil, usageErr("--metrics-addr %q is not HOST:PORT: give a loopback address such as 127.0.0.1:9464", addr)
	}
	if !store.IsLoopback(host) {
		return nil, usageErr("--metrics-addr %q is not a loopback address: metrics have no sign-in, so serve them on 127.0.0.1 (or [::1]) and let Prometheus or a proxy on this machine reach them", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageErr("--metrics-addr: cannot listen on %s (%v): choose another port", addr, errors.Unwrap(err))
	}
	return ln, nil
}

// metricsRegistry gathers what serve's /metrics shows: the scheduler's and
// the token manager's metrics (m, which also counts the token events of
// the runs' processes), whether this serve schedules the home's jobs
// (scheduling, as scriptrun_cron_scheduling), and the Go runtime's and
// this process's own.
func metricsRegistry(m *cron.Metrics, scheduling func() bool) *promtext.Registry {
	return promtext.NewRegistry(
		m,
		promtext.NewGaugeFunc("scriptrun_cron_scheduling",
			"Whether this serve runs the home's cron jobs (1) or another process does (0).",
			func() float64 {
				if scheduling() {
					return 1
				}
				return 0
			}),
		promtext.GoCollector(),
		promtext.ProcessCollector(),
	)
}

// metricsHandler serves GET /metrics from reg, in the Prometheus text
// format (gzipped when the scraper accepts it). Behind it, the caller
// checks the Host header (web.AllowedHosts), as the console does.
func metricsHandler(reg *promtext.Registry, log *slog.Logger) http.Handler {
	prom := reg.Handler(func(err error) {
		log.Warn("metrics: answer a scrape", "err", err)
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		prom.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "scriptrun serves metrics at /metrics", http.StatusNotFound)
	})
	return mux
}
