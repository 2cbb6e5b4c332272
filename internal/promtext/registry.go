package promtext

import (
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Registry is the set of collectors one exposition shows. Its methods are
// safe for concurrent use.
type Registry struct {
	mu         sync.Mutex // guards collectors
	collectors []Collector
}

// NewRegistry returns a registry of cs.
func NewRegistry(cs ...Collector) *Registry {
	r := &Registry{}
	r.Register(cs...)
	return r
}

// Register adds collectors; their families follow those already there.
func (r *Registry) Register(cs ...Collector) {
	r.mu.Lock()
	r.collectors = append(r.collectors, cs...)
	r.mu.Unlock()
}

// Append appends the exposition of every collector to b.
func (r *Registry) Append(b []byte) []byte {
	r.mu.Lock()
	cs := append([]Collector(nil), r.collectors...)
	r.mu.Unlock()
	w := &Writer{buf: b}
	for _, c := range cs {
		c.Collect(w)
	}
	return w.buf
}

// Handler serves the exposition (GET and HEAD), gzipped when the client
// accepts gzip, as client_golang's promhttp does. A failed write (the
// scraper went away) goes to onError when it is not nil.
func (r *Registry) Handler(onError func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := r.Append(nil)
		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Add("Vary", "Accept-Encoding")
		var err error
		if acceptsGzip(req.Header.Values("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			if _, err = zw.Write(body); err == nil {
				err = zw.Close()
			}
		} else {
			_, err = w.Write(body)
		}
		if err != nil && onError != nil {
			onError(err)
		}
	})
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip (or *)
// without q=0.
func acceptsGzip(headers []string) bool {
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			q := strings.ReplaceAll(strings.ToLower(params), " ", "")
			if q == "q=0" || strings.HasPrefix(q, "q=0.") && strings.Trim(q[4:], "0") == "" {
				continue
			}
			return true
		}
	}
	return false
}
