package etcdkv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// gateway speaks etcd's v3 API as JSON over HTTP/1.1: the gRPC gateway that
// every etcd since 3.4 serves on its client port (/v3/kv/range, ...). It
// replaces etcd's Go client, whose gRPC and protobuf stack cost every
// start of scriptrun, even one on bbolt, 5.5 MiB and 1.5 ms of package
// initialisation.
//
// A call goes to the member that answered last; a member that cannot be
// reached (refused, reset, timed out) hands the call to the next one, as
// long as the call is safe to repeat or was never sent. The auth token is
// fetched once and again when the cluster says it expired.
type gateway struct {
	eps     []string // base URLs, "http://host:port"
	names   string   // the endpoints as given, for errors
	hc      *http.Client
	user    string
	pass    string
	mu      sync.Mutex
	cur     int        // index in eps of the member to try first
	amu     sync.Mutex // guards token and authSeq; held while authenticating
	token   string     // auth token ("": none yet, or auth off)
	authSeq int        // bumped at each authenticate, so racing callers fetch once
}

// rpcError is an error the cluster answered with (gRPC code and message,
// such as "etcdserver: no leader").
type rpcError struct {
	code int
	msg  string
}

func (e *rpcError) Error() string { return e.msg }

// gRPC codes the gateway reports.
const (
	codeInvalidArgument   = 3
	codeDeadlineExceeded  = 4
	codeResourceExhausted = 8
	codeUnavailable       = 14
	codeUnauthenticated   = 16
)

// errUnreachable: the request did not reach any member (each refused or
// failed the connection). The call was not applied.
var errUnreachable = errors.New("no endpoint could be reached")

// errCutOff: the connection broke after the request was sent; a write may
// or may not have been applied.
var errCutOff = errors.New("the connection to the member broke before its answer")

func newGateway(endpoints []string, tlsCfg *tls.Config, user, pass string, dialTimeout time.Duration) *gateway {
	scheme := "http://"
	if tlsCfg != nil {
		scheme = "https://"
	}
	g := &gateway{names: strings.Join(endpoints, ","), user: user, pass: pass}
	for _, ep := range endpoints {
		if strings.Contains(ep, "://") {
			g.eps = append(g.eps, strings.TrimSuffix(ep, "/"))
		} else {
			g.eps = append(g.eps, scheme+ep)
		}
	}
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 5 * time.Second}
	g.hc = &http.Client{Transport: &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: dialTimeout,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	},
		// etcd never redirects; a 307 or 308 would send the request again,
		// body (a password) and all, to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return g
}

// tlsConfig reads the PEM files of Config into a client TLS config.
func tlsConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (g *gateway) close() { g.hc.CloseIdleConnections() }

// callOpts say how a call may be handled.
type callOpts struct {
	leader bool // require a leader (gRPC metadata hasleader=true)
	repeat bool // safe to send again to another member (reads, lease calls)
	// opened, if set, learns which member a stream was opened on.
	opened func(ep int)
}

// call posts in to path and decodes the answer into out, moving to the
// next member on a connection failure, and authenticating again once if
// the token expired.
func (g *gateway) call(ctx context.Context, path string, in, out any, o callOpts) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	for retried := false; ; retried = true {
		seq, token, err := g.auth(ctx)
		if err != nil {
			return err
		}
		err = g.post(ctx, path, body, token, out, o)
		var re *rpcError
		if !retried && g.user != "" && errors.As(err, &re) && strings.Contains(re.msg, "invalid auth token") {
			g.expire(seq)
			continue
		}
		return err
	}
}

// post sends body to the members in turn, from the current one, until one
// answers (or refuses with a reason of its own).
func (g *gateway) post(ctx context.Context, path string, body []byte, token string, out any, o callOpts) error {
	start := g.first()
	var last error
	for i := range g.eps {
		ep := (start + i) % len(g.eps)
		resp, err := g.send(ctx, ep, path, body, token, o.leader)
		if err == nil {
			err = decode(resp, out)
			if err == nil {
				g.settle(ep)
				return nil
			}
		}
		if ctx.Err() != nil {
			g.moveOn(ep) // a hung member: the next call tries another
			return ctx.Err()
		}
		var re *rpcError
		if errors.As(err, &re) && !(re.code == codeUnavailable && o.repeat) {
			return err
		}
		g.moveOn(ep)
		last = err
		if !o.repeat && !dialFailed(err) && !errors.As(err, &re) {
			return fmt.Errorf("%w: %s: %v", errCutOff, g.eps[ep], err)
		}
	}
	if _, ok := last.(*rpcError); ok {
		return last
	}
	return fmt.Errorf("%w (%s): %v", errUnreachable, g.names, last)
}

func (g *gateway) send(ctx context.Context, ep int, path string, body []byte, token string, leader bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.eps[ep]+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if leader {
		req.Header.Set("Grpc-Metadata-hasleader", "true")
	}
	return g.hc.Do(req)
}

