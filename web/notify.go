package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/notify"
	"github.com/scriptrun/scriptrun/store"
)

// Notifications sends a notifier's test event at once; *notify.Service
// implements it.
type Notifications interface {
	SendTest(ctx context.Context, name string) (notify.Result, error)
}

var _ Notifications = (*notify.Service)(nil)

func (s *Server) notifySection() section {
	return section{label: "Notifications", path: "/notifications", routes: func(mux *http.ServeMux) {
		mux.HandleFunc("GET /notifications", s.signedIn(s.notifyList))
		mux.HandleFunc("POST /notifications", s.signedIn(s.notifyCreate))
		mux.HandleFunc("POST /notifications/{name}/delete", s.signedIn(s.notifyDelete))
		mux.HandleFunc("POST /notifications/{name}/test", s.signedIn(s.notifyTest))
	}}
}

// notifyPage is the Notifications page: the notifiers, the add form (its
// values and problems when refused, the generated secret once when
// accepted) and the delivery log.
type notifyPage struct {
	Notifiers  []store.Notifier
	Damaged    []*store.RecordError
	Deliveries []store.Delivery
	Events     []string
	CanTest    bool

	Form      store.Notifier
	Problems  store.FieldErrors
	NewSecret string // shown once, right after the add
	Added     string
}

// Err is the problem with one field of the add form, "" when none.
func (p notifyPage) Err(field string) string {
	for _, fe := range p.Problems {
		if fe.Field == field {
			return fe.Message
		}
	}
	return ""
}

// Checked reports whether the add form ticks event e.
func (p notifyPage) Checked(e string) bool { return slices.Contains(p.Form.Events, e) }

// deliveryLogSize is how many deliveries the page shows.
const deliveryLogSize = 50

func (s *Server) notifyList(w http.ResponseWriter, r *http.Request, sess *session) error {
	return s.renderNotify(w, r, sess, http.StatusOK, notifyPage{})
}

func (s *Server) renderNotify(w http.ResponseWriter, r *http.Request, sess *session, status int, p notifyPage) error {
	err := s.db.View(func(tx *store.Tx) error {
		var err error
		p.Notifiers, err = tx.Notifiers()
		if p.Damaged, err = store.DamagedRecords(err); err != nil {
			return err
		}
		p.Deliveries, err = tx.Deliveries(deliveryLogSize, false)
		_, err = store.DamagedRecords(err)
		return err
	})
	if err != nil {
		return err
	}
	p.Events, p.CanTest = store.NotifyEvents, s.notify != nil
	s.render(w, r, sess, status, "notify", view{Title: "Notifications", Data: p})
	return nil
}

func (s *Server) notifyCreate(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := r.PostForm
	n := store.Notifier{
		Name: strings.TrimSpace(f.Get("name")), URL: strings.TrimSpace(f.Get("url")),
		AllowHTTP: f.Get("allow_http") != "", Events: f["events"],
		Secret: strings.TrimSpace(f.Get("secret")),
	}
	generated := n.Secret == ""
	if generated {
		n.Secret = store.NewWebhookSecret()
	}
	err := s.db.Update(func(tx *store.Tx) error { return tx.CreateNotifier(n) })
	if err != nil {
		page := notifyPage{Form: n, Problems: store.AsFieldErrors(err)}
		page.Form.Secret = "" // a typed secret is never sent back
		if errors.Is(err, store.ErrExists) {
			page.Problems = store.FieldErrors{{Field: "name", Label: "name", Message: fmt.Sprintf("a notifier %s exists: remove it first or choose another name", n.Name)}}
		} else if page.Problems == nil {
			return err
		}
		return s.renderNotify(w, r, sess, http.StatusUnprocessableEntity, page)
	}
	s.log.Info("notifier added", "notifier", n.Name, "session", sess.logID(), "remote", clientAddr(r))
	page := notifyPage{Added: n.Name}
	if generated {
		// Shown on this answer only, never stored in a flash.
		page.NewSecret = n.Secret
	}
	return s.renderNotify(w, r, sess, http.StatusOK, page)
}

func (s *Server) notifyDelete(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	err := s.db.Update(func(tx *store.Tx) error { return tx.DeleteNotifier(name) })
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{Status: http.StatusNotFound, Title: "No such notifier", Msg: "There is no notifier " + name + "."}
	}
	if err != nil {
		return err
	}
	s.log.Info("notifier removed", "notifier", name, "session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", "Notifier "+name+" removed.")
	return seeOther(w, r, "/notifications")
}

func (s *Server) notifyTest(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	if s.notify == nil {
		s.sessions.addFlash(sess, "error", "Test events are sent by scriptrun serve; this console has no delivery worker.")
		return seeOther(w, r, "/notifications")
	}
	ctx, cancel := context.WithTimeout(r.Context(), notify.DefaultTimeout+5*time.Second)
	defer cancel()
	res, err := s.notify.SendTest(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &pageError{Status: http.StatusNotFound, Title: "No such notifier", Msg: "There is no notifier " + name + "."}
	case err != nil && res.Status == 0 && res.Err == "":
		return err
	case res.Delivered():
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Test event delivered to %s: HTTP %d in %s.", name, res.Status, res.Latency.Round(time.Millisecond)))
	default:
		s.sessions.addFlash(sess, "error", fmt.Sprintf("Test event to %s not delivered: %s (after %s). Check the URL and that the receiver answers 2xx.", name, res.Err, res.Latency.Round(time.Millisecond)))
	}
	return seeOther(w, r, "/notifications")
}

// problems lists the failing tokens and jobs for the banner on every page:
// one read of the watch states (no secrets, no runs). A read that fails
// shows no banner rather than no page.
func (s *Server) problems() []notify.Problem {
	var out []notify.Problem
	err := s.db.View(func(tx *store.Tx) (err error) { out, err = notify.Problems(tx); return err })
	if err != nil {
		s.log.Warn("banner: read failing tokens and jobs", "err", err)
		return nil
	}
	return out
}
