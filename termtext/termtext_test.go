package termtext

import (
	"encoding/json"
	"testing"
)

func TestLineAndText(t *testing.T) {
	tests := []struct {
		in, line, text string
	}{
		{"plain words, é and 日本", "plain words, é and 日本", "plain words, é and 日本"},
		{"title \x1b]0;evil\x07 set", `title \x1b]0;evil\x07 set`, `title \x1b]0;evil\x07 set`},
		{"\x1b[2J\x1b[H cleared", `\x1b[2J\x1b[H cleared`, `\x1b[2J\x1b[H cleared`},
		{"clip \x1b]52;c;ZXZpbA==\x1b\\", `clip \x1b]52;c;ZXZpbA==\x1b\`, `clip \x1b]52;c;ZXZpbA==\x1b\`},
		{"a\nstate: authorized", `a\nstate: authorized`, "a\nstate: authorized"},
		{"col\tumn", `col\tumn`, "col\tumn"},
		{"windows\r\nline", `windows\r\nline`, "windows\r\nline"},
		{"safe\rEVIL", `safe\rEVIL`, `safe\rEVIL`},
		{"c1 \u009b31m red", `c1 \u009b31m red`, `c1 \u009b31m red`},
		{"abc\u202edcba", `abc\u202edcba`, `abc\u202edcba`},
		{"\u2066isolate\u2069 \u200f", `\u2066isolate\u2069 \u200f`, `\u2066isolate\u2069 \u200f`},
		{"nul\x00 del\x7f", `nul\x00 del\x7f`, `nul\x00 del\x7f`},
		{"bad \xff\x9b byte", `bad \xff\x9b byte`, `bad \xff\x9b byte`},
		{"replacement \ufffd kept", "replacement \ufffd kept", "replacement \ufffd kept"},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.line {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
		}
		if got := Text(tt.in); got != tt.text {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.text)
		}
	}
}

// JSON keeps the strings JSON holds and shows no rune a terminal acts on.
func TestJSON(t *testing.T) {
	in := map[string]string{"d": "a\x1b[2J \u009b1m \u202eevil\u202c del\x7f é"}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got := JSON(string(raw))
	for _, r := range got {
		if Unsafe(r) {
			t.Errorf("JSON(%q) = %q holds %U", raw, got, r)
		}
	}
	var back map[string]string
	if err := json.Unmarshal([]byte(got), &back); err != nil || back["d"] != in["d"] {
		t.Errorf("JSON(%q) = %q decodes to %q (%v), want %q", raw, got, back["d"], err, in["d"])
	}
}
