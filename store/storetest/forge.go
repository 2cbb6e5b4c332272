package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tamper replaces the stored bytes of one record of the bbolt file at path
// with edit's result (edit's error fails the test), as someone with the file but not the key can: the
// record's MAC is not recomputed. edit gets a copy it may change. The test
// fails if the record is missing. Call it while no store.DB holds the file
// in a transaction (scriptrun opens it per transaction); pair it with
// AllowDamaged when the database is checked at the end.
func Tamper(t testing.TB, path, bucket string, key []byte, edit func(v []byte) ([]byte, error)) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return fmt.Errorf("no bucket %q in %s", bucket, path)
		}
		v := bk.Get(key)
		if v == nil {
			return fmt.Errorf("no record %q in bucket %q of %s", key, bucket, path)
		}
		nv, err := edit(bytes.Clone(v))
		if err != nil {
			return fmt.Errorf("%s %q in %s: %w", bucket, key, path, err)
		}
		return bk.Put(key, nv)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ForgeJSON edits the JSON of one record of the bbolt file at path with
// edit, leaving the MAC header in front of it (if any) as it was: a record
// changed by someone without the key. See Tamper.
func ForgeJSON(t testing.TB, path, bucket string, key []byte, edit func(rec map[string]any)) {
	t.Helper()
	Tamper(t, path, bucket, key, func(v []byte) ([]byte, error) {
		i := bytes.IndexByte(v, '{')
		var rec map[string]any
		if i < 0 || json.Unmarshal(v[i:], &rec) != nil {
			return nil, fmt.Errorf("not JSON")
		}
		edit(rec)
		body, err := json.Marshal(rec)
		return append(v[:i:i], body...), err
	})
}
