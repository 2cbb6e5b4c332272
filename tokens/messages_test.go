package tokens

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/store"
)

// hydraReason ends long descriptions, as hydra writes them: the reason a
// person needs is last.
const hydraReason = "The refresh token was revoked by the resource owner."

// echoDescription builds an error description of size bytes (give or take a
// rune) that echoes secret so that it straddles byte at, surrounded by
// multibyte runes, and ends with hydraReason.
func echoDescription(secret string, at, size int) string {
	var b strings.Builder
	for b.Len() < at-len(secret)/2 {
		b.WriteString("é日")
	}
	b.WriteString(secret)
	for b.Len() < size-len(hydraReason)-1 {
		b.WriteString("日é")
	}
	b.WriteString(" " + hydraReason)
	return b.String()
}

// leaks returns the longest piece of one of secrets found in msg, if it
// is minSecretFragment bytes or longer.
func leaks(msg string, secrets ...string) string {
	for _, s := range secrets {
		for n := len(s); n >= minSecretFragment; n-- {
			for i := 0; i+n <= len(s); i++ {
				if strings.Contains(msg, s[i:i+n]) {
					return s[i : i+n]
				}
			}
		}
	}
	return ""
}

// A provider echoes the refresh token inside a long error_description:
// whatever the length and wherever the token sits relative to a cut, no
// piece of it reaches lastMessage or the error scripts see, the message is
// valid UTF-8, and up to 1 KiB of the provider's words are kept.
func TestEchoedSecretMaskedBeforeCut(t *testing.T) {
	for _, tt := range []struct {
		size, at   int
		keepReason bool
	}{
		{300, 200, true},   // today's cut at 200 split the token
		{900, 200, true},   // hydra: the reason is at the end of a long message
		{2000, 200, false}, // early echo in a message too long to keep whole
		{2000, 1024, false},
		{2000, 1030, false},
	} {
		t.Run(fmt.Sprintf("%d bytes, echo at %d", tt.size, tt.at), func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.authorize(t, "api")
			tok := e.token(t, "api")
			secrets := []string{tok.Secret.RefreshToken, tok.Secret.AccessToken, e.srv.ClientSecret()}
			e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
				r.ParseForm()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{
					"error":             "invalid_grant",
					"error_description": echoDescription(r.PostForm.Get("refresh_token"), tt.at, tt.size),
				})
				return true
			})
			e.clock.Add(2 * time.Hour)
			_, err := e.m.Refresh(context.Background(), "api")
			if CodeOf(err) != CodeReauthRequired {
				t.Fatalf("Refresh: %v, want %s", err, CodeReauthRequired)
			}
			last := e.token(t, "api").LastMessage
			for what, msg := range map[string]string{"error": err.Error(), "lastMessage": last} {
				checkMasked(t, what, msg, tt.keepReason, secrets)
			}
		})
	}
}

// checkMasked checks a message about a provider's echo: no piece of a
// secret, valid UTF-8, the mask shown, the provider's reason kept (or not,
// as keepReason says) and at most about 1 KiB of provider text.
func checkMasked(t *testing.T, what, msg string, keepReason bool, secrets []string) {
	t.Helper()
	if piece := leaks(msg, secrets...); piece != "" {
		t.Errorf("%s holds %q, a piece of a secret: %q", what, piece, msg)
	}
	if !utf8.ValidString(msg) {
		t.Errorf("%s is not valid UTF-8: %q", what, msg)
	}
	if !strings.Contains(msg, secretMask) {
		t.Errorf("%s does not show where the secret was masked: %q", what, msg)
	}
	if got := strings.Contains(msg, hydraReason); got != keepReason {
		t.Errorf("%s keeps the provider's reason: %v, want %v: %q", what, got, keepReason, msg)
	}
	if len(msg) > maxProviderText+300 {
		t.Errorf("%s is %d bytes long; the provider's text is kept to %d", what, len(msg), maxProviderText)
	}
}

