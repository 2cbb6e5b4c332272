package etcdkv_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// The benchmarks compare the three operations the token path makes — read a
// token, write a rotated set fenced on what was read, take and release the
// token's lock — on etcd and on today's bbolt store (store.DB, which opens
// the file for each transaction under a lock file, with fsync). Both sides
// sync to disk. On etcd the value is an opaque 700-byte record; the store
// also seals and authenticates it (a few µs of the total).
//
//	go test -run XXX -bench . -benchtime 2s ./store/etcdkv/
//	SCRIPTRUN_ETCD_ENDPOINTS=127.0.0.1:2379 go test -run XXX -bench Etcd ./store/etcdkv/

func benchEtcd(b *testing.B) *etcdkv.Client {
	var c *etcdtest.Cluster
	if os.Getenv(etcdtest.EnvEndpoints) != "" {
		c = etcdtest.New(b)
	} else {
		c = etcdtest.Start(b, etcdtest.Options{Fsync: true})
	}
	return c.Open(b, etcdkv.Config{})
}

var record = bytes.Repeat([]byte{'r'}, 700)

func BenchmarkEtcdGet(b *testing.B) {
	cli := benchEtcd(b)
	ctx := context.Background()
	if _, err := cli.Put(ctx, "tokens/t", record); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := cli.Get(ctx, "tokens/t"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEtcdCASWrite(b *testing.B) {
	cli := benchEtcd(b)
	ctx := context.Background()
	if _, err := cli.Put(ctx, "tokens/t", record); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		kv, err := cli.Get(ctx, "tokens/t")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cli.PutIfUnchanged(ctx, "tokens/t", record, kv.ModRevision); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEtcdLockUnlock(b *testing.B) {
	cli := benchEtcd(b)
	ctx := context.Background()
	for b.Loop() {
		l, err := cli.Lock(ctx, "token-t")
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func benchBolt(b *testing.B) *store.DB {
	key := bytes.Repeat([]byte{7}, store.KeySize)
	db, err := store.Open(filepath.Join(b.TempDir(), "scriptrun.db"), key, store.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	err = db.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(store.Provider{
			Name: "p", ClientID: "client-123", ClientSecret: "provider-secret",
			GrantType: store.GrantAuthorizationCode, AuthURL: "https://login.example.com/authorize",
			TokenURL: "https://login.example.com/token", AuthStyle: store.AuthStyleHeader,
		}); err != nil {
			return err
		}
		return tx.CreateToken(store.Token{
			Name: "t", Type: store.TypeOAuth2, Provider: "p", Active: true, State: store.StateAuthorized,
			BaseURL: "https://api.example.com", Expires: time.Now().Add(time.Hour),
			Secret: store.Secret{AccessToken: string(record[:300]), RefreshToken: string(record[:200]), TokenType: "Bearer"},
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func BenchmarkBoltGet(b *testing.B) {
	db := benchBolt(b)
	for b.Loop() {
		if err := db.View(func(tx *store.Tx) error { _, err := tx.Token("t"); return err }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBoltCASWrite(b *testing.B) {
	db := benchBolt(b)
	for b.Loop() {
		// bbolt's writer excludes all others, so read-then-write in one
		// Update is the compare-and-swap.
		if err := db.Update(func(tx *store.Tx) error {
			t, err := tx.Token("t")
			if err != nil {
				return err
			}
			return tx.PutToken(t)
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBoltLockUnlock(b *testing.B) {
	db := benchBolt(b)
	ctx := context.Background()
	for b.Loop() {
		l, err := db.LockToken(ctx, "t")
		if err != nil {
			b.Fatal(err)
		}
		l.Unlock()
	}
}

// The contended case of a refresh storm: two processes (clients, or two
// DBs on one file) take turns on one token's lock; ns/op is per lock taken.
func BenchmarkEtcdLockContended(b *testing.B) {
	first := benchEtcd(b)
	clients := []*etcdkv.Client{first, openLike(b, first)}
	benchContended(b, func(i int) (func(), error) {
		l, err := clients[i].Lock(context.Background(), "token-t")
		if err != nil {
			return nil, err
		}
		return func() { l.Unlock(context.Background()) }, nil
	})
}

func BenchmarkBoltLockContended(b *testing.B) {
	first := benchBolt(b)
	second, err := store.Open(first.Path(), bytes.Repeat([]byte{7}, store.KeySize), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	dbs := []*store.DB{first, second}
	benchContended(b, func(i int) (func(), error) {
		l, err := dbs[i].LockToken(context.Background(), "t")
		if err != nil {
			return nil, err
		}
		return l.Unlock, nil
	})
}

func openLike(b *testing.B, c *etcdkv.Client) *etcdkv.Client {
	cli, err := etcdkv.Open(context.Background(), etcdkv.Config{Target: c.Target()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	return cli
}

func benchContended(b *testing.B, lock func(i int) (func(), error)) {
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range b.N / 2 {
				unlock, err := lock(i)
				if err != nil {
					b.Error(err)
					return
				}
				unlock()
			}
		}()
	}
	wg.Wait()
}
