package bindings

import (
	"sort"
	"strconv"

	"github.com/dop251/goja"
)

// maxUnsent bounds the builders remembered as built with apiTokenAuth and
// not sent, so that a long session building many does not grow forever.
const maxUnsent = 100

// Installed is what Enable put into a runtime, for its host to ask about at
// the end of a run. Its methods must be called on the goroutine that owns the
// runtime.
type Installed struct{ a *api }

// UnsentRequest is a request a script built with apiTokenAuth and never sent:
// almost always a forgotten .send().
type UnsentRequest struct {
	Token    string // the name given to apiTokenAuth
	Method   string
	URL      string
	Position string // file:line:column of the apiTokenAuth call; "" if unknown
	// Send says how such a request is sent: ".send() or .sendAsync()",
	// "execute() or executeAsync()" (sn_ws), or "fetch(request)".
	Send string
}

// How each kind of request is sent, for UnsentRequest.Send.
const (
	sendBuilder = ".send() or .sendAsync()"
	sendSNMsg   = "execute() or executeAsync()"
	sendRequest = "fetch(request)"
)

// Unsent returns the requests built with apiTokenAuth that were not sent
// (.send() or .sendAsync()), in the order they were built, and forgets them.
// Only the first maxUnsent such builders are remembered.
func (in *Installed) Unsent() []UnsentRequest {
	a := in.a
	out := make([]UnsentRequest, 0, len(a.unsent))
	builders := make([]*request, 0, len(a.unsent))
	for r := range a.unsent {
		builders = append(builders, r)
	}
	sort.Slice(builders, func(i, j int) bool { return a.unsent[builders[i]].seq < a.unsent[builders[j]].seq })
	for _, r := range builders {
		site := a.unsent[r]
		u := UnsentRequest{Token: r.token, Method: r.method, URL: r.targetURL(), Send: site.send}
		if site.known {
			p := site.frame.Position()
			u.Position = site.frame.SrcName() + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
		}
		out = append(out, u)
	}
	clear(a.unsent)
	return out
}

// unsentSite is where a builder got its token.
type unsentSite struct {
	seq   int
	frame goja.StackFrame // the script's call of apiTokenAuth, if known
	known bool
	send  string // how it is sent (UnsentRequest.Send)
}

// built records that r got a token, with where and how it is sent: only
// the first time, and only for scripts that name a token, so other
// requests pay nothing.
func (a *api) built(r *request, send string) {
	if _, ok := a.unsent[r]; ok || len(a.unsent) >= maxUnsent {
		return
	}
	if a.unsent == nil {
		a.unsent = make(map[*request]unsentSite)
	}
	a.unsentSeq++
	site := unsentSite{seq: a.unsentSeq, send: send}
	// The first frame is apiTokenAuth itself (native); the next is the script.
	a.frames = a.vm.CaptureCallStack(2, a.frames[:0])
	for _, f := range a.frames {
		if f.Position().Line > 0 {
			site.frame, site.known = f, true
			break
		}
	}
	a.unsent[r] = site
}

// sent forgets r: it was sent (or, for a Request, fetched or copied), or it
// no longer has a token.
func (a *api) sent(r *request) {
	if r.token != "" {
		delete(a.unsent, r)
	}
}
