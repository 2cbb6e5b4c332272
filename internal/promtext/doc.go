// Package promtext keeps counters and histograms and writes them, with the
// Go runtime's and the process's standard metrics, in the Prometheus text
// exposition format (version 0.0.4), so that serve can be scraped without
// linking client_golang and its dependencies into every scriptrun start.
//
// A Registry holds Collectors; each writes its metric families through a
// Writer ("# HELP" and "# TYPE" lines, then the samples). CounterVec and
// HistogramVec are the kept metrics: a series per set of label values,
// updated without a lock on the registry. GaugeFunc, GoCollector and
// ProcessCollector read their values when the registry is written.
//
//	runs := promtext.NewCounterVec("x_runs_total", "Runs by status.", "status")
//	reg := promtext.NewRegistry(runs, promtext.GoCollector(), promtext.ProcessCollector())
//	runs.With("ok").Inc()
//	http.Handle("GET /metrics", reg.Handler(nil))
//
// The Go and process metrics have the names, types and help texts of
// client_golang's collectors.NewGoCollector() and NewProcessCollector(), so
// dashboards built on those keep working.
//
// # Caveats
//
//   - Only the text format: a scraper that asks for protobuf or OpenMetrics
//     gets text, which Prometheus accepts.
//   - Names are checked when a metric is made (a bad name is a programming
//     error and panics); label values are written as given, with invalid
//     UTF-8 replaced by U+FFFD.
//   - Families are written in the order collectors were registered, and
//     two collectors must not write the same family.
//   - A vector keeps every series it was asked for until the process
//     ends, as client_golang does: label values must be bounded (job and
//     token names are).
//   - The process metrics come from /proc on Linux; elsewhere only
//     process_cpu_seconds_total and process_max_fds are written.
package promtext
