package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// linkDB is a database with a clock the test moves, provider "p" and token
// "api" for it.
func linkDB(t *testing.T) (*DB, *time.Time) {
	t.Helper()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	db, err := Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey(7), Options{Now: func() time.Time { return now }})
	must(t, err)
	t.Cleanup(func() {
		if _, ok := damagedOK.LoadAndDelete(db); ok {
			return
		}
		if err := db.CheckRecords(); err != nil {
			t.Errorf("record check after test: %v", err)
		}
	})
	p := testProvider("p")
	p.Description = "Contoso mail"
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(p); err != nil {
			return err
		}
		return tx.CreateToken(testToken("api", "p"))
	}))
	return db, &now
}

func TestReconnectLinkLifecycle(t *testing.T) {
	db, now := linkDB(t)
	var secret string
	var made ReconnectLink
	must(t, db.Update(func(tx *Tx) (err error) {
		secret, made, err = tx.CreateReconnectLink("api", 24*time.Hour, "cli")
		return err
	}))
	if len(secret) != 43 || made.Token != "api" || !made.Expires.Equal(now.Add(24*time.Hour)) || made.ProviderRef != "p" || made.ProviderLabel != "Contoso mail" {
		t.Fatalf("made %+v with a secret of %d characters", made, len(secret))
	}

	// Only the hash is stored: the secret is nowhere in the file.
	raw, err := os.ReadFile(db.Path())
	must(t, err)
	if bytes.Contains(raw, []byte(secret)) {
		t.Fatal("the link's secret is stored in the database")
	}
	if !bytes.Contains(raw, []byte(made.Hash)) {
		t.Fatal("the link's hash is not in the database")
	}

	// Started: counted, still usable.
	for range 2 {
		must(t, db.Update(func(tx *Tx) error { _, err := tx.StartReconnect(secret); return err }))
	}
	// Claimed, then released after a failed completion: usable again.
	var claimed ReconnectLink
	must(t, db.Update(func(tx *Tx) (err error) { claimed, err = tx.ClaimReconnect(made.Hash, "192.0.2.7"); return err }))
	if err := db.Update(func(tx *Tx) error { _, err := tx.ClaimReconnect(made.Hash, "192.0.2.8"); return err }); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("a second claim while the first is in progress = %v, want ErrLinkUsed", err)
	}
	must(t, db.Update(func(tx *Tx) error { return tx.ReleaseReconnect(claimed) }))
	// Claimed for good.
	*now = now.Add(time.Minute)
	must(t, db.Update(func(tx *Tx) (err error) { claimed, err = tx.ClaimReconnect(made.Hash, "192.0.2.7"); return err }))
	var got ReconnectLink
	must(t, db.View(func(tx *Tx) (err error) { got, err = tx.ReconnectLink(secret); return err }))
	if got.Started != 2 || !got.Used.Equal(*now) || got.UsedFrom != "192.0.2.7" || got.State(*now) != "used" {
		t.Fatalf("after use: %+v", got)
	}
	for _, op := range []func(tx *Tx) error{
		func(tx *Tx) error { _, err := tx.StartReconnect(secret); return err },
		func(tx *Tx) error { _, err := tx.ClaimReconnect(made.Hash, "x"); return err },
	} {
		if err := db.Update(op); !errors.Is(err, ErrLinkUsed) {
			t.Errorf("a used link: %v, want ErrLinkUsed", err)
		}
	}
	// A release of an older claim does not revive a link used since.
	must(t, db.Update(func(tx *Tx) error {
		return tx.ReleaseReconnect(ReconnectLink{Hash: claimed.Hash, Used: claimed.Used.Add(-time.Second)})
	}))
	must(t, db.View(func(tx *Tx) (err error) { got, err = tx.ReconnectLink(secret); return err }))
	if got.State(*now) != "used" {
		t.Errorf("a stale release revived the link: %s", got.State(*now))
	}
}

