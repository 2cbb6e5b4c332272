package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// tableSample is what the table tests store for a token type: a value for
// each setting (its Example, else its last choice), skipping settings an
// earlier one clears, and a secret for each credential an admin enters.
type tableSample struct {
	settings map[string]string // by key
	secrets  map[string]string // by key
}

func sampleOf(t *testing.T, spec store.TypeSpec) tableSample {
	t.Helper()
	s := tableSample{settings: map[string]string{}, secrets: map[string]string{}}
	cleared := map[string]bool{}
	for _, st := range spec.Settings {
		if cleared[st.Key] {
			continue
		}
		v := st.Example
		if len(st.Choices) > 0 {
			v = st.Choices[len(st.Choices)-1].Value
		}
		if v == "" {
			t.Fatalf("type %s: setting %s has neither an Example nor choices to test it with", spec.Type, st.Key)
		}
		s.settings[st.Key] = v
		for _, k := range st.Clears {
			cleared[k] = true
		}
	}
	for _, c := range spec.Credentials {
		if c.Entered() {
			s.secrets[c.Key] = "s3cret-" + spec.Type + "-" + c.Key + "-0123456789"
		}
	}
	return s
}

// envName is the variable the tests put a credential in.
func envName(spec store.TypeSpec, key string) string {
	return strings.ToUpper(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(spec.Type+"_"+key, "_"))
}

// Every type of store.TokenTypes goes through the command line and the
// configuration file by its table entry alone: token add with its flags,
// token show (text and JSON), token update of each credential, export, and
// apply into another home with its credentials referenced. A type added to
// the table without one of these parts fails here (the console's part is
// web's TestEveryTableTypeInTheConsole).
func TestEveryTableTypeThroughCLIAndExport(t *testing.T) {
	c := newCLI(t)
	c.addProvider()
	other := newCLI(t)
	var secrets []string
	var refs strings.Builder // the credential references apply adds, by token
	refLines := map[string]string{}
	for _, spec := range store.TokenTypes {
		name := "tt-" + spec.Type
		sample := sampleOf(t, spec)
		t.Run(spec.Type, func(t *testing.T) {
			args := []string{"token", "add", name, "--type", spec.Type, "--base-url", "https://api.example.com"}
			if spec.Type == store.TypeOAuth2 {
				args = append(args, "--provider", "graph")
			}
			for _, st := range spec.Settings {
				if v, ok := sample.settings[st.Key]; ok {
					args = append(args, "--"+st.Flag, v)
				}
			}
			refs.Reset()
			for _, cr := range spec.Credentials {
				if !cr.Entered() {
					continue
				}
				v := envName(spec, cr.Key)
				c.env[v], other.env[v] = sample.secrets[cr.Key], sample.secrets[cr.Key]
				secrets = append(secrets, sample.secrets[cr.Key])
				args = append(args, "--"+cr.Flag+"-env", v)
				refs.WriteString("    " + cr.Key + ": {env: " + v + "}\n")
			}
			refLines[name] = refs.String()
			c.must(args...)

			wantShown := func(t *testing.T, cl *cli, secrets map[string]string) {
				t.Helper()
				var got map[string]any
				if err := json.Unmarshal([]byte(cl.must("token", "show", name, "--json")), &got); err != nil {
					t.Fatal(err)
				}
				if got["type"] != spec.Type {
					t.Errorf("show --json: type %v, want %s", got["type"], spec.Type)
				}
				if spec.Type != store.TypeOAuth2 && got["state"] != string(store.StateAuthorized) {
					t.Errorf("show --json: state %v, want authorized: its credential is complete", got["state"])
				}
				for k, v := range sample.settings {
					if got[k] != v {
						t.Errorf("show --json: %s = %v, want %q", k, got[k], v)
					}
				}
				for k, v := range secrets {
					if got[k] != store.Mask(v) {
						t.Errorf("show --json: %s = %v, want the mask %q", k, got[k], store.Mask(v))
					}
				}
				text := cl.must("token", "show", name)
				if !strings.Contains(text, spec.Type+" ("+tokens.DescribeType(spec.Type)+")") {
					t.Errorf("show does not describe the type:\n%s", text)
				}
				for _, st := range spec.Settings {
					if st.Show != "" && !strings.Contains(text, st.Show+":") {
						t.Errorf("show lacks the %s line:\n%s", st.Show, text)
					}
				}
				for k, v := range secrets {
					if !strings.Contains(text, k+":") || !strings.Contains(text, store.Mask(v)) {
						t.Errorf("show lacks %s with its mask:\n%s", k, text)
					}
				}
			}
			wantShown(t, c, sample.secrets)

			// Each credential replaced alone through its own flags.
			for _, cr := range spec.Credentials {
				if !cr.Entered() {
					continue
				}
				v := envName(spec, cr.Key) + "_NEW"
				c.env[v] = "n3w-" + sample.secrets[cr.Key]
				secrets = append(secrets, c.env[v])
				if out := c.must("token", "update", name, "--"+cr.Flag+"-env", v); !strings.Contains(out, "credential replaced") {
					t.Errorf("update --%s-env: %q", cr.Flag, out)
				}
				sample.secrets[cr.Key] = c.env[v]
				other.env[envName(spec, cr.Key)] = c.env[v]
			}
			wantShown(t, c, sample.secrets)
		})
	}
	exported := c.must("export")
	for _, s := range secrets {
		if strings.Contains(exported, s) {
			t.Fatalf("export holds a credential:\n%s", exported)
		}
	}
	// Apply the export, with each credential referenced, to another home.
	var withRefs strings.Builder
	for _, line := range strings.SplitAfter(exported, "\n") {
		withRefs.WriteString(line)
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "- name: "); ok {
			withRefs.WriteString(refLines[name])
		}
	}
	file := filepath.Join(t.TempDir(), "scriptrun.yaml")
	if err := os.WriteFile(file, []byte(withRefs.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	other.env["SECRET"] = c.env["SECRET"]
	other.must("apply", "-f", file)
	if got := other.must("export"); got != exported {
		t.Errorf("export after apply differs:\n%s\n---\n%s", exported, got)
	}
	for _, spec := range store.TokenTypes {
		name := "tt-" + spec.Type
		a, b := c.must("token", "show", name, "--json"), other.must("token", "show", name, "--json")
		var va, vb tokenView
		json.Unmarshal([]byte(a), &va)
		json.Unmarshal([]byte(b), &vb)
		va.Created, va.Updated, vb.Created, vb.Updated = "", "", "", ""
		if va != vb {
			t.Errorf("%s after export and apply:\n%+v\nwant\n%+v", spec.Type, vb, va)
		}
	}
}
