package store

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func testNotifier(name string) Notifier {
	return Notifier{Name: name, URL: "https://hooks.example.com/in", Secret: WebhookSecretPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32))}
}

func TestNotifierRoundTripSealed(t *testing.T) {
	db := openTestDB(t)
	n := testNotifier("ops")
	n.Events = []string{EventCronFailed, EventTokenReauthRequired}
	if err := db.Update(func(tx *Tx) error { return tx.CreateNotifier(n) }); err != nil {
		t.Fatal(err)
	}
	var got Notifier
	if err := db.View(func(tx *Tx) (err error) { got, err = tx.Notifier("ops"); return err }); err != nil {
		t.Fatal(err)
	}
	if got.Secret != n.Secret || got.URL != n.URL || len(got.Events) != 2 || got.Created.IsZero() {
		t.Errorf("read back %+v, want the notifier as stored with its secret", got)
	}
	raw, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(strings.TrimPrefix(n.Secret, WebhookSecretPrefix))) {
		t.Error("the webhook secret is in the file in clear")
	}
	err = db.Update(func(tx *Tx) error { return tx.CreateNotifier(n) })
	if !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteNotifier("ops") }); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *Tx) error { _, err := tx.Notifier("ops"); return err })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("after rm: %v, want ErrNotFound", err)
	}
}

func TestNotifierValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*Notifier)
		fields []string
	}{
		{"fine", func(*Notifier) {}, nil},
		{"loopback http", func(n *Notifier) { n.URL = "http://127.0.0.1:9/x" }, nil},
		{"plain http", func(n *Notifier) { n.URL = "http://hooks.example.com/x" }, []string{"url"}},
		{"plain http allowed", func(n *Notifier) { n.URL = "http://hooks.example.com/x"; n.AllowHTTP = true }, nil},
		{"not a url", func(n *Notifier) { n.URL = "hooks.example.com" }, []string{"url"}},
		{"ftp", func(n *Notifier) { n.URL = "ftp://hooks.example.com/" }, []string{"url"}},
		{"userinfo", func(n *Notifier) { n.URL = "https://u:p@hooks.example.com/" }, []string{"url"}},
		{"unknown event", func(n *Notifier) { n.Events = []string{"token.exploded"} }, []string{"events"}},
		{"bad name and no secret", func(n *Notifier) { n.Name = "a b"; n.Secret = "" }, []string{"name", "secret"}},
		{"raw secret", func(n *Notifier) { n.Secret = "hunter2hunter2hunter2hunter2" }, []string{"secret"}},
		{"short key", func(n *Notifier) { n.Secret = WebhookSecretPrefix + "c2hvcnQ=" }, []string{"secret"}},
		{"bad env name", func(n *Notifier) { n.SecretEnv = "1X" }, []string{"secretEnv"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testNotifier("ops")
			tc.edit(&n)
			es := AsFieldErrors(n.Validate())
			var got []string
			for _, e := range es {
				got = append(got, e.Field)
				if strings.Contains(e.Message, "hunter2") {
					t.Errorf("message repeats the secret: %s", e.Message)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.fields) && !(len(got) == 0 && len(tc.fields) == 0) {
				t.Errorf("fields in error %v (%v), want %v", got, es, tc.fields)
			}
		})
	}
}

func TestNewWebhookSecret(t *testing.T) {
	s := NewWebhookSecret()
	key, err := WebhookKey(s)
	if err != nil || len(key) != 32 {
		t.Fatalf("WebhookKey(new secret) = %d bytes, %v", len(key), err)
	}
	if NewWebhookSecret() == s {
		t.Error("two secrets are the same")
	}
}

