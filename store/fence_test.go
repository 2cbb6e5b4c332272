package store

import (
	"errors"
	"testing"
)

// readToken reads the named token in a transaction of its own.
func readToken(t *testing.T, db *DB, name string) Token {
	t.Helper()
	var tok Token
	must(t, db.View(func(tx *Tx) (err error) { tok, err = tx.Token(name); return err }))
	return tok
}

// TestContractReplaceToken: the fenced write of a refresh lands only on
// the record it was decided on, on both backends; revisions change with
// every write and are not reused by a token created again.
func TestContractReplaceToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{})
		must(t, err)
		must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
		must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(testToken("mail", "graph")) }))

		read := readToken(t, db, "mail")
		if read.Revision == 0 {
			t.Fatal("a stored token reads with Revision 0")
		}
		if again := readToken(t, db, "mail"); again.Revision != read.Revision {
			t.Errorf("two reads of an unchanged token: revisions %d and %d", read.Revision, again.Revision)
		}
		if toks := listTokens(t, db); len(toks) != 1 || toks[0].Revision != read.Revision {
			t.Errorf("Tokens gives revision %v, want %d as Token does", toks, read.Revision)
		}

		next := read
		next.Secret.RefreshToken = "rotated-1"
		must(t, db.Update(func(tx *Tx) error { return tx.ReplaceToken(next, read.Revision) }))
		after := readToken(t, db, "mail")
		if after.Secret.RefreshToken != "rotated-1" || after.Revision == read.Revision {
			t.Fatalf("after ReplaceToken: refresh token replaced %v, revision %d (read at %d); want replaced and a new revision",
				after.Secret.RefreshToken == "rotated-1", after.Revision, read.Revision)
		}

		// A second writer that decided on the same read is refused, and
		// writes nothing.
		stale := read
		stale.Secret.RefreshToken = "replayed"
		err = db.Update(func(tx *Tx) error { return tx.ReplaceToken(stale, read.Revision) })
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("ReplaceToken on a stale revision = %v, want ErrConflict", err)
		}
		if got := readToken(t, db, "mail"); got.Secret.RefreshToken != "rotated-1" || got.Revision != after.Revision {
			t.Errorf("a refused ReplaceToken changed the token")
		}

		// Any write moves the revision, not only a fenced one.
		must(t, db.Update(func(tx *Tx) error { return tx.PutToken(after) }))
		if got := readToken(t, db, "mail"); got.Revision == after.Revision {
			t.Error("PutToken kept the revision")
		}

		// Deleted and created again: no revision read before comes back.
		seen := map[int64]bool{read.Revision: true, after.Revision: true}
		must(t, db.Update(func(tx *Tx) error { return tx.DeleteToken("mail") }))
		if err := db.Update(func(tx *Tx) error { return tx.ReplaceToken(stale, after.Revision) }); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReplaceToken of a deleted token = %v, want ErrNotFound", err)
		}
		for range 2 {
			must(t, db.Update(func(tx *Tx) error { return tx.PutToken(testToken("mail", "graph")) }))
			if r := readToken(t, db, "mail").Revision; seen[r] {
				t.Errorf("revision %d reused", r)
			}
		}
	})
}

func listTokens(t *testing.T, db *DB) []Token {
	t.Helper()
	var toks []Token
	must(t, db.View(func(tx *Tx) (err error) { toks, err = tx.Tokens(); return err }))
	return toks
}
