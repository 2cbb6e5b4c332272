package notify

import (
	"sort"
	"strings"

	"github.com/scriptrun/scriptrun/store"
)

// Problem is a token or job that is failing, as the console's banner shows
// it until it recovers.
type Problem struct {
	Kind string // "token" or "job"
	Name string
	What string // what is wrong, in words
}

// Problems lists the failing tokens and jobs as the last check recorded
// them: tokens that need authorizing again or whose refreshes have failed
// for FailingAfter, jobs whose last counted run failed or was lost. It
// reads only the watch states (no secrets, no runs), so it is cheap enough
// for every page.
func Problems(tx *store.Tx) ([]Problem, error) {
	states, err := tx.WatchStates()
	if err != nil {
		return nil, err
	}
	var out []Problem
	for subject, st := range states {
		kind, name, _ := strings.Cut(subject, ":")
		switch {
		case kind == "token" && st.Condition == condReauth:
			out = append(out, Problem{kind, name, "needs authorizing again"})
		case kind == "token" && st.Condition == condFailing && st.Notified:
			out = append(out, Problem{kind, name, "refreshes failing since " + stamp(st.Since)})
		case kind == "job" && st.Condition == condFailing:
			out = append(out, Problem{kind, name, "last run failed"})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind > out[j].Kind // tokens first
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