func TestDeliveryCreateOnlyAndTrim(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t)
	d := Delivery{ID: "msg_1.ops", EventID: "msg_1", Event: EventCronFailed, Notifier: "ops", Body: []byte(`{"type":"cron.failed"}`), Created: now}
	for i, want := range []bool{true, false} {
		var created bool
		if err := db.Update(func(tx *Tx) (err error) { created, err = tx.CreateDelivery(d); return err }); err != nil {
			t.Fatal(err)
		}
		if created != want {
			t.Errorf("create #%d: created=%v, want %v", i+1, created, want)
		}
	}
	// 5 finished deliveries, one old pending one, one old finished one.
	err := db.Update(func(tx *Tx) error {
		for i := range 5 {
			e := d
			e.ID, e.Created, e.Delivered = fmt.Sprintf("msg_%d.ops", i+10), now.Add(time.Duration(i)*time.Minute), now
			if err := tx.PutDelivery(e); err != nil {
				return err
			}
		}
		old := d
		old.ID, old.Created = "msg_old.ops", now.Add(-40*24*time.Hour)
		if err := tx.PutDelivery(old); err != nil {
			return err
		}
		old.ID, old.Failed = "msg_oldfailed.ops", now
		return tx.PutDelivery(old)
	})
	if err != nil {
		t.Fatal(err)
	}
	var removed int
	if err := db.Update(func(tx *Tx) (err error) { removed, err = tx.TrimDeliveries(3, now.Add(-30*24*time.Hour)); return err }); err != nil {
		t.Fatal(err)
	}
	var left []Delivery
	if err := db.View(func(tx *Tx) (err error) { left, err = tx.Deliveries(0, false); return err }); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range left {
		ids = append(ids, l.ID)
	}
	// Newest first: 14, 13, 12 kept (3 finished), msg_1 and msg_old pending.
	want := "[msg_14.ops msg_13.ops msg_12.ops msg_1.ops msg_old.ops]"
	if fmt.Sprint(ids) != want || removed != 3 {
		t.Errorf("after trim: %v (removed %d), want %s (removed 3)", ids, removed, want)
	}
	var pending []Delivery
	if err := db.View(func(tx *Tx) (err error) { pending, err = tx.Deliveries(0, true); return err }); err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 {
		t.Errorf("pending = %d, want 2", len(pending))
	}
}

func TestDeliveryRejectsBadRecord(t *testing.T) {
	db := openTestDB(t)
	err := db.Update(func(tx *Tx) error {
		_, err := tx.CreateDelivery(Delivery{ID: "a/b", Notifier: "ops", Body: []byte("{")})
		return err
	})
	fes := AsFieldErrors(err)
	if len(fes) != 3 {
		t.Errorf("bad delivery: %v, want 3 field errors (id, eventId, body)", err)
	}
}

func TestWatchStates(t *testing.T) {
	db := openTestDB(t)
	s := WatchState{Subject: "job:nightly", Condition: "failing", LastRun: 7}
	if err := db.Update(func(tx *Tx) error { return tx.PutWatchState(s) }); err != nil {
		t.Fatal(err)
	}
	var got map[string]WatchState
	if err := db.View(func(tx *Tx) (err error) { got, err = tx.WatchStates(); return err }); err != nil {
		t.Fatal(err)
	}
	if got["job:nightly"] != s || len(got) != 1 {
		t.Errorf("states = %+v, want %+v", got, s)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteWatchState("job:nightly") }); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *Tx) (err error) { got, err = tx.WatchStates(); return err }); err != nil || len(got) != 0 {
		t.Errorf("after delete: %v, %v", got, err)
	}
}

// WatchStatesOf reads the states WatchStates reads, of the subjects asked
// for only; a damaged state is left out as WatchStates leaves it out.
func TestWatchStatesOf(t *testing.T) {
	db := openTestDB(t)
	allowDamaged(db) // one state forged on purpose
	states := []WatchState{
		{Subject: "job:a", Condition: "ok", LastRun: 3},
		{Subject: "job:b", Condition: "failing", LastRun: 9},
		{Subject: "token:c", Condition: "reauth", Notified: true},
	}
	must(t, db.Update(func(tx *Tx) error {
		for _, s := range states {
			if err := tx.PutWatchState(s); err != nil {
				return err
			}
		}
		return nil
	}))
	tamper(t, db.Path(), []byte(spaceNotifyState), []byte("job:b"), func(rec map[string]any) { rec["lastRun"] = 1 })
	var got, all map[string]WatchState
	must(t, db.View(func(tx *Tx) (err error) {
		if all, err = tx.WatchStates(); err != nil {
			return err
		}
		got, err = tx.WatchStatesOf([]string{"token:c", "job:missing", "job:b", "job:a"})
		return err
	}))
	want := map[string]WatchState{"job:a": states[0], "token:c": states[2]}
	if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("WatchStatesOf = %+v and WatchStates = %+v, want both %+v", got, all, want)
	}
}

// A notifier whose URL was changed in the file without the key is refused,
// and CheckRecords (doctor, the end-of-test check) reports it.
func TestForgedNotifierFoundByCheckRecords(t *testing.T) {
	db := openTestDB(t)
	allowDamaged(db) // forged on purpose
	if err := db.Update(func(tx *Tx) error { return tx.CreateNotifier(testNotifier("ops")) }); err != nil {
		t.Fatal(err)
	}
	tamper(t, db.Path(), []byte(spaceNotifiers), []byte("ops"), func(rec map[string]any) { rec["url"] = "https://attacker.example/in" })
	damaged, other := DamagedRecords(db.CheckRecords())
	if other != nil || len(damaged) != 1 || damaged[0].Kind != kindNotifier {
		t.Fatalf("CheckRecords: damaged %v, other %v; want the forged notifier alone", damaged, other)
	}
}
