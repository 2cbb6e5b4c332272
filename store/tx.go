package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Tx is one transaction on a DB. It is valid only inside the function given to
// View or Update.
type Tx struct {
	db *DB
	kv kvTx
}

type providerRecord struct {
	Provider
	Sealed []byte `json:"sealed,omitempty"`
}

type providerSecret struct {
	ClientSecret string `json:"clientSecret,omitempty"`
}

type tokenRecord struct {
	Token
	Sealed []byte `json:"sealed,omitempty"`
	// Rev is the record's revision on a backend that keeps none of its
	// own (bbolt): a number from the tokens space's sequence, new at each
	// write, so never reused even after a delete (see Token.Revision).
	Rev int64 `json:"rev,omitempty"`
}

func providerAD(name string) []byte { return []byte("provider\x00" + name) }
func tokenAD(name string) []byte    { return []byte("token\x00" + name) }

// Provider returns the named provider, or an error wrapping ErrNotFound.
func (tx *Tx) Provider(name string) (Provider, error) {
	v, err := tx.kv.Get(key(spaceProviders, name))
	if err != nil {
		return Provider{}, tx.readError("provider", name, err)
	}
	if v == nil {
		return Provider{}, fmt.Errorf("provider %q %w: list them with `scriptrun provider list`", name, ErrNotFound)
	}
	return tx.decodeProvider(name, v)
}

// Providers returns every provider, ordered by name. Damaged providers are
// left out of the list and reported together in the error, one *RecordError
// each (see DamagedRecords); the others are all returned.
func (tx *Tx) Providers() ([]Provider, error) {
	var out []Provider
	var damaged []error
	err := tx.kv.List(key(spaceProviders, ""), func(k string, v []byte) error {
		p, err := tx.decodeProvider(k, v)
		if err != nil {
			if asRecordError(err, &damaged) {
				return nil
			}
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, listDamaged(damaged)
}

func (tx *Tx) decodeProvider(name string, v []byte) (Provider, error) {
	var rec providerRecord
	if err := tx.getRecord(kindProvider, []byte(name), name, v, &rec); err != nil {
		return Provider{}, err
	}
	if rec.Name != name {
		return Provider{}, tx.recordError(kindProvider, name, errUnreadable)
	}
	if len(rec.Sealed) > 0 {
		var sec providerSecret
		if err := tx.db.unseal(rec.Sealed, providerAD(name), &sec); err != nil {
			return Provider{}, tx.recordError(kindProvider, name, err)
		}
		rec.ClientSecret = sec.ClientSecret
	}
	return rec.Provider, nil
}

// CreateProvider stores a new provider; an existing name gives ErrExists.
func (tx *Tx) CreateProvider(p Provider) error {
	if ok, err := tx.exists(spaceProviders, "provider", p.Name); err != nil || ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("provider %q %w: change it with `scriptrun provider update %s`", p.Name, ErrExists, p.Name)
	}
	return tx.PutProvider(p)
}

// PutProvider validates p and stores it, replacing any provider of that name.
// It sets Updated, and Created when the record is new.
func (tx *Tx) PutProvider(p Provider) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := tx.db.now().UTC()
	if old, err := tx.Provider(p.Name); err == nil {
		p.Created = old.Created
	} else {
		p.Created = now
	}
	p.Updated = now
	rec := providerRecord{Provider: p}
	if p.ClientSecret != "" {
		sealed, err := tx.db.sealJSON(providerSecret{ClientSecret: p.ClientSecret}, providerAD(p.Name))
		if err != nil {
			return err
		}
		rec.Sealed = sealed
	}
	return tx.putRecord(spaceProviders, kindProvider, p.Name, rec)
}

// DeleteProvider removes a provider. While tokens use it the delete is refused
// with ErrInUse, unless force is set (the tokens then stay and fail to refresh
// until the provider is added again).
func (tx *Tx) DeleteProvider(name string, force bool) error {
	// A damaged provider can be removed: that is how it is re-created.
	if ok, err := tx.exists(spaceProviders, "provider", name); err != nil || !ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("provider %q %w: list them with `scriptrun provider list`", name, ErrNotFound)
	}
	if !force {
		users, err := tx.tokensUsing(name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("provider %q is %w by token(s) %s: remove or move them first, or pass --force", name, ErrInUse, strings.Join(users, ", "))
		}
	}
	return tx.kv.Delete(key(spaceProviders, name))
}

func (tx *Tx) tokensUsing(provider string) ([]string, error) {
	var names []string
	err := tx.kv.List(key(spaceTokens, ""), func(k string, v []byte) error {
		// Only public fields are needed: skip decryption. A damaged token
		// cannot use anything, so it does not hold its provider.
		var rec struct {
			Provider string `json:"provider"`
		}
		if err := tx.getRecord(kindToken, []byte(k), k, v, &rec); err != nil {
			return nil
		}
		if rec.Provider == provider {
			names = append(names, k)
		}
		return nil
	})
	return names, err
}

// Token returns the named token, or an error wrapping ErrNotFound.
func (tx *Tx) Token(name string) (Token, error) {
	v, err := tx.kv.Get(key(spaceTokens, name))
	if err != nil {
		return Token{}, tx.readError("token", name, err)
	}
	if v == nil {
		return Token{}, fmt.Errorf("token %q %w: list them with `scriptrun token list`", name, ErrNotFound)
	}
	return tx.decodeToken(name, v)
}

