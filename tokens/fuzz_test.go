package tokens

import (
	"encoding/json"
	"testing"
)

// FuzzTokenResponse feeds arbitrary token-endpoint bodies to the parsing the
// manager does on top of x/oauth2: it must never panic, and whatever it keeps
// must be valid JSON.
func FuzzTokenResponse(f *testing.F) {
	f.Add("application/json", `{"access_token":"a","expires_in":"3600","instance_url":"https://x"}`)
	f.Add("application/json", `{"expires_in":1e400}`)
	f.Add("application/json", `{"expires_in":-5}`)
	f.Add("application/x-www-form-urlencoded", "access_token=a&expires_in=60&x=%zz")
	f.Add("text/plain", "a=b;c")
	f.Add("text/html; charset=utf-8", "<html>")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		fields := parseFields(contentType, []byte(body))
		for k, v := range fields {
			if !json.Valid(v) {
				t.Fatalf("field %q kept as invalid JSON %q", k, v)
			}
		}
		expiresIn(fields["expires_in"])
	})
}
