package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/cron"
)

// A job's problems are reported all at once, each on the line and document
// path of its field, in the words of the store's rules (cron.CheckJob).
func TestApplyReportsEveryJobProblem(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sync.js"), []byte("let = ;"), 0o600)
	tests := []struct {
		name, job string
		want      []string // path: message part, in order
	}{
		{"three fields", "    schedule: \"* * * *\"\n    timeZone: Berlin\n    timeout: soon\n    source: console.log(1)\n",
			[]string{`line 3, jobs[0].schedule: "* * * *" is not valid: it has 4 fields`, `line 4, jobs[0].timeZone: "Berlin" is unknown`, `line 5, jobs[0].timeout: "soon" is not valid`}},
		{"script file and more", "    schedule: \"@hourly\"\n    script: sync.js\n    overlap: often\n    history: -1\n",
			[]string{"line 4, jobs[0].script: does not compile: sync.js:1:7", `line 5, jobs[0].overlap: "often" is not valid`, "line 6, jobs[0].history: -1 is not valid"}},
		{"source", "    schedule: \"@hourly\"\n    source: \"let = ;\"\n    maxMemory: lots\n",
			[]string{"line 4, jobs[0].source: does not compile", `line 5, jobs[0].maxMemory: "lots" is not a size`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "jobs:\n  - name: j\n" + tt.job
			_, err := Apply(newDB(t), []byte(data), Options{Dir: dir, Check: cron.CheckJob})
			var es Errors
			if !errors.As(err, &es) || len(es) != len(tt.want) {
				t.Fatalf("Apply: %v; want %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(es[i].Error(), w) {
					t.Errorf("error %d = %q, want it to start %q", i, es[i].Error(), w)
				}
			}
		})
	}
}
