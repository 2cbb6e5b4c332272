package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// The console's admin password lives in its own bucket, created on first
// write, so databases made before the console existed need no migration.
var (
	bucketAdmin      = []byte(spaceAdmin)
	keyAdminPassword = []byte("password")
)

// Limits on an admin password, in characters (minimum) and bytes (maximum).
const (
	MinAdminPasswordLen = 8
	MaxAdminPasswordLen = 1024
)

// argon2id cost of new hashes: RFC 9106's second recommended option (64 MiB,
// three passes, four lanes), about 0.15 s on a laptop core. The parameters are
// stored with each hash, so raising them later keeps old hashes readable.
var argonCost = argonParams{memory: 64 * 1024, time: 3, threads: 4, keyLen: 32, saltLen: 16}

type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	keyLen  uint32
	saltLen int
}

// AdminPassword is the console's admin password as stored: an argon2id hash
// in PHC string form, never the password.
type AdminPassword struct {
	Hash string    // sealed at rest like other secrets
	Set  time.Time // when it was last set; sessions signed in before it end
}

type adminRecord struct {
	Set    time.Time `json:"set"`
	Sealed []byte    `json:"sealed"`
}

type adminSecret struct {
	Hash string `json:"hash"`
}

var adminAD = []byte("admin\x00password")

// ValidateAdminPassword checks that password is acceptable as the admin
// password: at least MinAdminPasswordLen characters and at most
// MaxAdminPasswordLen bytes of valid UTF-8.
func ValidateAdminPassword(password string) error {
	switch {
	case !utf8.ValidString(password):
		return errors.New("admin password is not valid UTF-8 text")
	case utf8.RuneCountInString(password) < MinAdminPasswordLen:
		return fmt.Errorf("admin password is too short: use at least %d characters (a passphrase of a few words is best)", MinAdminPasswordLen)
	case len(password) > MaxAdminPasswordLen:
		return fmt.Errorf("admin password is too long: use at most %d bytes", MaxAdminPasswordLen)
	}
	return nil
}

// HashAdminPassword validates password and returns its argon2id hash for
// SetAdminPassword. It is slow on purpose (tenths of a second, 64 MiB):
// call it outside a transaction.
func HashAdminPassword(password string) (string, error) {
	if err := ValidateAdminPassword(password); err != nil {
		return "", err
	}
	p := argonCost
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash admin password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckAdminPassword reports whether password matches hash (from
// HashAdminPassword), comparing in constant time. A hash it cannot read is an
// error wrapping ErrDamaged.
func CheckAdminPassword(hash, password string) (bool, error) {
	p, salt, want, err := parseArgonHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, p.keyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parseArgonHash reads "$argon2id$v=19$m=M,t=T,p=P$SALT$KEY". Costs are
// bounded so that a damaged record cannot make a check take minutes or
// gigabytes.
func parseArgonHash(hash string) (argonParams, []byte, []byte, error) {
	bad := func(what string) (argonParams, []byte, []byte, error) {
		return argonParams{}, nil, nil, fmt.Errorf("%w: the stored admin password hash is unreadable (%s): set the password again with `scriptrun admin password`", ErrDamaged, what)
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not an argon2id hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported argon2 version")
	}
	var p argonParams
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("unreadable parameter " + strconv.Quote(k))
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("too many lanes")
			}
			p.threads = uint8(n)
		default:
			return bad("unknown parameter " + strconv.Quote(k))
		}
	}
	if p.memory < 8*uint32(p.threads) || p.memory > 4<<20 || p.time < 1 || p.time > 64 || p.threads < 1 {
		return bad("cost parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return bad("unreadable salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return bad("unreadable key")
	}
	p.keyLen = uint32(len(key))
	p.saltLen = len(salt)
	return p, salt, key, nil
}

// AdminPassword returns the console's admin password hash, or an error
// wrapping ErrNotFound when none has been set.
func (tx *Tx) AdminPassword() (AdminPassword, error) {
	notSet := fmt.Errorf("admin password %w: set it with `scriptrun admin password`", ErrNotFound)
	v, err := tx.kv.Get(key(spaceAdmin, string(keyAdminPassword)))
	if err != nil {
		return AdminPassword{}, fmt.Errorf("read admin password from %s: %w", tx.db.path, err)
	}
	if v == nil {
		return AdminPassword{}, notSet
	}
	var rec adminRecord
	if err := tx.getRecord(kindAdmin, keyAdminPassword, "", v, &rec); err != nil {
		return AdminPassword{}, err
	}
	if len(rec.Sealed) == 0 {
		return AdminPassword{}, tx.recordError(kindAdmin, "", errUnreadable)
	}
	var sec adminSecret
	if err := tx.db.unseal(rec.Sealed, adminAD, &sec); err != nil {
		return AdminPassword{}, tx.recordError(kindAdmin, "", err)
	}
	return AdminPassword{Hash: sec.Hash, Set: rec.Set}, nil
}

// SetAdminPassword stores hash (from HashAdminPassword) as the admin
// password, replacing any, with Set as now.
func (tx *Tx) SetAdminPassword(hash string) error {
	if _, _, _, err := parseArgonHash(hash); err != nil {
		return fmt.Errorf("set admin password: not a hash from HashAdminPassword: %w", err)
	}
	sealed, err := tx.db.sealJSON(adminSecret{Hash: hash}, adminAD)
	if err != nil {
		return fmt.Errorf("set admin password: %w", err)
	}
	return tx.putRecord(spaceAdmin, kindAdmin, string(keyAdminPassword), adminRecord{Set: tx.db.now().UTC(), Sealed: sealed})
}
