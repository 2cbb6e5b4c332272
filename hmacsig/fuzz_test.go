package hmacsig

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseAuthorization feeds arbitrary Authorization headers to the
// verifier's parser: it must never panic, must refuse with ErrMalformed, and
// whatever it accepts must survive a round trip through Params.Header and
// pass the same checks the signer applies.
func FuzzParseAuthorization(f *testing.F) {
	sig := strings.Repeat("0f", 32)
	f.Add("HMAC-SHA256 token=tok, ts=1767225600, nonce=0123456789abcdef, sig=" + sig)
	f.Add(`HMAC-SHA512 token="a\"b", ts="1", nonce="0123456789abcdef", sig=` + strings.Repeat("0f", 64))
	f.Add("hmac-sha256 ,,, token=a,ts=1,nonce=xxxxxxxxxxxxxxxx,sig=" + sig + ", extra=\"x,y\"")
	f.Add("HMAC-SHA256 token=\"")
	f.Add("HMAC-SHA256 =,=,=")
	f.Add("HMAC-SHA256 ts=99999999999999999999")
	f.Add("Bearer abc")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := ParseAuthorization(header)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseAuthorization(%q) failed with %v, which does not wrap ErrMalformed", header, err)
			}
			return
		}
		again, err := ParseAuthorization(p.Header())
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v, %v", header, p, p.Header(), again, err)
		}
		if CheckToken(p.Token) != nil || checkNonce(p.Nonce) != nil || p.Timestamp < 0 {
			t.Fatalf("accepted parameters the signer would refuse: %+v", p)
		}
		// Verification of whatever parsed must not panic either.
		v := &Verifier{Secret: func(string) (string, bool) { return "k", true }, Now: func() time.Time { return time.Unix(p.Timestamp, 0) }}
		v.VerifyParts("GET", "/", header, nil)
	})
}
