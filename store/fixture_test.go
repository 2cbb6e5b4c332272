package store

import (
	"flag"
	"path/filepath"
	"testing"
	"time"
)

// testdata/v1-home.db is a database written by scriptrun at schema 1 (commit
// b0ecf99, the last one before record authentication) with key testKey(7).
// TestWriteV1Fixture wrote it there, with only this file copied in:
//
//	git archive b0ecf99 | tar -x -C /tmp/v1
//	cp store/fixture_test.go /tmp/v1/store/
//	cd /tmp/v1 && go test ./store -run TestWriteV1Fixture -v1-fixture /abs/path/store/testdata/v1-home.db
//
// Run on a later schema it refuses: it would write that schema instead.
var v1FixtureOut = flag.String("v1-fixture", "", "write the schema 1 fixture database to this path (run at commit b0ecf99)")

// Names and secrets in the fixture, checked by the migration test.
const (
	fixtureProvider     = "graph"
	fixtureOAuthToken   = "graph-mail"
	fixtureStaticToken  = "static-api"
	fixtureJob          = "nightly"
	fixtureJobScript    = "console.log('nightly sync')\n"
	fixtureBearer       = "static-bearer-SECRET-0123456789"
	fixtureAdminPwd     = "correct horse battery"
	fixtureClientSecret = "provider-secret-VALUE-1234" // testProvider's
)

func TestWriteV1Fixture(t *testing.T) {
	if *v1FixtureOut == "" {
		t.Skip("writes the schema 1 fixture only when asked: -v1-fixture PATH")
	}
	if SchemaVersion != 1 {
		t.Fatalf("this scriptrun writes schema %d: run this at commit b0ecf99 (see the comment above)", SchemaVersion)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	db, err := Open(filepath.Clean(*v1FixtureOut), testKey(7), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashAdminPassword(fixtureAdminPwd)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider(fixtureProvider)); err != nil {
			return err
		}
		if err := tx.CreateToken(testToken(fixtureOAuthToken, fixtureProvider)); err != nil {
			return err
		}
		if err := tx.CreateToken(Token{
			Name: fixtureStaticToken, Type: TypeBearer, Active: true, BaseURL: "https://api.example.com",
			Expires: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
			Secret:  Secret{AccessToken: fixtureBearer},
		}); err != nil {
			return err
		}
		if err := tx.CreateJob(Job{
			Name: fixtureJob, Schedule: "@daily", Script: fixtureJobScript, ScriptName: "nightly.js",
			Timeout: time.Minute, Enabled: true,
		}); err != nil {
			return err
		}
		return tx.SetAdminPassword(hash)
	})
	if err != nil {
		t.Fatal(err)
	}
}
