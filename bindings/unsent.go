package bindings

import (
	"slices"
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
	for _, b := range a.unsent {
		b.r.listed = false
		u := UnsentRequest{Token: b.r.token, Method: b.r.method, URL: b.r.targetURL(), Send: b.site.send}
		u.Position = b.site.position()
		out = append(out, u)
	}
	clear(a.unsent)
	a.unsent = a.unsent[:0]
	return out
}

// unsentBuilder is a builder that got a token and was not sent yet.
type unsentBuilder struct {
	r    *request
	site unsentSite
}

// unsentSite is where a builder got its token: the stack as captured when
// the script called apiTokenAuth, resolved to a position only if Unsent
// reports it (working out a frame's line and column cost more than
// capturing it, and almost every builder is sent).
type unsentSite struct {
	frames [2]goja.StackFrame // the first n frames captured, when there were no more
	n      int
	more   []goja.StackFrame // all the frames captured, when there were more than two
	send   string            // how it is sent (UnsentRequest.Send)
}

// position is the file:line:column of the first frame of the script's
// code in the stack captured, or "" if there is none.
func (s *unsentSite) position() string {
	frames := s.frames[:s.n]
	if s.more != nil {
		frames = s.more
	}
	for _, f := range frames {
		if p := f.Position(); p.Line > 0 {
			return f.SrcName() + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
		}
	}
	return ""
}

// built records that r got a token, with where and how it is sent: only
// the first time, and only for scripts that name a token, so other
// requests pay nothing.
func (a *api) built(r *request, send string) {
	if r.listed || len(a.unsent) >= maxUnsent {
		return
	}
	r.listed = true
	a.unsent = append(a.unsent, unsentBuilder{r: r, site: unsentSite{send: send}})
	site := &a.unsent[len(a.unsent)-1].site
	// The first frame is apiTokenAuth itself (native); the next is the
	// script. They are captured into site.frames, unless there are more.
	if frames := a.vm.CaptureCallStack(2, site.frames[:0]); len(frames) > len(site.frames) {
		site.more = frames
	} else {
		site.n = len(frames)
	}
}

// sent forgets r: it was sent (or, for a Request, fetched or copied), or it
// no longer has a token. A builder is usually sent right after it was
// built, so it is looked for from the end.
func (a *api) sent(r *request) {
	if !r.listed {
		return
	}
	r.listed = false
	for i := len(a.unsent) - 1; i >= 0; i-- {
		if a.unsent[i].r == r {
			a.unsent = slices.Delete(a.unsent, i, i+1)
			return
		}
	}
}
