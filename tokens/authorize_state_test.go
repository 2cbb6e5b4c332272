package tokens

import (
	"strings"
	"testing"
	"time"
)

func TestAuthorizationRoundTrip(t *testing.T) {
	a := &Authorization{Token: "api", URL: "https://p.example/auth?x=1", State: "st-123", RedirectURI: "https://c.example/oauth/callback",
		Created: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), verifier: "verifier-abc"}
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Authorization
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got != *a {
		t.Errorf("round trip: got %+v, want %+v", got, *a)
	}
	for _, tt := range []struct{ name, in string }{
		{"not JSON", "verifier-abc{"},
		{"no state", `{"token":"api","verifier":"verifier-abc"}`},
		{"no token", `{"state":"s"}`},
	} {
		err := new(Authorization).UnmarshalBinary([]byte(tt.in))
		if err == nil || strings.Contains(err.Error(), "verifier-abc") {
			t.Errorf("%s: error %v, want a refusal that quotes nothing", tt.name, err)
		}
	}
}
