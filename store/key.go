package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the master key's length in bytes (AES-256).
const KeySize = 32

// ParseKey decodes a master key written as 64 hex digits or as base64 (standard
// or URL alphabet, padded or not) of 32 bytes. It is how SCRIPTRUN_MASTER_KEY
// and master.key are read.
func ParseKey(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	// The text itself is never echoed: it may be a real key with a typo.
	return nil, fmt.Errorf("master key is not %d bytes written as 64 hex digits or base64 (it has %d characters); generate one with: openssl rand -hex 32", KeySize, len(s))
}

// LoadKey reads the master key file at path, creating it with a new random key
// and mode 0600 when it does not exist. A key file that others can read is
// refused, as ssh refuses such private keys.
func LoadKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("create master key %s: %w", path, err)
		}
		_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
		if serr := f.Sync(); werr == nil {
			werr = serr
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, fmt.Errorf("create master key %s: %w", path, werr)
		}
		return key, nil
	case errors.Is(err, fs.ErrExist):
		// Another process may have created it a moment ago: read theirs.
	default:
		return nil, fmt.Errorf("create master key %s: %w (check that the home folder exists and is writable)", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read master key %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s can be read by other users (mode %04o): run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key %s: %w", path, err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		// A process died between creating and writing the file.
		return nil, fmt.Errorf("master key %s is empty: if no database was ever sealed with it, delete it and run again; otherwise restore it from your backup", path)
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return key, nil
}

// sealer encrypts and authenticates record secrets.
type sealer struct{ aead cipher.AEAD }

const sealVersion = 1

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key has %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns version | nonce | ciphertext, bound to ad (the record's identity).
func (s *sealer) seal(plain, ad []byte) []byte {
	n := s.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+n]); err != nil {
		panic("store: no randomness for a nonce: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return s.aead.Seal(out, out[1:1+n], plain, ad)
}

var errUnseal = errors.New("cannot decrypt")

func (s *sealer) open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errUnseal
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, errUnseal
	}
	return plain, nil
}
