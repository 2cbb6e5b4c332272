package etcdkv

import "testing"

// TestKeyText shows keys in error messages as they are when printable and
// escaped otherwise: a run key's binary id must not reach a terminal as
// control characters.
func TestKeyText(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"tokens/crm", "tokens/crm"},
		{"", ""},
		{"cronoutput/nightly\x00\x00\x00\x00\x00\x00\x00\xe6", `"cronoutput/nightly\x00\x00\x00\x00\x00\x00\x00\xe6"`},
		{"runs/\x1b[2Jx", `"runs/\x1b[2Jx"`},
		{"tokens/café", `"tokens/café"`},
	} {
		if got := keyText(tc.key); got != tc.want {
			t.Errorf("keyText(%q) = %s, want %s", tc.key, got, tc.want)
		}
	}
}
