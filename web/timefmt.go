package web

import (
	"fmt"
	"math"
	"time"
)

// relative says how far t is from now as a person would: "in 42 min",
// "3 h 5 min ago", "in 2 days", "just now". The zero time is "never".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch mins := int(math.Round(d.Minutes())); {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%d s", int(d/time.Second))
	case mins < 60:
		s = fmt.Sprintf("%d min", mins)
	case mins < 10*60:
		if mins%60 == 0 {
			s = fmt.Sprintf("%d h", mins/60)
		} else {
			s = fmt.Sprintf("%d h %d min", mins/60, mins%60)
		}
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(math.Round(d.Hours())))
	default:
		s = fmt.Sprintf("%d days", int(math.Round(d.Hours()/24)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
