package notify

import (
	"fmt"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

func TestRunOutcome(t *testing.T) {
	for _, tc := range []struct {
		status store.RunStatus
		want   outcome
	}{
		{store.RunQueued, outPending},
		{store.RunRunning, outPending},
		{store.RunSucceeded, outSuccess},
		{store.RunFailed, outFailure},
		{store.RunTimedOut, outFailure},
		{"lost", outLost},
		{store.RunSkipped, outNeutral},
		{store.RunCancelled, outNeutral},
		{"some_future_status", outNeutral},
	} {
		if got := runOutcome(tc.status); got != tc.want {
			t.Errorf("runOutcome(%q) = %d, want %d", tc.status, got, tc.want)
		}
	}
}

func TestTokenStep(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	lim := tokenLimits{failingAfter: 15 * time.Minute, expiringWithin: 7 * 24 * time.Hour}
	ok := store.Token{Name: "api", Type: store.TypeOAuth2, State: store.StateAuthorized, LastRefreshed: now.Add(-time.Minute)}
	failing := func(since time.Duration) store.Token {
		t := ok
		t.RefreshFailures, t.RefreshFailed = 1, now.Add(-since)
		return t
	}
	reauth := ok
	reauth.State, reauth.RefreshFailed = store.StateReauthRequired, now.Add(-time.Minute)
	idle := ok
	idle.State = store.StateUnauthorized
	bearer := store.Token{Name: "b", Type: store.TypeBearer, State: store.StateAuthorized, Expires: now.Add(3 * 24 * time.Hour)}
	farBearer := bearer
	farBearer.Expires = now.Add(30 * 24 * time.Hour)
	st := func(cond string, notified bool) store.WatchState {
		return store.WatchState{Subject: "token:api", Condition: cond, Notified: notified, Since: now.Add(-time.Hour)}
	}
	for _, tc := range []struct {
		name     string
		tok      store.Token
		prev     store.WatchState
		want     string // events
		wantCond string
	}{
		{"first sight, fine", ok, store.WatchState{}, "[]", condOK},
		{"fine stays quiet", ok, st(condOK, false), "[]", condOK},
		{"reauth announced once", reauth, st(condOK, false), "[token.reauth_required]", condReauth},
		{"reauth already announced", reauth, st(condReauth, true), "[]", condReauth},
		{"first sight in reauth", reauth, store.WatchState{}, "[token.reauth_required]", condReauth},
		{"failing, not long enough", failing(5 * time.Minute), st(condOK, false), "[]", condFailing},
		{"failing long enough at first sight", failing(20 * time.Minute), st(condOK, false), "[token.refresh_failing]", condFailing},
		{"failing since an hour, announced now", failing(time.Minute), st(condFailing, false), "[token.refresh_failing]", condFailing},
		{"failing already announced", failing(time.Minute), st(condFailing, true), "[]", condFailing},
		{"recovered after reauth", ok, st(condReauth, true), "[token.recovered]", condOK},
		{"recovered after announced failing", ok, st(condFailing, true), "[token.recovered]", condOK},
		{"silent recovery of unannounced failing", ok, st(condFailing, false), "[]", condOK},
		{"revoked after reauth keeps it announced", idle, st(condReauth, true), "[]", condReauth},
		{"revoked while fine", idle, st(condOK, false), "[]", condIdle},
		{"static expiring within 7 days", bearer, store.WatchState{}, "[token.expiring]", condOK},
		{"static expiring far off", farBearer, store.WatchState{}, "[]", condOK},
		{"static expiring already announced", bearer, store.WatchState{Condition: condOK, Expiring: bearer.Expires}, "[]", condOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, evs := tokenStep(tc.tok, tc.prev, now, lim)
			var got []string
			for _, e := range evs {
				got = append(got, e.Type)
				if e.ID == "" || e.Data["token"] != tc.tok.Name {
					t.Errorf("event %+v lacks an id or the token's name", e)
				}
			}
			if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && len(got) == 0) {
				t.Errorf("events %v, want %s", got, tc.want)
			}
			if next.Condition != tc.wantCond {
				t.Errorf("condition %q, want %q", next.Condition, tc.wantCond)
			}
			// Seen again, nothing more is announced.
			if _, again := tokenStep(tc.tok, next, now, lim); len(again) != 0 {
				t.Errorf("a second look announced %v again", again)
			}
		})
	}
}

