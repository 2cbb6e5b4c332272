package store

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// staticTokens returns one token of each type without an authorization
// step, with a complete credential.
func staticTokens() []Token {
	return []Token{
		{Name: "basic", Type: TypeBasic, Active: true, Username: "svc-user", BaseURL: "https://api.example.com",
			Secret: Secret{Password: "basic-PASSWORD-secret-1111"}},
		{Name: "key-header", Type: TypeAPIKey, Active: true, KeyHeader: "X-API-Key", KeyPrefix: "Key ",
			Secret: Secret{APIKey: "api-KEY-secret-2222"}},
		{Name: "key-query", Type: TypeAPIKey, Active: true, KeyQuery: "api_key", Secret: Secret{APIKey: "api-KEY-secret-3333"}},
		{Name: "bearer", Type: TypeBearer, Active: true, Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			Secret: Secret{AccessToken: "static-BEARER-secret-4444"}},
		{Name: "hmac", Type: TypeHMACBody, Active: true, HMACAlgorithm: HMACSHA512,
			Secret: Secret{APIToken: "hmac-API-token-5555", APISecret: "hmac-API-secret-6666"}},
	}
}

// Every type round-trips with its fields; the state follows the credential;
// no credential is in the file in clear.
func TestTokenTypesRoundTrip(t *testing.T) {
	db := openTestDB(t)
	for _, tok := range staticTokens() {
		tok.State = StateUnauthorized // PutToken derives it
		must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(tok) }))
		var got Token
		must(t, db.View(func(tx *Tx) (err error) { got, err = tx.Token(tok.Name); return err }))
		if got.State != StateAuthorized {
			t.Errorf("%s with a complete credential: state %s, want authorized", tok.Name, got.State)
		}
		if got.Secret.Password != tok.Secret.Password || got.Secret.APIKey != tok.Secret.APIKey || got.Secret.AccessToken != tok.Secret.AccessToken ||
			got.Secret.APIToken != tok.Secret.APIToken || got.Secret.APISecret != tok.Secret.APISecret {
			t.Errorf("%s: secret did not round-trip", tok.Name)
		}
		if got.Username != tok.Username || got.KeyHeader != tok.KeyHeader || got.KeyQuery != tok.KeyQuery || got.KeyPrefix != tok.KeyPrefix ||
			got.HMACAlgorithm != tok.HMACAlgorithm || !got.Expires.Equal(tok.Expires) {
			t.Errorf("%s: public fields did not round-trip: %+v", tok.Name, got)
		}
		// Clearing the credential makes it unauthorized again.
		got.Secret = Secret{}
		must(t, db.Update(func(tx *Tx) error { return tx.PutToken(got) }))
		must(t, db.View(func(tx *Tx) (err error) { got, err = tx.Token(tok.Name); return err }))
		if got.State != StateUnauthorized {
			t.Errorf("%s without a credential: state %s, want unauthorized", tok.Name, got.State)
		}
		got.Secret = tok.Secret
		must(t, db.Update(func(tx *Tx) error { return tx.PutToken(got) }))
	}
	var bearer, hmac Token
	must(t, db.View(func(tx *Tx) (err error) {
		if bearer, err = tx.Token("bearer"); err != nil {
			return err
		}
		hmac, err = tx.Token("hmac")
		return err
	}))
	if bearer.Secret.TokenType != "Bearer" {
		t.Errorf("bearer token type %q, want Bearer (what older versions sign with)", bearer.Secret.TokenType)
	}
	if hmac.HMACAlgorithm != HMACSHA512 {
		t.Errorf("hmac algorithm %q", hmac.HMACAlgorithm)
	}
	raw, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range staticTokens() {
		for _, s := range []string{tok.Secret.Password, tok.Secret.APIKey, tok.Secret.AccessToken, tok.Secret.APIToken, tok.Secret.APISecret} {
			if s != "" && bytes.Contains(raw, []byte(s)) {
				t.Errorf("database file holds %s's credential in clear", tok.Name)
			}
		}
	}
	if !bytes.Contains(raw, []byte("svc-user")) || !bytes.Contains(raw, []byte("X-API-Key")) {
		t.Error("the public fields are not in the file: the check above may read the wrong file")
	}
}

