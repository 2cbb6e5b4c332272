package etcdkv_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// TestTxnDeletePrefix: a prefix delete removes any number of keys in one
// operation (more than etcd's 128 per transaction), later reads in the
// transaction no longer see them, and a write under the deleted prefix in
// the same transaction is refused whole.
func TestTxnDeletePrefix(t *testing.T) {
	ctx := ctxT(t)
	c := etcdtest.New(t).Open(t, etcdkv.Config{})
	for i := range 300 {
		if _, err := c.Put(ctx, fmt.Sprintf("runs/a\x00%03d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Put(ctx, "runs/ab\x00001", []byte("other job")); err != nil {
		t.Fatal(err)
	}
	err := c.Update(ctx, func(tx *etcdkv.Txn) error {
		tx.Put("runs/a\x00999", []byte("undone by the delete"))
		tx.DeletePrefix("runs/a\x00")
		if _, err := tx.Get("runs/a\x00007"); !errors.Is(err, etcdkv.ErrNotFound) {
			t.Errorf("Get under the deleted prefix = %v, want ErrNotFound", err)
		}
		kvs, err := tx.List("runs/")
		if err != nil || len(kvs) != 1 || kvs[0].Key != "runs/ab\x00001" {
			t.Errorf("List after DeletePrefix = %v, %v; want the other job's key only", kvs, err)
		}
		tx.Put("jobs/a", []byte("gone"))
		return nil
	})
	if err != nil {
		t.Fatalf("Update with DeletePrefix: %v", err)
	}
	kvs, _, err := c.List(ctx, "runs/")
	if err != nil || len(kvs) != 1 {
		t.Fatalf("List after commit = %d keys, %v; want 1", len(kvs), err)
	}
	err = c.Update(ctx, func(tx *etcdkv.Txn) error {
		tx.DeletePrefix("runs/ab\x00")
		tx.Put("runs/ab\x00002", []byte("x"))
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "deletes a prefix holding it") {
		t.Errorf("put under a deleted prefix = %v, want a refusal naming it", err)
	}
	if _, err := c.Get(ctx, "runs/ab\x00001"); err != nil {
		t.Errorf("the refused transaction wrote something: %v", err)
	}
}
