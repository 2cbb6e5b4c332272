package notify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// benchHome is a home with 50 static tokens, 20 jobs of 10 runs each, one
// notifier and 1000 finished deliveries, all already seen by a check.
func benchHome(b *testing.B) (*store.DB, *Service) {
	db := storetest.Open(b)
	now := time.Now().UTC()
	err := db.Update(func(tx *store.Tx) error {
		if err := tx.CreateNotifier(store.Notifier{Name: "ops", URL: "https://hooks.example.com/x", Secret: store.NewWebhookSecret()}); err != nil {
			return err
		}
		for i := range 50 {
			if err := tx.CreateToken(store.Token{Name: fmt.Sprintf("t%d", i), Type: store.TypeBearer, Active: true, Secret: store.Secret{AccessToken: "static-credential-0123456789"}}); err != nil {
				return err
			}
		}
		for i := range 20 {
			j := store.Job{Name: fmt.Sprintf("j%d", i), Schedule: "0 3 * * *", ScriptName: "j.js", Script: "console.log(1)", Timeout: time.Minute, Enabled: true}
			if err := tx.PutJob(j); err != nil {
				return err
			}
			for range 10 {
				if _, err := tx.AddRun(store.Run{Job: j.Name, Trigger: store.TriggerManual, Status: store.RunSucceeded, Finished: now}, nil); err != nil {
					return err
				}
			}
		}
		for i := range 1000 {
			d := store.Delivery{ID: fmt.Sprintf("msg_%d.ops", i), EventID: fmt.Sprintf("msg_%d", i), Event: store.EventCronFailed, Notifier: "ops",
				Body: []byte(`{"type":"cron.failed","timestamp":"2026-12-07T00:00:00Z","data":{"job":"j1","runId":1}}`), Created: now, Attempts: 1, Delivered: now}
			if err := tx.PutDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{DB: db})
	if _, err := s.Check(); err != nil {
		b.Fatal(err)
	}
	return db, s
}

// The minute's check when nothing changed: one read of every token, job
// and their last runs.
func BenchmarkCheckQuiet(b *testing.B) {
	_, s := benchHome(b)
	for b.Loop() {
		if n, err := s.Check(); n != 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// The 5-second poll for deliveries due, with a log of 1000 finished ones.
func BenchmarkDeliverDueIdle(b *testing.B) {
	_, s := benchHome(b)
	for b.Loop() {
		if n, err := s.DeliverDue(context.Background()); n != 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// The banner's read, on every console page.
func BenchmarkProblems(b *testing.B) {
	db, _ := benchHome(b)
	for b.Loop() {
		if err := db.View(func(tx *store.Tx) error { _, err := Problems(tx); return err }); err != nil {
			b.Fatal(err)
		}
	}
}
