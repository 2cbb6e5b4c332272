package runtime

import "testing"

func TestShiftColumns(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"AAAA,CAAC", "AAAC,CAAC"},     // original column 0 → 1; later segments are relative
		{";;AAAA;AACA", ";;AAAC;AACA"}, // leading empty lines kept
		{"A", "A"},                     // a segment without a source is left alone
		{"AAAf", "AAAd"},               // -15 → -14
		{"AAA+B", "AAAgC"},             // 31 → 32, which needs a second digit
		{"", ""},
	} {
		if got := shiftColumns(tt.in); got != tt.want {
			t.Errorf("shiftColumns(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, v := range []int{0, 1, -1, 15, 16, -16, 1000, -123456} {
		got, ok := decodeVLQ(encodeVLQ(v))
		if !ok || len(got) != 1 || got[0] != v {
			t.Errorf("VLQ round trip of %d: %v %v", v, got, ok)
		}
	}
}
