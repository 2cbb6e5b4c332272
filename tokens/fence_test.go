package tokens

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// alterDuringCall makes the manager's next token endpoint call run change
// on the stored token first, as another process writing while the call is
// in flight would (once).
func alterDuringCall(t *testing.T, e *env, change func(*store.Token)) {
	t.Helper()
	done := false
	e.m.hook = func(step string) {
		if step != "sending" || done {
			return
		}
		done = true
		if err := e.db.Update(func(tx *store.Tx) error {
			tok, err := tx.Token("api")
			if err != nil {
				return err
			}
			change(&tok)
			return tx.PutToken(tok)
		}); err != nil {
			t.Errorf("the other writer: %v", err)
		}
	}
}

// Another process stores a new credential while this one's refresh is in
// flight (its lock was lost): the fence refuses this one's write, the
// event and the log say "possible refresh-token replay" without a secret,
// and the manager reads the token again and signs with the other's
// credential.
func TestRefreshFenceConflict(t *testing.T) {
	forEachStore(t, testRefreshFenceConflict)
}

func testRefreshFenceConflict(t *testing.T, db *store.DB) {
	var rec recorder
	var logs syncBuffer
	e := newEnv(t, envOpts{onEvent: rec.add, db: db})
	e.m.log = slog.New(slog.NewTextHandler(&logs, nil))
	e.authorize(t, "api")
	first := e.token(t, "api")
	e.clock.Add(2 * time.Hour)
	alterDuringCall(t, e, func(tok *store.Token) {
		tok.Secret.AccessToken, tok.Secret.RefreshToken = "other-access", "other-refresh"
		tok.Expires = e.clock.Now().Add(time.Hour)
	})
	rec.take()

	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	if err := e.m.Sign(context.Background(), "api", req); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer other-access" {
		t.Errorf("signed with %q, want the other process's access token", got)
	}
	if tok := e.token(t, "api"); tok.Secret.RefreshToken != "other-refresh" {
		t.Errorf("stored refresh token replaced by the dropped answer")
	}
	kinds, evs := rec.take()
	if fmt.Sprint(kinds) != fmt.Sprint([]EventKind{EventReplaySuspected}) {
		t.Fatalf("events %v, want [%s]", kinds, EventReplaySuspected)
	}
	if n := e.srv.Stats().RefreshRequests; n != 1 {
		t.Errorf("token endpoint calls = %d, want 1 (the re-read token is valid)", n)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="possible refresh-token replay" token=api`) {
		t.Errorf("log lacks the replay warning:\n%s", logs.String())
	}
	secrets := []string{first.Secret.AccessToken, first.Secret.RefreshToken, "other-access", "other-refresh", e.srv.ClientSecret()}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) || strings.Contains(fmt.Sprintf("%+v", evs), s) {
			t.Errorf("a secret is in the log or the events")
		}
	}
}

// Changes that leave the credential as read (a last-use time, an admin's
// edit of other fields) move the revision too; the answer is written over
// them, keeping them, with no replay reported.
func TestRefreshFenceOtherFieldsChanged(t *testing.T) {
	forEachStore(t, testRefreshFenceOtherFieldsChanged)
}

func testRefreshFenceOtherFieldsChanged(t *testing.T, db *store.DB) {
	var rec recorder
	e := newEnv(t, envOpts{onEvent: rec.add, db: db})
	e.authorize(t, "api")
	e.clock.Add(2 * time.Hour)
	// Used a moment ago, so that the refresh's read does not record a use
	// in the background, racing with the other writer's.
	if err := e.db.Update(func(tx *store.Tx) error {
		tok, err := tx.Token("api")
		if err != nil {
			return err
		}
		tok.LastUsed = e.clock.Now().UTC()
		return tx.PutToken(tok)
	}); err != nil {
		t.Fatal(err)
	}
	used := e.clock.Now().UTC().Add(-10 * time.Second).Truncate(time.Second)
	alterDuringCall(t, e, func(tok *store.Token) { tok.LastUsed = used; tok.Prompt = "login" })
	rec.take()

	if _, err := e.m.Refresh(context.Background(), "api"); err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, "api")
	if !tok.LastUsed.Equal(used) || tok.Prompt != "login" || !tok.LastRefreshed.Equal(e.clock.Now().UTC()) {
		t.Errorf("after the refresh: lastUsed %v, prompt %q, lastRefreshed %v; want the other write's fields and the refresh",
			tok.LastUsed, tok.Prompt, tok.LastRefreshed)
	}
	if kinds, _ := rec.take(); fmt.Sprint(kinds) != fmt.Sprint([]EventKind{EventRefreshed}) {
		t.Errorf("events %v, want [%s]", kinds, EventRefreshed)
	}
	if st := e.srv.Stats(); st.RefreshRequests != 1 || st.RefreshTokenReuse != 0 {
		t.Errorf("refresh requests %d (want 1), reused %d (want 0)", st.RefreshRequests, st.RefreshTokenReuse)
	}
}

// forEachStore runs test on a new bbolt home and on a new store in an
// embedded etcd, as subtests named after them.
func forEachStore(t *testing.T, test func(t *testing.T, db *store.DB)) {
	t.Run("bolt", func(t *testing.T) { test(t, storetest.Open(t)) })
	t.Run("etcd", func(t *testing.T) {
		test(t, openEtcdStore(t, etcdtest.New(t).Target(t), etcdkv.Config{}, true))
	})
}