// A revocation endpoint that refuses and echoes the token it was asked to
// revoke, far into a long description.
func TestRevokeRefusalEchoMasked(t *testing.T) {
	e := newEnv(t, envOpts{})
	old := e.authorize(t, "api")
	revoke := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{
			"error":             "invalid_request",
			"error_description": echoDescription(r.PostForm.Get("token"), 200, 700),
		})
	}))
	t.Cleanup(revoke.Close)
	e.provider(t, func(p *store.Provider) { p.RevocationURL = revoke.URL })
	_, err := e.m.Revoke(context.Background(), "api", RevokeOptions{})
	if CodeOf(err) != CodeRevokeFailed {
		t.Fatalf("Revoke: %v, want %s", err, CodeRevokeFailed)
	}
	if piece := leaks(err.Error(), old.Secret.RefreshToken, old.Secret.AccessToken, e.srv.ClientSecret()); piece != "" {
		t.Errorf("error holds %q, a piece of a secret: %q", piece, err)
	}
	if !utf8.ValidString(err.Error()) || !strings.Contains(err.Error(), hydraReason) {
		t.Errorf("error is not valid UTF-8 or lost the provider's reason: %q", err)
	}
}

// An authorization refused at the provider: the callback's description is
// kept up to 1 KiB, cut on a rune boundary.
func TestAuthorizeErrorDescriptionKept(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tt := range []struct {
		name       string
		size       int
		keepReason bool
	}{{"short", 300, true}, {"hydra", 900, true}, {"long", 3000, false}} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := e.m.Authorize("api", e.callback.URL+"/oauth/callback")
			if err != nil {
				t.Fatal(err)
			}
			q := url.Values{"state": {a.State}, "error": {"access_denied"}, "error_description": {echoDescription("", tt.size/2, tt.size)}}
			_, err = e.m.Complete(context.Background(), a, q)
			if CodeOf(err) != CodeAuthorizeFailed {
				t.Fatalf("Complete: %v, want %s", err, CodeAuthorizeFailed)
			}
			last := e.token(t, "api").LastMessage
			for what, msg := range map[string]string{"error": err.Error(), "lastMessage": last} {
				if !utf8.ValidString(msg) {
					t.Errorf("%s is not valid UTF-8: %q", what, msg)
				}
				if got := strings.Contains(msg, hydraReason); got != tt.keepReason {
					t.Errorf("%s keeps the provider's reason: %v, want %v", what, got, tt.keepReason)
				}
			}
		})
	}
}

// redact finds a secret however the provider echoed it.
func TestRedact(t *testing.T) {
	const secret = "rT/9+kQ=zX7_a8Lm-Pq2"
	const short = "k3y9"
	tests := []struct {
		name, text string
		gone       []string // must not remain
		want       string   // must remain ("" = nothing to check)
	}{
		{"whole", "bad token " + secret + " for client", []string{secret}, "bad token •••• for client"},
		{"query-escaped", "body was refresh_token=" + url.QueryEscape(secret) + "&x=1", []string{url.QueryEscape(secret)[:8]}, "&x=1"},
		{"lower-case hex", "token=rT%2f9%2bkQ%3dzX7_a8Lm-Pq2", []string{"rT%2f9%2bkQ%3dzX7"}, "token=••••"},
		{"path-escaped", "/revoke/" + url.PathEscape(secret), []string{"zX7_a8Lm"}, "/revoke/••••"},
		{"JSON with escaped slash", `{"token":"rT\/9+kQ=zX7_a8Lm-Pq2"}`, []string{"zX7_a8Lm"}, `{"token":"••••"}`},
		{"cut by the provider", "token " + secret[:11], []string{secret[:11]}, "token ••••"},
		{"tail only", secret[6:] + " is unknown", []string{secret[6:]}, "•••• is unknown"},
		{"split over two lines", secret[:10] + "\n" + secret[10:], []string{secret[:10], secret[10:]}, "••••\n••••"},
		{"short secret whole", "key " + short + " refused", []string{short}, "key •••• refused"},
		{"no secret", "the refresh token was revoked", nil, "the refresh token was revoked"},
		{"multibyte neighbours", "日" + secret + "é", []string{secret}, "日••••é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact(tt.text, secret, short, "")
			for _, g := range tt.gone {
				if strings.Contains(got, g) {
					t.Errorf("redact(%q) = %q, still holds %q", tt.text, got, g)
				}
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("redact(%q) = %q, want it to hold %q", tt.text, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("redact(%q) = %q, not valid UTF-8", tt.text, got)
			}
		})
	}
}

// providerText cuts on a rune boundary and replaces controls.
func TestProviderText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 10, "abc"},
		{"abcdef", 3, "abc…"},
		{"ab日本", 4, "ab…"}, // 日 is 3 bytes: not split
		{"ab日本", 5, "ab日…"},
		{"a\x1b[2Jb\u202ec", 20, "a [2Jb c"},
	} {
		if got := providerText(tt.in, tt.max); got != tt.want {
			t.Errorf("providerText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