// decode reads a unary answer: out on 200, else the gateway's error
// ({"code", "message"}, plus "error" on 3.4).
func decode(resp *http.Response, out any) error {
	defer func() {
		// Drained, the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	return nil
}

func readError(resp *http.Response) error {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &e); err != nil || e.Message == "" {
		// Not etcd's answer: its text is not quoted, since whatever answers
		// there may echo the request (a password, when authenticating).
		return &rpcError{code: codeUnavailable, msg: fmt.Sprintf("HTTP %s, not an answer of etcd's JSON gateway (%d bytes of %q): is this an etcd client URL?",
			resp.Status, len(b), resp.Header.Get("Content-Type"))}
	}
	return &rpcError{code: e.Code, msg: e.Message}
}

// dialFailed reports whether err happened before the request was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (g *gateway) first() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}

func (g *gateway) settle(ep int) {
	g.mu.Lock()
	g.cur = ep
	g.mu.Unlock()
}

// moveOn makes the member after ep the first to try, unless another call
// has moved on already.
func (g *gateway) moveOn(ep int) {
	g.mu.Lock()
	if g.cur == ep {
		g.cur = (ep + 1) % len(g.eps)
	}
	g.mu.Unlock()
}

// auth returns the token to send (authenticating first if there is a user
// and no token yet) and the sequence number it belongs to.
func (g *gateway) auth(ctx context.Context) (int, string, error) {
	if g.user == "" {
		return 0, "", nil
	}
	g.amu.Lock()
	defer g.amu.Unlock()
	if g.token != "" {
		return g.authSeq, g.token, nil
	}
	var resp authResp
	err := g.post(ctx, "/v3/auth/authenticate", mustJSON(authReq{Name: g.user, Password: g.pass}), "", &resp, callOpts{repeat: true})
	var re *rpcError
	if errors.As(err, &re) && strings.Contains(re.msg, "authentication is not enabled") {
		return g.authSeq, "", nil // as etcd's client: go on without a token
	}
	if err != nil {
		return 0, "", err
	}
	g.authSeq++
	g.token = resp.Token
	return g.authSeq, g.token, nil
}

// expire drops the token of sequence seq, so that the next call
// authenticates again.
func (g *gateway) expire(seq int) {
	g.amu.Lock()
	if g.authSeq == seq {
		g.token = ""
	}
	g.amu.Unlock()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed message types reach here
	}
	return b
}

// stream posts in to a streaming path (/v3/watch, /v3/lease/keepalive)
// and calls fn with each message's result until fn returns an error, the
// stream ends (io.EOF) or ctx is done. The request body holds one message
// and is then closed: etcd keeps a watch open after its client's side of
// the stream closes, and answers a keep-alive once. A member that cannot
// be reached hands the stream to the next one before anything is read.
func (g *gateway) stream(ctx context.Context, path string, in any, o callOpts, fn func(json.RawMessage) error) error {
	body := mustJSON(in)
	for retried := false; ; retried = true {
		seq, token, err := g.auth(ctx)
		if err != nil {
			return err
		}
		resp, err := g.open(ctx, path, body, token, o)
		if err != nil {
			var re *rpcError
			if !retried && g.user != "" && errors.As(err, &re) && strings.Contains(re.msg, "invalid auth token") {
				g.expire(seq)
				continue
			}
			return err
		}
		err = readStream(resp.Body, fn)
		resp.Body.Close()
		var re *rpcError
		if !retried && g.user != "" && errors.As(err, &re) && strings.Contains(re.msg, "invalid auth token") {
			g.expire(seq)
			continue
		}
		return err
	}
}

// open starts a stream on the first member that answers.
func (g *gateway) open(ctx context.Context, path string, body []byte, token string, o callOpts) (*http.Response, error) {
	start := g.first()
	var last error
	for i := range g.eps {
		ep := (start + i) % len(g.eps)
		resp, err := g.send(ctx, ep, path, body, token, o.leader)
		if err == nil && resp.StatusCode == http.StatusOK {
			g.settle(ep)
			if o.opened != nil {
				o.opened(ep)
			}
			return resp, nil
		}
		if err == nil {
			err = readError(resp)
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var re *rpcError
		if errors.As(err, &re) && re.code != codeUnavailable {
			return nil, err
		}
		g.moveOn(ep)
		last = err
	}
	if _, ok := last.(*rpcError); ok {
		return nil, last
	}
	return nil, fmt.Errorf("%w (%s): %v", errUnreachable, g.names, last)
}

// readStream decodes a gateway stream: one JSON object per message,
// {"result": ...} or {"error": {"code" (3.5+) or "grpc_code" (3.4),
// "message"}}.
func readStream(r io.Reader, fn func(json.RawMessage) error) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code     int    `json:"code"`
				GrpcCode int    `json:"grpc_code"`
				Message  string `json:"message"`
			} `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return fmt.Errorf("%w: %v", errCutOff, err)
		}
		if m.Error != nil {
			return &rpcError{code: max(m.Error.Code, m.Error.GrpcCode), msg: m.Error.Message}
		}
		if err := fn(m.Result); err != nil {
			return err
		}
	}
}

// alive reports whether member ep answers at all within d (any HTTP
// answer, even a refusal, counts): how a watch tells a quiet stream from a
// member that hangs with its connection open.
func (g *gateway) alive(ctx context.Context, ep int, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	resp, err := g.send(ctx, ep, "/v3/maintenance/status", []byte("{}"), "", false)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return true
}
