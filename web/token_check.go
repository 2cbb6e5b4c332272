package web

import (
	"context"
	"net/http"
	"time"

	"github.com/scriptrun/scriptrun/tokens"
)

// checkTimeout bounds the console's credential test: signing (with a
// refresh), the request and its one retry.
const checkTimeout = 60 * time.Second

// tokenTest is the token page's Test button: one request signed with the
// token to its base URL (or the form's url, inside its binding), through
// tokens.Manager.Check as `scriptrun token test` does; the outcome comes
// back as a message on the token's page, never with the credential.
func (s *Server) tokenTest(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	res, err := s.tokens.Check(ctx, name, tokens.CheckRequest{URL: r.PostForm.Get("url")})
	if tokens.CodeOf(err) == tokens.CodeNotFound {
		return &pageError{Status: http.StatusNotFound, Title: "Token not found", Msg: "There is no token named " + name + ". It may have been deleted."}
	}
	if err != nil {
		s.sessions.addFlash(sess, "error", "Test not sent: "+s.hint(err.Error())+".")
		return seeOther(w, r, "/tokens/"+name)
	}
	s.log.Info("token tested from the console", "token", name, "outcome", res.Outcome, "status", res.Status, "refreshed", res.Refreshed,
		"ms", float64(res.Latency.Microseconds())/1000, "session", sess.logID(), "remote", clientAddr(r))
	kind := map[string]string{tokens.CheckOK: "ok", tokens.CheckAnswered: "warn"}[res.Outcome]
	if kind == "" {
		kind = "error"
	}
	s.sessions.addFlash(sess, kind, "Test "+res.Outcome+": "+s.hint(res.Summary())+".")
	return seeOther(w, r, "/tokens/"+name)
}
