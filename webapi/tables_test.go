package webapi

import (
	"crypto"
	"crypto/elliptic"
	"strings"
	"testing"
)

// The lookups are switches and slices so that the package has no init
// work; each answers as the map it replaced did (the maps are rebuilt here).
func TestTablesAnswerAsTheirMaps(t *testing.T) {
	oldNames := map[string]string{}
	for _, n := range []string{"SHA-1", "SHA-256", "SHA-384", "SHA-512", "HMAC", "RSASSA-PKCS1-v1_5", "RSA-PSS", "ECDSA", "Ed25519"} {
		oldNames[strings.ToUpper(n)] = n
	}
	oldHashes := map[string]crypto.Hash{"SHA-1": crypto.SHA1, "SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}
	oldCurves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()}
	oldLabels := map[string]bool{"unicode-1-1-utf-8": true, "unicode11utf8": true, "unicode20utf8": true,
		"utf-8": true, "utf8": true, "x-unicode20utf8": true}

	names := []string{"", "sha-256", "SHA-256", "Sha-1", "sha-384", "SHA-512", "hmac", "HMAC", "rsassa-pkcs1-v1_5",
		"RSASSA-PKCS1-V1_5", "rsa-pss", "ecdsa", "ed25519", "ED25519", "Ed25519", "ſha-256", "RSASSA-P\u212aCS1-v1_5",
		"P-256", "P-384", "p-256", "P-521", "MD5", "utf-8", "utf8", "UTF-8", "unicode-1-1-utf-8", "x-unicode20utf8", "latin1"}
	for _, name := range names {
		wantCanon, wantOK := oldNames[strings.ToUpper(name)]
		if canon, ok := canonicalAlgorithm(name); canon != wantCanon || ok != wantOK {
			t.Errorf("canonicalAlgorithm(%q) = %q, %v; the map said %q, %v", name, canon, ok, wantCanon, wantOK)
		}
		wantHash, wantOK := oldHashes[name]
		if h, ok := hashOf(name); h != wantHash || ok != wantOK {
			t.Errorf("hashOf(%q) = %v, %v; the map said %v, %v", name, h, ok, wantHash, wantOK)
		}
		if c := curveOf(name); c != oldCurves[name] {
			t.Errorf("curveOf(%q) = %v; the map said %v", name, c, oldCurves[name])
		}
		if got := utf8Label(name); got != oldLabels[name] {
			t.Errorf("utf8Label(%q) = %v; the map said %v", name, got, oldLabels[name])
		}
	}
	for n, c := range oldCurves {
		if got := curveName(c); got != n {
			t.Errorf("curveName(%s curve) = %q", n, got)
		}
	}
	if got := curveName(elliptic.P521()); got != "" {
		t.Errorf("curveName(P-521) = %q, want \"\"", got)
	}
}
