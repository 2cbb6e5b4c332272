package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

func TestOpenURL(t *testing.T) {
	c := etcdtest.New(t)
	url := "etcd://" + strings.Join(c.Endpoints(), ",") + "/open-url-" + strings.ToLower(t.Name()) + "/"
	ctx := context.Background()
	key := testKey(7)

	if _, err := OpenURL(ctx, url, key, Options{}); !errors.Is(err, ErrNoStore) || !strings.Contains(err.Error(), "store init") {
		t.Fatalf("open an empty prefix: %v, want ErrNoStore naming store init", err)
	}
	db, err := OpenURL(ctx, url, key, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if !db.Clustered() {
		t.Error("an etcd store says it is not clustered")
	}
	if err := db.Update(func(tx *Tx) error { return tx.PutProvider(testProvider("p")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	again, err := OpenURL(ctx, url, key, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	if err := again.View(func(tx *Tx) error { _, err := tx.Provider("p"); return err }); err != nil {
		t.Fatalf("read back: %v", err)
	}

	other := testKey(8)
	_, err = OpenURL(ctx, url, other, Options{})
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "every node needs the same") || !strings.Contains(err.Error(), "etcd://") {
		t.Fatalf("open with another key: %v, want ErrWrongKey naming the store and the fix", err)
	}

	if _, err := OpenURL(ctx, "etcd://", key, Options{}); err == nil {
		t.Fatal("open etcd:// with no endpoints: no error")
	}
}

func TestOpenURLFile(t *testing.T) {
	path := t.TempDir() + "/s.db"
	db, err := OpenURL(context.Background(), path, testKey(7), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if db.Clustered() {
		t.Error("a bbolt file says it is clustered")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
