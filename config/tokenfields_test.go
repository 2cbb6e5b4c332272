package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// Every setting and credential of store.TokenTypes has its key in the file:
// a Token field whose yaml and json names are the table's key, a string for
// a setting and a *SecretRef for a credential. A type added to the table
// without its place in the file fails here.
func TestTokenTypeKeysAreFileKeys(t *testing.T) {
	fields := map[string]reflect.StructField{}
	typ := reflect.TypeFor[Token]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		y, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		j, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if y != j {
			t.Errorf("Token.%s: yaml name %q, json name %q: they must agree", f.Name, y, j)
		}
		fields[y] = f
	}
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			if f, ok := fields[st.Key]; !ok || f.Type.Kind() != reflect.String {
				t.Errorf("type %s: setting %q has no string field of that name in config.Token", spec.Type, st.Key)
			}
		}
		for _, c := range spec.Credentials {
			if !c.Entered() {
				continue
			}
			if f, ok := fields[c.Key]; !ok || f.Type != reflect.TypeFor[*SecretRef]() {
				t.Errorf("type %s: credential %q has no *SecretRef field of that name in config.Token", spec.Type, c.Key)
			}
		}
	}
}
