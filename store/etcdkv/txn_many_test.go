package etcdkv_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// TestTxnKeysAndGetMany: Keys lists a prefix's keys, with their revisions
// and no values, as List lists them (own writes applied); GetMany reads
// the values of chosen keys, in batches of MaxTxnOps, as Get reads them
// (at the snapshot, own writes applied, absent keys left out).
func TestTxnKeysAndGetMany(t *testing.T) {
	ctx := ctxT(t)
	c := etcdtest.New(t)
	a := c.Open(t, etcdkv.Config{MaxTxnOps: 4}) // GetMany batches of 4
	b := c.Open(t, etcdkv.Config{Target: a.Target()})
	for i := range 10 {
		if _, err := a.Put(ctx, fmt.Sprintf("tokens/t%02d", i), []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Put(ctx, "tokensx", []byte("not under tokens/")); err != nil {
		t.Fatal(err)
	}
	err := a.Update(ctx, func(tx *etcdkv.Txn) error {
		tx.Put("tokens/t10", []byte("own"))
		tx.Delete("tokens/t03")
		tx.Put("tokens/a", []byte("first"))
		tx.Put("tokens/t04b", []byte("between"))
		tx.Put("tokens/t05", []byte("own5"))
		listed, err := tx.List("tokens/")
		if err != nil {
			return err
		}
		var kvs []string
		for _, kv := range listed {
			kvs = append(kvs, kv.Key[len("tokens/"):]+"="+string(kv.Value))
		}
		if got, want := strings.Join(kvs, " "), "a=first t00=v0 t01=v1 t02=v2 t04=v4 t04b=between t05=own5 t06=v6 t07=v7 t08=v8 t09=v9 t10=own"; got != want {
			t.Errorf("List with own writes = %s, want %s", got, want)
		}
		ks, err := tx.Keys("tokens/")
		if err != nil {
			return err
		}
		if !slices.Equal(keys(ks), keys(listed)) {
			t.Errorf("Keys = %v, want List's %v", keys(ks), keys(listed))
		}
		for i, kv := range ks {
			if kv.Value != nil || kv.ModRevision != listed[i].ModRevision {
				t.Errorf("Keys: %s = value %q, revision %d; want no value, revision %d", kv.Key, kv.Value, kv.ModRevision, listed[i].ModRevision)
			}
		}
		// Changed after the snapshot: GetMany still reads the snapshot.
		if _, err := b.Put(ctx, "tokens/t07", []byte("later")); err != nil {
			return err
		}
		want := []string{"tokens/t09=v9", "tokens/t10=own", "tokens/t01=v1", "tokens/t07=v7", "tokens/t02=v2", "tokens/t05=own5", "tokens/t06=v6", "tokens/t08=v8"}
		var got []string
		err = tx.GetMany([]string{"tokens/t09", "tokens/t10", "tokens/t03", "tokens/t01", "tokens/nope", "tokens/t07", "tokens/t02", "tokens/t05", "tokens/t06", "tokens/t08"}, func(kv etcdkv.KV) error {
			got = append(got, kv.Key+"="+string(kv.Value))
			return nil
		})
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			t.Errorf("GetMany = %v, want %v", got, want)
		}
		return errors.New("abort")
	})
	if err == nil || err.Error() != "abort" {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	stop := errors.New("stop")
	n := 0
	err = a.View(ctx, func(tx *etcdkv.Txn) error {
		return tx.GetMany([]string{"tokens/t01", "tokens/t02"}, func(etcdkv.KV) error { n++; return stop })
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("GetMany with fn failing: err %v after %d calls, want fn's error after 1", err, n)
	}
}

// TestTxnKeysAndGetManyFence: an Update that read a prefix with Keys runs
// again when a key is added under it, and one that read a key with
// GetMany runs again when that key changes, as after List and Get.
func TestTxnKeysAndGetManyFence(t *testing.T) {
	ctx := ctxT(t)
	c := etcdtest.New(t)
	a := c.Open(t, etcdkv.Config{})
	b := c.Open(t, etcdkv.Config{Target: a.Target()})
	if _, err := a.Put(ctx, "jobs/a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		read      func(tx *etcdkv.Txn) (string, error)
		interfere func() error
		want      string
	}{
		{
			name: "key added under a prefix read with Keys",
			read: func(tx *etcdkv.Txn) (string, error) {
				ks, err := tx.Keys("jobs/")
				return fmt.Sprint(keys(ks)), err
			},
			interfere: func() error { _, err := b.Put(ctx, "jobs/b", []byte("2")); return err },
			want:      "[jobs/a jobs/b]",
		},
		{
			name: "key read with GetMany changed",
			read: func(tx *etcdkv.Txn) (string, error) {
				var v string
				err := tx.GetMany([]string{"jobs/a"}, func(kv etcdkv.KV) error { v = string(kv.Value); return nil })
				return v, err
			},
			interfere: func() error { _, err := b.Put(ctx, "jobs/a", []byte("3")); return err },
			want:      "3",
		},
	}
	for _, tt := range tests {
		got, runs, err := updateInterfered(ctx, a, tt.read, tt.interfere)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want || runs != 2 {
			t.Errorf("%s: out = %q after %d runs, want %q after 2", tt.name, got, runs, tt.want)
		}
	}
}