func TestReconnectLinkRefusals(t *testing.T) {
	db, now := linkDB(t)
	newLink := func(ttl time.Duration) string {
		t.Helper()
		var s string
		must(t, db.Update(func(tx *Tx) (err error) { s, _, err = tx.CreateReconnectLink("api", ttl, "cli"); return err }))
		return s
	}
	expiring, revoked := newLink(time.Hour), newLink(time.Hour)
	var rl []ReconnectLink
	must(t, db.Update(func(tx *Tx) (err error) {
		l, _ := tx.ReconnectLink(revoked)
		rl, err = tx.RevokeReconnectLinks("api", l.ID(), "admin")
		return err
	}))
	if len(rl) != 1 || rl[0].RevokedBy != "admin" {
		t.Fatalf("revoked %+v", rl)
	}
	*now = now.Add(time.Hour)
	otherShape := strings.Repeat("A", 42)
	missing := strings.Repeat("B", 43)
	for _, tc := range []struct {
		name, secret string
		want         error
	}{
		{"expired", expiring, ErrLinkExpired},
		{"revoked", revoked, ErrLinkRevoked},
		{"unknown", missing, ErrNotFound},
		{"not a secret's shape", otherShape, ErrNotFound},
		{"empty", "", ErrNotFound},
	} {
		err := db.Update(func(tx *Tx) error { _, err := tx.StartReconnect(tc.secret); return err })
		if !errors.Is(err, tc.want) {
			t.Errorf("%s link: %v, want %v", tc.name, err, tc.want)
		}
	}

	for _, tc := range []struct {
		name  string
		token string
		ttl   time.Duration
		want  string
	}{
		{"too long", "api", 8 * 24 * time.Hour, "from 5m0s to 168h"},
		{"too short", "api", time.Minute, "from 5m0s to 168h"},
		{"no token", "nope", time.Hour, "not found"},
	} {
		err := db.Update(func(tx *Tx) error { _, _, err := tx.CreateReconnectLink(tc.token, tc.ttl, "cli"); return err })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A static token and a client-credentials token have no sign-in.
	must(t, db.Update(func(tx *Tx) error {
		cc := testProvider("cc")
		cc.GrantType, cc.AuthURL = GrantClientCredentials, ""
		if err := tx.CreateProvider(cc); err != nil {
			return err
		}
		if err := tx.CreateToken(Token{Name: "machine", Type: TypeOAuth2, Provider: "cc", Active: true, State: StateUnauthorized}); err != nil {
			return err
		}
		return tx.CreateToken(Token{Name: "key", Type: TypeBearer, Active: true, Secret: Secret{AccessToken: "static-SECRET"}})
	}))
	for token, want := range map[string]string{"machine": "client_credentials grant", "key": "of type bearer"} {
		err := db.Update(func(tx *Tx) error { _, _, err := tx.CreateReconnectLink(token, time.Hour, "cli"); return err })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("link for %s: %v, want %q", token, err, want)
		}
	}
	// At most MaxReconnectLinks usable links per token.
	for range MaxReconnectLinks {
		newLink(time.Hour)
	}
	err := db.Update(func(tx *Tx) error { _, _, err := tx.CreateReconnectLink("api", time.Hour, "cli"); return err })
	if err == nil || !strings.Contains(err.Error(), "revoke some first") {
		t.Errorf("link %d: %v, want a refusal", MaxReconnectLinks+1, err)
	}
	// Revoke all.
	must(t, db.Update(func(tx *Tx) (err error) { rl, err = tx.RevokeReconnectLinks("api", "all", "cli"); return err }))
	if len(rl) != MaxReconnectLinks {
		t.Errorf("revoke all revoked %d, want %d", len(rl), MaxReconnectLinks)
	}
	if err := db.Update(func(tx *Tx) error { _, err := tx.RevokeReconnectLinks("api", "all", "cli"); return err }); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke all again: %v, want ErrNotFound", err)
	}
	if err := db.Update(func(tx *Tx) error { _, err := tx.RevokeReconnectLinks("api", "ab", "cli"); return err }); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("revoke with a 2-character ID: %v", err)
	}
}

