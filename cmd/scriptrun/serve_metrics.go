package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scriptrun/scriptrun/cron"
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
func metricsRegistry(m *cron.Metrics, scheduling func() bool) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		m,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scriptrun_cron_scheduling",
			Help: "Whether this serve runs the home's cron jobs (1) or another process does (0).",
		}, func() float64 {
			if scheduling() {
				return 1
			}
			return 0
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register a collector: %w", err)
		}
	}
	return reg, nil
}

// metricsHandler serves GET /metrics from g, in the format the scraper
// asks for (Prometheus text by default). Behind it, the caller checks the
// Host header (web.AllowedHosts), as the console does.
func metricsHandler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	prom := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError, // a failing collector leaves the others
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
