package config

import (
	"encoding/json"
	"fmt"

	"github.com/scriptrun/scriptrun/store"
)

// The settings and credentials of each token type are mapped between a
// Token of the file and a store.Token through store.TokenTypes: each is at
// its table key, which is also its key in the file (Token's yaml and json
// names; TestTokenTypeKeysAreFileKeys checks every one).

// typeKeys returns the file's keys that c sets, with their JSON values.
func (c Token) typeKeys() (map[string]json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("token %s: %w", c.Name, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("token %s: %w", c.Name, err)
	}
	return m, nil
}

// settingsTo copies the settings of every type that c gives onto t
// (store validation refuses those of another type than t's).
func (c Token) settingsTo(t *store.Token) error {
	m, err := c.typeKeys()
	if err != nil {
		return err
	}
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			if raw, ok := m[st.Key]; ok {
				if err := json.Unmarshal(raw, st.Field(t)); err != nil {
					return fmt.Errorf("token %s: %s: %w", c.Name, st.Key, err)
				}
			}
		}
	}
	return nil
}

// credentialRef is a reference in the file to one part of a credential.
type credentialRef struct {
	store.Credential
	ref SecretRef
}

// credentialRefs returns the credential references c gives, in the order
// of store.TokenTypes.
func (c Token) credentialRefs() ([]credentialRef, error) {
	m, err := c.typeKeys()
	if err != nil {
		return nil, err
	}
	var refs []credentialRef
	for _, cr := range store.EnteredCredentials() {
		if raw, ok := m[cr.Key]; ok {
			r := credentialRef{Credential: cr}
			if err := json.Unmarshal(raw, &r.ref); err != nil {
				return nil, fmt.Errorf("token %s: %s: %w", c.Name, cr.Key, err)
			}
			refs = append(refs, r)
		}
	}
	return refs, nil
}

// exportSettings sets the settings of t's type on c.
func exportSettings(c *Token, t store.Token) error {
	m := map[string]string{}
	for _, st := range t.Spec().Settings {
		if v := *st.Field(&t); v != "" {
			m[st.Key] = v
		}
	}
	b, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(b, c)
	}
	if err != nil {
		return fmt.Errorf("token %s: %w", t.Name, err)
	}
	return nil
}

// copySettings copies the settings of every type from src to dst.
func copySettings(dst *store.Token, src store.Token) {
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			*st.Field(dst) = *st.Field(&src)
		}
	}
}

// settingsDiff names the settings that differ between a and b.
func settingsDiff(a, b store.Token) []string {
	var f []string
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			if *st.Field(&a) != *st.Field(&b) {
				f = append(f, st.Key)
			}
		}
	}
	return f
}