// An hmac-body token without an algorithm gets SHA-256.
func TestHMACDefaultAlgorithm(t *testing.T) {
	db := openTestDB(t)
	tok := Token{Name: "h", Type: TypeHMACBody, Active: true, Secret: Secret{APIToken: "t", APISecret: "s"}}
	must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(tok) }))
	must(t, db.View(func(tx *Tx) (err error) { tok, err = tx.Token("h"); return err }))
	if tok.HMACAlgorithm != HMACSHA256 || tok.State != StateAuthorized {
		t.Errorf("hmac token without an algorithm: %q, state %s", tok.HMACAlgorithm, tok.State)
	}
}

func TestTokenTypeValidation(t *testing.T) {
	byName := map[string]Token{}
	for _, tok := range staticTokens() {
		byName[tok.Name] = tok
	}
	tests := []struct {
		name, token string
		edit        func(*Token)
		wantErr     string
		secret      string // must not appear in the error
	}{
		{"basic valid", "basic", func(*Token) {}, "", ""},
		{"basic without user", "basic", func(t *Token) { t.Username = "" }, "needs a user name", ""},
		{"basic user with colon", "basic", func(t *Token) { t.Username = "a:b" }, "no ':'", ""},
		{"basic password with newline", "basic", func(t *Token) { t.Secret.Password = "pass\nword-SECRET" }, "control characters", "pass\nword-SECRET"},
		{"basic with a provider", "basic", func(t *Token) { t.Provider = "graph" }, "no provider", ""},
		{"basic with scopes", "basic", func(t *Token) { t.Scopes = []string{"x"} }, "no scopes", ""},
		{"basic with an API key", "basic", func(t *Token) { t.Secret.APIKey = "k" }, "no API key", ""},
		{"basic reauth state", "basic", func(t *Token) { t.State = StateReauthRequired }, "oauth2 tokens only", ""},
		{"api-key without place", "key-header", func(t *Token) { t.KeyHeader = "" }, "needs a header or a query parameter", ""},
		{"api-key with both", "key-header", func(t *Token) { t.KeyQuery = "k" }, "not both", ""},
		{"api-key bad header", "key-header", func(t *Token) { t.KeyHeader = "X API Key" }, "header name", ""},
		{"api-key reserved header", "key-header", func(t *Token) { t.KeyHeader = "Content-Length" }, "set by the HTTP client", ""},
		{"api-key bad query name", "key-query", func(t *Token) { t.KeyQuery = "a&b" }, "query parameter name", ""},
		{"api-key prefix with query", "key-query", func(t *Token) { t.KeyPrefix = "Token " }, "goes with a header", ""},
		{"api-key key with CR", "key-header", func(t *Token) { t.Secret.APIKey = "key\r-SECRET" }, "control characters", "key\r-SECRET"},
		{"bearer valid", "bearer", func(*Token) {}, "", ""},
		{"bearer with space", "bearer", func(t *Token) { t.Secret.AccessToken = "two WORDS-SECRET" }, "no spaces", "two WORDS-SECRET"},
		{"bearer with a refresh token", "bearer", func(t *Token) { t.Secret.RefreshToken = "r" }, "no refresh token", ""},
		{"bearer with prompt", "bearer", func(t *Token) { t.Prompt = "consent" }, "no prompt", ""},
		{"hmac bad algorithm", "hmac", func(t *Token) { t.HMACAlgorithm = "md5" }, "algorithm", ""},
		{"hmac bad API token", "hmac", func(t *Token) { t.Secret.APIToken = "has space-SECRET" }, "API token must", "has space-SECRET"},
		{"hmac with a user", "hmac", func(t *Token) { t.Username = "u" }, "no user name", ""},
		{"basic with an access token", "basic", func(t *Token) { t.Secret.AccessToken = "a" }, "no access token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := byName[tt.token]
			tok.State = StateAuthorized
			tt.edit(&tok)
			err := tok.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want an error mentioning %q", err, tt.wantErr)
			}
			if tt.secret != "" && err != nil && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
	// oauth2 tokens refuse the fields of the other types.
	for _, edit := range []func(*Token){
		func(t *Token) { t.Username = "u" },
		func(t *Token) { t.KeyHeader = "X-Key" },
		func(t *Token) { t.HMACAlgorithm = HMACSHA256 },
		func(t *Token) { t.Secret.APISecret = "s" },
	} {
		tok := testToken("mail", "graph")
		edit(&tok)
		if err := tok.Validate(); err == nil || !strings.Contains(err.Error(), "belongs to") {
			t.Errorf("oauth2 token with another type's field: %v", err)
		}
	}
}

// Tokens without an authorization step need no provider; oauth2 tokens
// still need theirs.
func TestStaticTokensNeedNoProvider(t *testing.T) {
	db := openTestDB(t)
	must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(staticTokens()[0]) }))
	err := db.Update(func(tx *Tx) error { return tx.CreateToken(testToken("mail", "nope")) })
	if err == nil || !strings.Contains(err.Error(), `provider "nope"`) {
		t.Errorf("oauth2 token with a missing provider: %v", err)
	}
	// A provider is not "in use" by tokens of other types.
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteProvider("graph", false) }))
}

