// Package templates holds provider templates: the URLs, scopes, client
// authentication style and extra parameters of well-known OAuth providers,
// so that registering one takes a client id and a secret. Templates are
// data (providers.json, embedded); users add their own as JSON files in the
// home's templates/ folder.
package templates

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
)

//go:embed providers.json
var builtin []byte

// Template describes one provider.
type Template struct {
	Name             string            `json:"name"`
	Title            string            `json:"title"`
	Quirk            string            `json:"quirk"` // one line: what is special about this provider, and how the template handles it
	Params           map[string]Param  `json:"params,omitempty"`
	GrantType        string            `json:"grantType,omitempty"` // default authorization_code
	AuthorizationURL string            `json:"authorizationUrl"`
	TokenURL         string            `json:"tokenUrl"`
	RevocationURL    string            `json:"revocationUrl,omitempty"`
	Scopes           []string          `json:"scopes,omitempty"`
	AuthStyle        string            `json:"authStyle"`
	PKCE             bool              `json:"pkce"`
	AuthParams       map[string]string `json:"authParams,omitempty"`
	TokenParams      map[string]string `json:"tokenParams,omitempty"`
	BaseURL          string            `json:"baseUrl,omitempty"`  // the API tokens of this provider are usually for
	Rejection        store.Rejection   `json:"rejection,omitzero"` // how its API refuses an access token, when not with a 401 alone
	Source           string            `json:"-"`                  // "built in" or the file it came from
}

// Param is a value filled into a template's URLs, such as a tenant.
type Param struct {
	Default string `json:"default,omitempty"`
	Pattern string `json:"pattern"` // a value must match it whole
	Help    string `json:"help"`
	// Example is a value that matches Pattern, used to check the template
	// when there is no Default and neither "acme" nor "acme.example.com"
	// would do (a Marketo Munchkin id: 123-ABC-456).
	Example string `json:"example,omitempty"`
}

// Set is a list of templates by name.
type Set struct{ list []Template }

// Load returns the built-in templates plus the *.json files in dir (each a
// template or a list of them; a user template replaces a built-in one of the
// same name). A missing dir is fine; a broken file is an error naming it.
func Load(dir string) (*Set, error) {
	byName := map[string]Template{}
	add := func(source string, data []byte) error {
		var list []Template
		data = bytes.TrimSpace(data)
		if len(data) > 0 && data[0] == '{' {
			var one Template
			if err := strictUnmarshal(data, &one); err != nil {
				return fmt.Errorf("template file %s: %w", source, err)
			}
			list = []Template{one}
		} else if err := strictUnmarshal(data, &list); err != nil {
			return fmt.Errorf("template file %s: %w", source, err)
		}
		for _, t := range list {
			t.Source = source
			if err := t.Validate(); err != nil {
				return fmt.Errorf("template file %s: %w", source, err)
			}
			byName[t.Name] = t
		}
		return nil
	}
	if err := add("built in", builtin); err != nil {
		return nil, err
	}
	if dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("template file %s: %w", f, err)
			}
			if err := add(f, data); err != nil {
				return nil, err
			}
		}
	}
	s := &Set{}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		s.list = append(s.list, byName[name])
	}
	return s, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// All returns the templates ordered by name.
func (s *Set) All() []Template { return s.list }

// Find returns the named template.
func (s *Set) Find(name string) (Template, error) {
	for _, t := range s.list {
		if t.Name == name {
			return t, nil
		}
	}
	names := make([]string, len(s.list))
	for i, t := range s.list {
		names[i] = t.Name
	}
	return Template{}, fmt.Errorf("no provider template %q: choose one of %s (see `scriptrun provider templates`)", name, strings.Join(names, ", "))
}

var placeholder = lazy.Regexp{Expr: `\{([a-z_]+)\}`}