// A link stops working when its token can no longer be signed in, and
// after MaxReconnectStarts sign-ins.
func TestReconnectLinkLimits(t *testing.T) {
	db, _ := linkDB(t)
	var busy, changed string
	must(t, db.Update(func(tx *Tx) (err error) {
		if busy, _, err = tx.CreateReconnectLink("api", time.Hour, "cli"); err != nil {
			return err
		}
		changed, _, err = tx.CreateReconnectLink("api", time.Hour, "cli")
		return err
	}))
	for i := range MaxReconnectStarts {
		if err := db.Update(func(tx *Tx) error { _, err := tx.StartReconnect(busy); return err }); err != nil {
			t.Fatalf("sign-in %d: %v", i+1, err)
		}
	}
	if err := db.Update(func(tx *Tx) error { _, err := tx.StartReconnect(busy); return err }); !errors.Is(err, ErrLinkOverused) {
		t.Errorf("sign-in %d: %v, want ErrLinkOverused", MaxReconnectStarts+1, err)
	}
	must(t, db.Update(func(tx *Tx) error {
		p, _ := tx.Provider("p")
		p.GrantType, p.AuthURL = GrantClientCredentials, ""
		return tx.PutProvider(p)
	}))
	err := db.View(func(tx *Tx) error { _, _, err := tx.UsableReconnectLink(changed); return err })
	if !errors.Is(err, ErrLinkTokenChanged) || !strings.Contains(err.Error(), "client_credentials") {
		t.Errorf("the link of a token whose provider has no sign-in now: %v, want ErrLinkTokenChanged", err)
	}
}

func TestReconnectLinkGoesWithItsToken(t *testing.T) {
	db, now := linkDB(t)
	var secret string
	must(t, db.Update(func(tx *Tx) (err error) { secret, _, err = tx.CreateReconnectLink("api", time.Hour, "cli"); return err }))
	// The token removed and made again: the old link opens nothing.
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteToken("api") }))
	must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(testToken("api", "p")) }))
	if err := db.Update(func(tx *Tx) error { _, err := tx.StartReconnect(secret); return err }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the link of a deleted token: %v, want ErrNotFound", err)
	}
	var all []ReconnectLink
	must(t, db.View(func(tx *Tx) (err error) { all, err = tx.ReconnectLinks(""); return err }))
	if len(all) != 0 {
		t.Fatalf("links left after their token was deleted: %d", len(all))
	}

	// Links that ended a month ago are pruned when a new one is made.
	must(t, db.Update(func(tx *Tx) (err error) { _, _, err = tx.CreateReconnectLink("api", time.Hour, "cli"); return err }))
	*now = now.Add(reconnectKeep + 2*time.Hour)
	must(t, db.Update(func(tx *Tx) (err error) { _, _, err = tx.CreateReconnectLink("api", time.Hour, "cli"); return err }))
	must(t, db.View(func(tx *Tx) (err error) { all, err = tx.ReconnectLinks("api"); return err }))
	if len(all) != 1 || all[0].State(*now) != "usable" {
		t.Fatalf("after pruning: %+v", all)
	}
}

// A link record altered without the key (pointed at another token) is
// refused, and its token is not authorized through it.
func TestReconnectLinkForgedRefused(t *testing.T) {
	db, _ := linkDB(t)
	allowDamaged(db)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(testToken("admin-mail", "p")) }))
	var secret string
	var l ReconnectLink
	must(t, db.Update(func(tx *Tx) (err error) { secret, l, err = tx.CreateReconnectLink("api", time.Hour, "cli"); return err }))
	must(t, db.Update(func(tx *Tx) error {
		b := tx.bolt().Bucket([]byte(spaceLinks))
		v := bytes.Replace(bytes.Clone(b.Get([]byte(l.Hash))), []byte(`"token":"api"`), []byte(`"token":"admin-mail"`), 1)
		return b.Put([]byte(l.Hash), v)
	}))
	err := db.Update(func(tx *Tx) error { _, err := tx.StartReconnect(secret); return err })
	var re *RecordError
	if !errors.As(err, &re) || re.Kind != kindLink {
		t.Fatalf("a forged link: %v, want a *RecordError", err)
	}
	var list []ReconnectLink
	err = db.View(func(tx *Tx) (err error) { list, err = tx.ReconnectLinks("admin-mail"); return err })
	if damaged, _ := DamagedRecords(err); len(damaged) != 1 || len(list) != 0 {
		t.Fatalf("list with a forged link: %d links, damaged %v", len(list), err)
	}
	// The damaged link does not stop new links, or revoking them.
	must(t, db.Update(func(tx *Tx) (err error) { _, _, err = tx.CreateReconnectLink("api", time.Hour, "cli"); return err }))
	must(t, db.Update(func(tx *Tx) (err error) { _, err = tx.RevokeReconnectLinks("api", "all", "cli"); return err }))
}