// Two processes that see the same change name its event the same.
func TestTokenEventIDsAreDeterministic(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tok := store.Token{Name: "api", Type: store.TypeOAuth2, State: store.StateReauthRequired, RefreshFailed: now.Add(-time.Minute)}
	_, a := tokenStep(tok, store.WatchState{}, now, tokenLimits{failingAfter: time.Minute})
	_, b := tokenStep(tok, store.WatchState{}, now.Add(30*time.Second), tokenLimits{failingAfter: time.Minute})
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID {
		t.Errorf("ids %v and %v, want one and the same", a, b)
	}
}

func TestJobStep(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	run := func(id uint64, s store.RunStatus) store.Run {
		return store.Run{ID: id, Job: "nightly", Status: s, Trigger: store.TriggerSchedule, Finished: now.Add(-time.Minute)}
	}
	old := run(1, store.RunFailed)
	old.Finished = now.Add(-time.Hour)
	known := store.WatchState{Subject: "job:nightly", Condition: condOK}
	failingState := store.WatchState{Subject: "job:nightly", Condition: condFailing, LastRun: 1}
	for _, tc := range []struct {
		name     string
		runs     []store.Run
		prev     store.WatchState
		known    bool
		want     string
		wantCond string
		wantLast uint64
	}{
		{"success stays quiet", []store.Run{run(1, store.RunSucceeded)}, known, true, "[]", condOK, 1},
		{"first failure", []store.Run{run(1, store.RunSucceeded), run(2, store.RunFailed)}, known, true, "[cron.failed]", condFailing, 2},
		{"failures after the first are quiet", []store.Run{run(2, store.RunFailed), run(3, store.RunTimedOut)}, failingState, true, "[]", condFailing, 3},
		{"recovery", []store.Run{run(2, store.RunSucceeded), run(3, store.RunSucceeded)}, failingState, true, "[cron.recovered]", condOK, 3},
		{"lost, each one", []store.Run{run(1, "lost"), run(2, "lost"), run(3, store.RunSucceeded)}, known, true, "[cron.lost cron.lost cron.recovered]", condOK, 3},
		{"skipped and cancelled say nothing", []store.Run{run(2, store.RunSkipped), run(3, store.RunCancelled)}, failingState, true, "[]", condFailing, 3},
		{"stops at a run still going", []store.Run{run(1, store.RunRunning), run(2, store.RunFailed)}, known, true, "[]", condOK, 0},
		{"old history at first sight is not announced", []store.Run{old}, store.WatchState{}, false, "[]", condOK, 1},
		{"a recent failure at first sight is", []store.Run{old, run(2, store.RunFailed)}, store.WatchState{}, false, "[cron.failed]", condFailing, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, evs := jobStep("nightly", tc.runs, tc.prev, tc.known, now)
			var got []string
			for _, e := range evs {
				got = append(got, e.Type)
				if e.Data["job"] != "nightly" || e.Data["runId"] == nil {
					t.Errorf("event data %v lacks the job or run", e.Data)
				}
				if _, leak := e.Data["error"]; leak {
					t.Error("event data carries the run's error")
				}
			}
			if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && len(got) == 0) {
				t.Errorf("events %v, want %s", got, tc.want)
			}
			if next.Condition != tc.wantCond || next.LastRun != tc.wantLast {
				t.Errorf("state %+v, want condition %q, last run %d", next, tc.wantCond, tc.wantLast)
			}
		})
	}
}