func TestClientCredentialsProvider(t *testing.T) {
	p := testProvider("m2m")
	p.GrantType = GrantClientCredentials
	p.AuthURL = ""
	p.TokenParams = map[string]string{"audience": "https://api.example.com"}
	if err := p.Validate(); err != nil {
		t.Errorf("client_credentials provider without an authorization URL: %v", err)
	}
	p.AuthURL = "/relative"
	if err := p.Validate(); err == nil {
		t.Error("client_credentials provider with a bad authorization URL passed")
	}
	p = testProvider("code")
	p.AuthURL = ""
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "authorization URL") {
		t.Errorf("authorization_code provider without an authorization URL: %v", err)
	}
}

// Records written before token types existed (testdata/v1-records.json was
// written by the previous release with key testKey(7)) read unchanged, and
// are written back in the same shape.
func TestVersion1RecordsReadUnchanged(t *testing.T) {
	raw, err := os.ReadFile("testdata/v1-records.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	db := openTestDB(t)
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.kv.Put(key(spaceProviders, "graph"), recs["provider"]); err != nil {
			return err
		}
		if err := tx.kv.Put(key(spaceTokens, "graph-mail"), recs["token"]); err != nil {
			return err
		}
		return setSchema1(tx)
	}))
	// Opened again with the key, the file is migrated to schema 2. The first
	// DB knows the records under the schema 1 file's (absent) home id, so
	// the end check authenticates them through the new one instead.
	allowDamaged(db)
	db, err = Open(db.Path(), testKey(7), Options{})
	must(t, err)
	t.Cleanup(func() {
		if err := db.CheckRecords(); err != nil {
			t.Errorf("record check after migration: %v", err)
		}
	})
	var p Provider
	var tok Token
	must(t, db.View(func(tx *Tx) (err error) {
		if p, err = tx.Provider("graph"); err != nil {
			return err
		}
		tok, err = tx.Token("graph-mail")
		return err
	}))
	want := testToken("graph-mail", "graph")
	if tok.Type != TypeOAuth2 || tok.State != StateAuthorized || tok.Secret.AccessToken != want.Secret.AccessToken ||
		tok.Secret.RefreshToken != want.Secret.RefreshToken || string(tok.Secret.Extra["instance_url"]) != string(want.Secret.Extra["instance_url"]) ||
		tok.Prompt != "consent" || !tok.Expires.Equal(want.Expires) || p.ClientSecret != testProvider("graph").ClientSecret {
		t.Fatalf("version 1 records read as %+v / %+v", tok, p)
	}
	if err := tok.Validate(); err != nil {
		t.Errorf("a version 1 token does not validate: %v", err)
	}
	// Written back, the record has exactly the fields it had.
	must(t, db.Update(func(tx *Tx) error { return tx.PutToken(tok) }))
	var before, after map[string]json.RawMessage
	json.Unmarshal(recs["token"], &before)
	must(t, db.View(func(tx *Tx) error {
		body, err := tx.db.mac.decode(kindToken, []byte("graph-mail"), tx.bolt().Bucket(bucketTokens).Get([]byte("graph-mail")))
		if err != nil {
			return err
		}
		return json.Unmarshal(body, &after)
	}))
	for k := range after {
		// rev is the write counter of the refresh fence (Token.Revision),
		// new with every write on bbolt; older versions ignore it.
		if _, ok := before[k]; !ok && k != "rev" {
			t.Errorf("rewritten oauth2 record gained field %q", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("rewritten oauth2 record lost field %q", k)
		}
	}
	if SchemaVersion != 2 {
		t.Errorf("SchemaVersion = %d: token types need no new schema (2 is record authentication)", SchemaVersion)
	}
}