// TokenWithProvider returns the named token and, for an oauth2 token, its
// provider: nil when the token's type has none, or when its provider is
// not in the store (removed with --force; the token then cannot be
// refreshed or authorized). The error wraps ErrNotFound when the token does
// not exist. A damaged provider is a *RecordError of kind "provider"
// returned with the token, so a caller that can do without the provider
// (signing with a valid access token) still has the token.
func (tx *Tx) TokenWithProvider(name string) (Token, *Provider, error) {
	t, err := tx.Token(name)
	if err != nil || t.Static() {
		return t, nil, err
	}
	p, err := tx.Provider(t.Provider)
	switch {
	case errors.Is(err, ErrNotFound):
		return t, nil, nil
	case err != nil:
		return t, nil, err // a *RecordError naming the provider
	}
	return t, &p, nil
}

// IsProviderDamaged reports whether err, from TokenWithProvider, says the
// token's provider is damaged (as opposed to the token itself).
func IsProviderDamaged(err error) bool {
	var re *RecordError
	return errors.As(err, &re) && re.Kind == kindProvider
}

// Tokens returns every token, ordered by name. Damaged tokens are left out
// of the list and reported together in the error, one *RecordError each (see
// DamagedRecords); the others are all returned.
func (tx *Tx) Tokens() ([]Token, error) {
	var out []Token
	var damaged []error
	err := tx.kv.List(key(spaceTokens, ""), func(k string, v []byte) error {
		t, err := tx.decodeToken(k, v)
		if err != nil {
			if asRecordError(err, &damaged) {
				return nil
			}
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, listDamaged(damaged)
}

func (tx *Tx) decodeToken(name string, v []byte) (Token, error) {
	var rec tokenRecord
	if err := tx.getRecord(kindToken, []byte(name), name, v, &rec); err != nil {
		return Token{}, err
	}
	if rec.Name != name {
		return Token{}, tx.recordError(kindToken, name, errUnreadable)
	}
	if len(rec.Sealed) > 0 {
		if err := tx.db.unseal(rec.Sealed, tokenAD(name), &rec.Secret); err != nil {
			return Token{}, tx.recordError(kindToken, name, err)
		}
	}
	rec.Revision = tx.revision(key(spaceTokens, name), rec.Rev)
	return rec.Token, nil
}

// CreateToken stores a new token; an existing name gives ErrExists.
func (tx *Tx) CreateToken(t Token) error {
	if ok, err := tx.exists(spaceTokens, "token", t.Name); err != nil || ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("token %q %w: change it with `scriptrun token update %s`", t.Name, ErrExists, t.Name)
	}
	return tx.PutToken(t)
}

// PutToken validates t and stores it, replacing any token of that name. An
// oauth2 token's provider must exist. It sets Updated, and Created when the
// record is new. For the types without an authorization step (basic,
// api-key, bearer, hmac-body) it sets the state from the secret: authorized
// when the credential is complete, else unauthorized.
func (tx *Tx) PutToken(t Token) error {
	t.normalize()
	if err := t.Validate(); err != nil {
		return err
	}
	if t.Type == TypeOAuth2 {
		ok, err := tx.exists(spaceProviders, "provider", t.Provider)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("token %q: provider %q %w: add it with `scriptrun provider add %s ...`", t.Name, t.Provider, ErrNotFound, t.Provider)
		}
	}
	now := tx.db.now().UTC()
	v, err := tx.kv.Get(key(spaceTokens, t.Name))
	if err != nil {
		return tx.readError("token", t.Name, err)
	}
	if v != nil {
		var old struct {
			Created time.Time `json:"created"`
		}
		if tx.getRecord(kindToken, []byte(t.Name), t.Name, v, &old) == nil {
			t.Created = old.Created
		}
	}
	if t.Created.IsZero() {
		t.Created = now
	}
	t.Updated = now
	rev, err := tx.nextRevision(spaceTokens)
	if err != nil {
		return err
	}
	rec := tokenRecord{Token: t, Rev: rev}
	if !t.Secret.IsZero() {
		sealed, err := tx.db.sealJSON(t.Secret, tokenAD(t.Name))
		if err != nil {
			return err
		}
		rec.Sealed = sealed
	}
	return tx.putRecord(spaceTokens, kindToken, t.Name, rec)
}

// DeleteToken removes a token and its secrets. A damaged token can be
// removed: that is how it is re-created.
func (tx *Tx) DeleteToken(name string) error {
	if ok, err := tx.exists(spaceTokens, "token", name); err != nil || !ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("token %q %w: list them with `scriptrun token list`", name, ErrNotFound)
	}
	return tx.kv.Delete(key(spaceTokens, name))
}

// put stores rec as plain JSON (not authenticated: see doc.go) under name
// in space; what names the value in an error.
func (tx *Tx) put(space, what, name string, rec any) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", what, name, err)
	}
	return tx.kv.Put(key(space, name), v)
}

// exists reports whether space holds a value under name, damaged or not;
// what names its kind in an error.
func (tx *Tx) exists(space, what, name string) (bool, error) {
	v, err := tx.kv.Get(key(space, name))
	if err != nil {
		return false, tx.readError(what, name, err)
	}
	return v != nil, nil
}

// readError is the error of a backend read that failed (not a damaged
// record: the store could not be read).
func (tx *Tx) readError(what, name string, err error) error {
	return fmt.Errorf("read %s %q from %s: %w", what, name, tx.db.path, err)
}

func (db *DB) sealJSON(v any, ad []byte) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	sealed := db.seal.seal(plain, ad)
	clear(plain)
	return sealed, nil
}

var errSealed = errors.New("has sealed secrets that fail authentication (altered or copied from another record)")

// unseal opens a record's sealed secrets into v. Its error is a reason for
// a RecordError.
func (db *DB) unseal(sealed, ad []byte, v any) error {
	plain, err := db.seal.open(sealed, ad)
	if err != nil {
		// The key check passed, so this record's secret was altered or moved.
		return errSealed
	}
	defer clear(plain)
	if json.Unmarshal(plain, v) != nil {
		return errSealed
	}
	return nil
}