// Validate checks a template: a name, a one-line quirk, every placeholder
// declared as a parameter with a pattern, and (filled with example values)
// URLs and fields a provider accepts.
func (t Template) Validate() error {
	if err := store.ValidateName("template", t.Name); err != nil {
		return err
	}
	if strings.TrimSpace(t.Title) == "" || strings.TrimSpace(t.Quirk) == "" || strings.Contains(t.Quirk, "\n") {
		return fmt.Errorf("template %q needs a title and a one-line quirk", t.Name)
	}
	for name, p := range t.Params {
		if _, err := regexp.Compile(p.Pattern); err != nil || p.Pattern == "" {
			return fmt.Errorf("template %q: parameter %q needs a valid pattern", t.Name, name)
		}
		if p.Default != "" && !matchWhole(p.Pattern, p.Default) {
			return fmt.Errorf("template %q: parameter %q: default %q does not match its own pattern", t.Name, name, p.Default)
		}
		if p.Example != "" && !matchWhole(p.Pattern, p.Example) {
			return fmt.Errorf("template %q: parameter %q: example %q does not match its own pattern", t.Name, name, p.Example)
		}
	}
	for _, u := range []string{t.AuthorizationURL, t.TokenURL, t.RevocationURL, t.BaseURL} {
		for _, m := range placeholder.Get().FindAllStringSubmatch(u, -1) {
			if _, ok := t.Params[m[1]]; !ok {
				return fmt.Errorf("template %q: %s uses {%s}, which is not a declared parameter", t.Name, u, m[1])
			}
		}
	}
	_, err := t.Provider("example", t.exampleParams())
	return err
}

// exampleParams fills every parameter with its default, or a value that
// matches its pattern, for validation.
func (t Template) exampleParams() map[string]string {
	out := map[string]string{}
	for name, p := range t.Params {
		switch {
		case p.Default != "":
			out[name] = p.Default
		case p.Example != "":
			out[name] = p.Example
		case matchWhole(p.Pattern, "acme"):
			out[name] = "acme"
		default:
			out[name] = "acme.example.com"
		}
	}
	return out
}

func matchWhole(pattern, s string) bool {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	return err == nil && re.MatchString(s)
}

// Provider builds a provider named name from the template and parameter
// values (missing ones take their defaults). The client id and secret are
// the caller's to add. Every value is checked against its pattern before it
// is put into a URL.
func (t Template) Provider(name string, params map[string]string) (store.Provider, error) {
	values := map[string]string{}
	for k, v := range params {
		p, ok := t.Params[k]
		if !ok {
			return store.Provider{}, fmt.Errorf("template %q has no parameter %q%s", t.Name, k, t.paramList())
		}
		if !matchWhole(p.Pattern, v) {
			return store.Provider{}, fmt.Errorf("template %q: %s %q is not valid: give %s", t.Name, k, v, p.Help)
		}
		values[k] = v
	}
	for k, p := range t.Params {
		if _, ok := values[k]; !ok {
			if p.Default == "" {
				return store.Provider{}, fmt.Errorf("template %q needs --param %s=VALUE (%s)", t.Name, k, p.Help)
			}
			values[k] = p.Default
		}
	}
	fill := func(s string) string {
		return placeholder.Get().ReplaceAllStringFunc(s, func(m string) string { return values[m[1:len(m)-1]] })
	}
	grant := t.GrantType
	if grant == "" {
		grant = store.GrantAuthorizationCode
	}
	p := store.Provider{
		Name: name, ClientID: "template-check", GrantType: grant,
		AuthURL: fill(t.AuthorizationURL), TokenURL: fill(t.TokenURL), RevocationURL: fill(t.RevocationURL),
		Scopes: slices.Clone(t.Scopes), Description: t.Title + ". " + t.Quirk, AuthStyle: t.AuthStyle, PKCE: t.PKCE,
		AuthParams: maps.Clone(t.AuthParams), TokenParams: maps.Clone(t.TokenParams),
		Rejection: store.Rejection{Statuses: slices.Clone(t.Rejection.Statuses), BodyPattern: t.Rejection.BodyPattern,
			BodyStatuses: slices.Clone(t.Rejection.BodyStatuses)},
	}
	if err := p.Validate(); err != nil {
		return store.Provider{}, fmt.Errorf("template %q: %w", t.Name, err)
	}
	p.ClientID = ""
	return p, nil
}

// TokenBaseURL is the base URL suggested for tokens of this provider, with
// parameters filled in ("" when the API host varies, as for Salesforce).
func (t Template) TokenBaseURL(params map[string]string) string {
	values := t.exampleParams()
	maps.Copy(values, params)
	return placeholder.Get().ReplaceAllStringFunc(t.BaseURL, func(m string) string { return values[m[1:len(m)-1]] })
}

func (t Template) paramList() string {
	if len(t.Params) == 0 {
		return " (it takes none)"
	}
	return " (it takes " + strings.Join(slices.Sorted(maps.Keys(t.Params)), ", ") + ")"
}
