package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

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

// metricsContentType is the Prometheus text exposition format.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metricsHandler serves GET /metrics: the scheduler's and token manager's
// counters, and whether this serve schedules the home's jobs.
func metricsHandler(m *cron.Metrics, h *cron.Host, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", metricsContentType)
		w.Header().Set("Cache-Control", "no-store")
		if err := m.WriteMetrics(w); err != nil {
			log.Debug("metrics: write", "err", err)
			return
		}
		scheduling := 0
		if h.Status() == cron.Here {
			scheduling = 1
		}
		fmt.Fprintf(w, "# HELP scriptrun_cron_scheduling Whether this serve runs the home's cron jobs (1) or another process does (0).\n"+
			"# TYPE scriptrun_cron_scheduling gauge\nscriptrun_cron_scheduling %d\n", scheduling)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "scriptrun serves metrics at /metrics", http.StatusNotFound)
	})
	return mux
}
