package store

import (
	"slices"
	"strings"
	"testing"
)

// Each entry of TokenTypes has every part the command line, the console,
// export and validation read from it, and no flag, form field or file key
// is claimed twice.
func TestTokenTypesTableIsComplete(t *testing.T) {
	flags, forms, keys := map[string]string{}, map[string]string{}, map[string]string{}
	claim := func(t *testing.T, seen map[string]string, what, name, typ string) {
		t.Helper()
		if name == "" {
			t.Errorf("type %s: a %s is empty", typ, what)
			return
		}
		if other, ok := seen[name]; ok && other != typ {
			t.Errorf("type %s: %s %q is already type %s's", typ, what, name, other)
		}
		seen[name] = typ
	}
	for _, spec := range TokenTypes {
		t.Run(spec.Type, func(t *testing.T) {
			for what, v := range map[string]string{"Type": spec.Type, "Label": spec.Label, "Description": spec.Description, "Help": spec.Help, "Synopsis": spec.Synopsis} {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s is empty", what)
				}
			}
			if spec.validate == nil {
				t.Error("it has no validation")
			}
			for _, st := range spec.Settings {
				claim(t, keys, "key", st.Key, spec.Type)
				claim(t, flags, "flag", st.Flag, spec.Type)
				if st.Name == "" || st.Usage == "" || st.Field == nil {
					t.Errorf("setting %s lacks its Name, Usage or Field", st.Key)
				}
				if st.Form != "" {
					claim(t, forms, "form field", st.Form, spec.Type)
					if st.Label == "" {
						t.Errorf("setting %s has a form field and no Label", st.Key)
					}
				}
				if st.Example == "" && len(st.Choices) == 0 {
					t.Errorf("setting %s has neither an Example nor choices", st.Key)
				}
				if !strings.Contains(spec.Synopsis, "--"+st.Flag) {
					t.Errorf("the synopsis does not name --%s", st.Flag)
				}
			}
			for _, c := range spec.Credentials {
				if c.Key == "" || c.Name == "" || c.Field == nil {
					t.Errorf("credential %q lacks its Key, Name or Field", c.Key)
				}
				if !c.Entered() {
					continue
				}
				claim(t, keys, "key", c.Key, spec.Type)
				claim(t, flags, "flag", c.Flag, spec.Type)
				claim(t, forms, "form field", c.Form, spec.Type)
				if c.What == "" || c.Label == "" {
					t.Errorf("credential %s lacks its What or Label", c.Key)
				}
				if !strings.Contains(spec.Synopsis, "--"+c.Flag+"-env") {
					t.Errorf("the synopsis does not name --%s-env", c.Flag)
				}
			}
		})
	}
}

// Types is written out (computing it would be init work at every start):
// it must stay the Type of each TokenTypes entry, in order.
func TestTypesFollowTokenTypes(t *testing.T) {
	var want []string
	for _, spec := range TokenTypes {
		want = append(want, spec.Type)
	}
	if !slices.Equal(Types, want) {
		t.Errorf("Types = %q, want the TokenTypes order %q", Types, want)
	}
}
