package store

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteUnits are the suffixes ParseBytes accepts, by factor. Decimal and
// binary prefixes both mean powers of 1024: a memory cap is no place for
// the difference, and people write "512MB" meaning MiB.
var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"tib", 1 << 40}, {"tb", 1 << 40}, {"t", 1 << 40},
	{"gib", 1 << 30}, {"gb", 1 << 30}, {"g", 1 << 30},
	{"mib", 1 << 20}, {"mb", 1 << 20}, {"m", 1 << 20},
	{"kib", 1 << 10}, {"kb", 1 << 10}, {"k", 1 << 10},
	{"b", 1},
}

// ParseBytes reads a size such as 512MiB, 2GiB, 1.5g or 1048576 (bytes).
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	factor := int64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, factor = strings.TrimSpace(num), u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v*float64(factor) >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size: give a number with a unit, e.g. 512MiB or 2GiB", s)
	}
	return int64(v * float64(factor)), nil
}

// FormatBytes writes n in the largest binary unit that keeps it short:
// 2 GiB, 256 MiB, 1.5 GiB, 900 KiB.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		name   string
		factor int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.factor {
			if n%u.factor == 0 {
				return fmt.Sprintf("%d %s", n/u.factor, u.name)
			}
			return strconv.FormatFloat(float64(n)/float64(u.factor), 'f', 1, 64) + " " + u.name
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
