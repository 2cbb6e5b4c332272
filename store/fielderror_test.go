package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestValidateReportsEveryField checks that Validate reports every problem
// of a record at once, each on the field export and apply call it, and
// never repeats a secret.
func TestValidateReportsEveryField(t *testing.T) {
	const secret = "typed SECRET\nvalue"
	tests := []struct {
		name   string
		err    error
		fields []string
	}{
		{"provider, three problems", func() error {
			p := testProvider("graph")
			p.ClientID, p.TokenURL, p.Scopes = " ", "http://login.example.com/token", []string{`a"b`}
			return p.Validate()
		}(), []string{"clientId", "tokenUrl", "scopes"}},
		{"provider, name, grant and rejection", func() error {
			p := testProvider("a b")
			p.GrantType, p.Rejection = "password", Rejection{Statuses: []int{200}}
			return p.Validate()
		}(), []string{"name", "grantType", "rejection.statuses"}},
		{"provider, missing URLs", func() error {
			p := testProvider("graph")
			p.AuthURL, p.TokenURL, p.AuthStyle = "", "", "auto"
			return p.Validate()
		}(), []string{"authorizationUrl", "tokenUrl", "authStyle"}},
		{"oauth2 token, three problems", func() error {
			tk := testToken("mail", "graph")
			tk.Prompt, tk.BaseURL, tk.Username = "always", "graph.example.com", "u"
			return tk.Validate()
		}(), []string{"baseUrl", "username", "prompt"}},
		{"basic token, four problems", func() error {
			tk := Token{Name: "crm", Type: TypeBasic, State: StateUnauthorized, Secret: Secret{Password: secret}}
			tk.BaseURL, tk.KeyHeader = "ftp://crm.example.com", "X-Key"
			return tk.Validate()
		}(), []string{"baseUrl", "keyHeader", "username", "password"}},
		{"api-key token, three problems", func() error {
			tk := Token{Name: "maps", Type: TypeAPIKey, State: StateUnauthorized, KeyQuery: "a&b", KeyPrefix: "Token ", Secret: Secret{APIKey: secret}}
			return tk.Validate()
		}(), []string{"keyQuery", "keyPrefix", "apiKey"}},
		{"hmac token, three problems", func() error {
			tk := Token{Name: "..", Type: TypeHMACBody, State: StateReauthRequired, HMACAlgorithm: "md5"}
			return tk.Validate()
		}(), []string{"name", "state", "hmacAlgorithm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var es FieldErrors
			if !errors.As(tt.err, &es) {
				t.Fatalf("Validate = %v, want FieldErrors", tt.err)
			}
			var fields []string
			for _, e := range es {
				fields = append(fields, e.Field)
				if e.Label == "" || e.Message == "" {
					t.Errorf("field error %+v lacks a label or a message", e)
				}
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("Validate refused %q (%v), want %q", fields, tt.err, tt.fields)
			}
			if strings.Contains(tt.err.Error(), "SECRET") {
				t.Errorf("Validate = %q: it repeats a secret", tt.err)
			}
		})
	}
}

// TestPutReturnsFieldErrors checks that the store's writes return the
// field errors whole, for the command line and the console to show.
func TestPutReturnsFieldErrors(t *testing.T) {
	db := openTestDB(t)
	p := testProvider("graph")
	p.ClientID, p.TokenURL, p.AuthStyle = "", "nope", "auto"
	err := db.Update(func(tx *Tx) error { return tx.CreateProvider(p) })
	if es := AsFieldErrors(err); len(es) != 3 {
		t.Errorf("CreateProvider with 3 problems: %v, want 3 field errors", err)
	}
	tk := testToken("mail", "graph")
	tk.Name, tk.Prompt, tk.Scopes = "a/b", "always", []string{""}
	err = db.Update(func(tx *Tx) error { return tx.CreateToken(tk) })
	if es := AsFieldErrors(err); len(es) != 3 {
		t.Errorf("CreateToken with 3 problems: %v, want 3 field errors", err)
	}
	if AsFieldErrors(db.View(func(tx *Tx) error { _, err := tx.Token("none"); return err })) != nil {
		t.Error("a missing token gives field errors")
	}
}

func TestJoinAndSplitFieldErrors(t *testing.T) {
	parsed := FieldErrors{{Field: "rejection.statuses", Label: "rejected statuses", Message: "not a number"}}
	validated := FieldErrors{{Field: "rejection.statuses", Label: "rejected statuses", Message: "required"}, {Field: "tokenUrl", Label: "token URL", Message: "required"}}
	tests := []struct {
		name       string
		err        error
		wantFields []string
		wantRest   error
	}{
		{"parsed alone", JoinFieldErrors(parsed, nil), []string{"rejection.statuses"}, nil},
		{"parsed then validation, each field once", JoinFieldErrors(parsed, validated), []string{"rejection.statuses", "tokenUrl"}, nil},
		{"validation alone", JoinFieldErrors(nil, validated), []string{"rejection.statuses", "tokenUrl"}, nil},
		{"with a missing record", JoinFieldErrors(parsed, ErrNotFound), []string{"rejection.statuses"}, ErrNotFound},
		{"a missing record alone", JoinFieldErrors(nil, ErrNotFound), nil, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fes, rest := SplitFieldErrors(tt.err)
			var fields []string
			for _, fe := range fes {
				fields = append(fields, fe.Field)
			}
			if !slices.Equal(fields, tt.wantFields) {
				t.Errorf("fields %q, want %q", fields, tt.wantFields)
			}
			if (rest == nil) != (tt.wantRest == nil) || (rest != nil && !errors.Is(rest, tt.wantRest)) {
				t.Errorf("rest = %v, want %v", rest, tt.wantRest)
			}
		})
	}
}
