package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scriptrun/scriptrun/store"
)

// Change is one line of a plan: create, update or delete one object.
type Change struct {
	Action string // "create", "update", "delete"
	Kind   string // "provider", "token", "job"
	Name   string
	Fields []string // for updates: what changes
}

func (c Change) String() string {
	s := c.Action + " " + c.Kind + " " + c.Name
	if len(c.Fields) > 0 {
		s += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	return s
}

// Options configure Apply.
type Options struct {
	// Dir resolves relative file references (the configuration file's folder).
	Dir string
	// Getenv resolves {env: VAR} references.
	Getenv func(string) string
	// DryRun computes the plan and changes nothing.
	DryRun bool
	// Prune deletes providers, tokens and jobs the file does not name.
	Prune bool
	// Check validates a job beyond the store's rules (cron.CheckJob: the
	// schedule parses, the script compiles).
	Check func(store.Job) error
}

// Error is a problem in a configuration file, with the line it is on.
type Error struct {
	Line int
	Msg  string
}

func (e Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Errors is every problem found in a file; Apply changes nothing then.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// desired is the file resolved into store records, with their lines.
type desired struct {
	providers []store.Provider
	secrets   map[string]*string // provider -> secret to set (nil entry: keep)
	tokens    []store.Token
	creds     map[string]store.Secret // token -> credential fields given by reference
	jobs      []store.Job
	lines     map[string]int // "kind/name" -> line
}

// Apply makes db match the configuration in data and returns the plan it
// carried out (or, with DryRun, would carry out). The file is checked whole
// first; any problem rejects it with Errors naming the lines, and the store
// is left as it was. The changes are made in one transaction.
func Apply(db *store.DB, data []byte, opts Options) ([]Change, error) {
	d, err := parse(data, opts)
	if err != nil {
		return nil, err
	}
	var plan []Change
	run := db.Update
	if opts.DryRun {
		run = db.View
	}
	err = run(func(tx *store.Tx) error {
		var err error
		plan, err = d.apply(tx, opts)
		if err == nil && opts.DryRun {
			return nil
		}
		return err
	})
	return plan, err
}

func parse(data []byte, opts Options) (*desired, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{Line: yamlLine(err), Msg: "not valid YAML or JSON: " + err.Error()}}
	}
	d := &desired{secrets: map[string]*string{}, creds: map[string]store.Secret{}, lines: map[string]int{}}
	if len(root.Content) == 0 {
		return d, nil
	}
	doc := root.Content[0]
	var es Errors
	if doc.Kind != yaml.MappingNode {
		return nil, Errors{{Line: doc.Line, Msg: "the file must be a mapping with providers, tokens and jobs"}}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i], doc.Content[i+1]
		if key.Value != "providers" && key.Value != "tokens" && key.Value != "jobs" {
			es = append(es, Error{key.Line, fmt.Sprintf("unknown section %q: use providers, tokens and jobs", key.Value)})
			continue
		}
		if val.Kind != yaml.SequenceNode && !(val.Kind == yaml.ScalarNode && val.Tag == "!!null") {
			es = append(es, Error{val.Line, key.Value + " must be a list"})
			continue
		}
		for _, item := range val.Content {
			var name string
			switch key.Value {
			case "providers":
				var p Provider
				if err := decode(item, &p); err != nil {
					es = append(es, Error{item.Line, "provider: " + err.Error()})
					continue
				}
				name = "provider/" + p.Name
				if e := d.addProvider(p, item.Line, opts); e != nil {
					es = append(es, *e)
				}
			case "tokens":
				var t Token
				if err := decode(item, &t); err != nil {
					es = append(es, Error{item.Line, "token: " + err.Error()})
					continue
				}
				name = "token/" + t.Name
				if e := d.addToken(t, item.Line, opts); e != nil {
					es = append(es, *e)
				}
			case "jobs":
				var j Job
				if err := decode(item, &j); err != nil {
					es = append(es, Error{item.Line, "job: " + err.Error()})
					continue
				}
				name = "job/" + j.Name
				if e := d.addJob(j, item.Line, opts); e != nil {
					es = append(es, *e)
				}
			}
			if name != "" {
				if first, dup := seen[name]; dup {
					es = append(es, Error{item.Line, fmt.Sprintf("%s is defined twice (first on line %d)", strings.Replace(name, "/", " ", 1), first)})
				}
				seen[name] = item.Line
			}
		}
	}
	if len(es) > 0 {
		return nil, es
	}
	return d, nil
}

func decode(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return errors.New("expected a mapping of fields")
	}
	// Re-encode to decode strictly: unknown fields are typos, not silence.
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "yaml: unmarshal errors:\n  ", ""), "yaml: ")
		// The library quotes the offending value; it may be a secret pasted
		// where a reference belongs, so name its type only.
		msg = quotedValue.ReplaceAllString(msg, "a value")
		msg = lineRef.ReplaceAllString(msg, "")
		if strings.Contains(msg, "SecretRef") {
			msg += " (secrets are given as {env: VAR} or {file: PATH}, never written in the file)"
		}
		return errors.New(msg)
	}
	return nil
}

var (
	quotedValue = regexp.MustCompile("`[^`]*`")
	lineRef     = regexp.MustCompile(`^line \d+: `)
)

func yamlLine(err error) int {
	var n int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &n); e == nil {
		return n
	}
	return 1
}

func (d *desired) addProvider(c Provider, line int, opts Options) *Error {
	p := store.Provider{Name: c.Name, ClientID: c.ClientID, GrantType: c.GrantType, AuthURL: c.AuthorizationURL,
		TokenURL: c.TokenURL, RevocationURL: c.RevocationURL, Scopes: c.Scopes, Description: c.Description,
		AuthStyle: c.AuthStyle, PKCE: c.PKCE == nil || *c.PKCE, AuthParams: c.AuthParams, TokenParams: c.TokenParams}
	if p.GrantType == "" {
		p.GrantType = store.GrantAuthorizationCode
	}
	if p.AuthStyle == "" {
		p.AuthStyle = store.AuthStyleHeader
	}
	if err := p.Validate(); err != nil {
		return &Error{line, err.Error()}
	}
	if c.ClientSecret != nil {
		secret, err := resolve(*c.ClientSecret, opts)
		if err != nil {
			return &Error{line, fmt.Sprintf("provider %s: clientSecret: %v", p.Name, err)}
		}
		d.secrets[p.Name] = &secret
	}
	d.providers = append(d.providers, p)
	d.lines["provider/"+p.Name] = line
	return nil
}

func resolve(ref SecretRef, opts Options) (string, error) {
	switch {
	case ref.Env != "" && ref.File != "":
		return "", errors.New("give env or file, not both")
	case ref.Env != "":
		v := ""
		if opts.Getenv != nil {
			v = opts.Getenv(ref.Env)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set", ref.Env)
		}
		return v, nil
	case ref.File != "":
		path := ref.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(opts.Dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", path, errors.Unwrap(err))
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s is empty", path)
		}
		return v, nil
	}
	return "", errors.New("give {env: VAR} or {file: PATH}; secrets are never written in the file itself")
}

func (d *desired) addToken(c Token, line int, opts Options) *Error {
	t := store.Token{Name: c.Name, Type: c.Type, Provider: c.Provider, Prompt: c.Prompt,
		Active: c.Active == nil || *c.Active, Scopes: c.Scopes, BaseURL: c.BaseURL, State: store.StateUnauthorized,
		Username: c.Username, KeyHeader: c.KeyHeader, KeyQuery: c.KeyQuery, KeyPrefix: c.KeyPrefix, HMACAlgorithm: c.HMACAlgorithm}
	if t.Type == "" {
		t.Type = store.TypeOAuth2
	}
	if c.Expires != "" {
		e, err := time.Parse(time.RFC3339, c.Expires)
		if err != nil || !t.Static() {
			return &Error{line, fmt.Sprintf("token %s: expires %q: give an RFC 3339 time such as 2027-01-01T00:00:00Z, on a static token type", c.Name, c.Expires)}
		}
		t.Expires = e.UTC()
	}
	var cred store.Secret
	for _, r := range []struct {
		name string
		ref  *SecretRef
		dst  *string
	}{{"password", c.Password, &cred.Password}, {"apiKey", c.APIKey, &cred.APIKey}, {"token", c.Bearer, &cred.AccessToken},
		{"apiToken", c.APIToken, &cred.APIToken}, {"apiSecret", c.APISecret, &cred.APISecret}} {
		if r.ref == nil {
			continue
		}
		v, err := resolve(*r.ref, opts)
		if err != nil {
			return &Error{line, fmt.Sprintf("token %s: %s: %v", c.Name, r.name, err)}
		}
		*r.dst = v
	}
	if cred.AccessToken != "" {
		cred.TokenType = "Bearer"
	}
	if !cred.IsZero() {
		d.creds[t.Name] = cred
	}
	if err := t.Validate(); err != nil {
		return &Error{line, err.Error()}
	}
	d.tokens = append(d.tokens, t)
	d.lines["token/"+t.Name] = line
	return nil
}

func (d *desired) addJob(c Job, line int, opts Options) *Error {
	j := store.Job{Name: c.Name, Schedule: c.Schedule, TimeZone: c.TimeZone, Args: c.Args,
		Overlap: store.Overlap(c.Overlap), History: c.History, Enabled: c.Enabled == nil || *c.Enabled}
	if j.TimeZone == "" {
		j.TimeZone = "UTC"
	}
	if j.Overlap == "" {
		j.Overlap = store.OverlapSkip
	}
	j.Timeout = store.DefaultJobTimeout
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d <= 0 {
			return &Error{line, fmt.Sprintf("job %s: timeout %q is not a positive duration such as 5m", c.Name, c.Timeout)}
		}
		j.Timeout = d
	}
	switch {
	case c.Script != "" && c.Source != "":
		return &Error{line, fmt.Sprintf("job %s: give script (a file) or source, not both", c.Name)}
	case c.Script != "":
		path := c.Script
		if !filepath.IsAbs(path) {
			path = filepath.Join(opts.Dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return &Error{line, fmt.Sprintf("job %s: script %s: %v", c.Name, path, errors.Unwrap(err))}
		}
		abs, _ := filepath.Abs(path)
		j.Script, j.ScriptPath, j.ScriptName = string(b), abs, filepath.Base(abs)
	case c.Source != "":
		j.Script, j.ScriptName = c.Source, c.Name+".js"
	default:
		return &Error{line, fmt.Sprintf("job %s: give its script file (script: jobs/sync.js) or its source", c.Name)}
	}
	check := j.Validate
	if opts.Check != nil {
		check = func() error { return opts.Check(j) }
	}
	if err := check(); err != nil {
		return &Error{line, fmt.Sprintf("job %s: %v", c.Name, err)}
	}
	d.jobs = append(d.jobs, j)
	d.lines["job/"+j.Name] = line
	return nil
}

// apply computes and (unless the transaction is read-only) makes the changes.
func (d *desired) apply(tx *store.Tx, opts Options) ([]Change, error) {
	var plan []Change
	write := !opts.DryRun
	fail := func(kind, name string, err error) error {
		return Errors{{Line: d.lines[kind+"/"+name], Msg: err.Error()}}
	}
	names := map[string]bool{}
	for _, p := range d.providers {
		names["provider/"+p.Name] = true
		cur, err := tx.Provider(p.Name)
		secret := d.secrets[p.Name]
		switch {
		case errors.Is(err, store.ErrNotFound):
			if secret != nil {
				p.ClientSecret = *secret
			}
			plan = append(plan, Change{Action: "create", Kind: "provider", Name: p.Name})
			if write {
				if err := tx.CreateProvider(p); err != nil {
					return plan, fail("provider", p.Name, err)
				}
			}
		case err != nil:
			return plan, err
		default:
			p.ClientSecret = cur.ClientSecret
			if secret != nil {
				p.ClientSecret = *secret
			}
			if fields := providerDiff(cur, p); len(fields) > 0 {
				plan = append(plan, Change{Action: "update", Kind: "provider", Name: p.Name, Fields: fields})
				if write {
					p.Created = cur.Created
					if err := tx.PutProvider(p); err != nil {
						return plan, fail("provider", p.Name, err)
					}
				}
			}
		}
	}
	for _, t := range d.tokens {
		names["token/"+t.Name] = true
		cred, hasCred := d.creds[t.Name]
		if !t.Static() && !names["provider/"+t.Provider] {
			if _, err := tx.Provider(t.Provider); err != nil || opts.Prune {
				return plan, fail("token", t.Name, fmt.Errorf("token %s: provider %q is neither in the file nor (without --prune) in the home", t.Name, t.Provider))
			}
		}
		cur, err := tx.Token(t.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			plan = append(plan, Change{Action: "create", Kind: "token", Name: t.Name})
			if hasCred {
				t.Secret = cred
			}
			if write {
				if err := tx.CreateToken(t); err != nil {
					return plan, fail("token", t.Name, err)
				}
			}
		case err != nil:
			return plan, err
		default:
			fields := tokenDiff(cur, t)
			next := cur.Secret
			if hasCred {
				next = mergeCredential(cur.Secret, cred)
				if credentialChanged(cur.Secret, next) {
					fields = append(fields, "credential")
				}
			}
			if len(fields) > 0 {
				plan = append(plan, Change{Action: "update", Kind: "token", Name: t.Name, Fields: fields})
				if write {
					// The definition changes; an OAuth credential and its state stay.
					cur.Type, cur.Provider, cur.Prompt, cur.Active, cur.Scopes, cur.BaseURL = t.Type, t.Provider, t.Prompt, t.Active, t.Scopes, t.BaseURL
					cur.Username, cur.KeyHeader, cur.KeyQuery, cur.KeyPrefix, cur.HMACAlgorithm = t.Username, t.KeyHeader, t.KeyQuery, t.KeyPrefix, t.HMACAlgorithm
					if t.Static() {
						cur.Expires = t.Expires
					}
					cur.Secret = next
					if err := tx.PutToken(cur); err != nil {
						return plan, fail("token", t.Name, err)
					}
				}
			}
		}
	}
	for _, j := range d.jobs {
		names["job/"+j.Name] = true
		cur, err := tx.Job(j.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			plan = append(plan, Change{Action: "create", Kind: "job", Name: j.Name})
			if write {
				if err := tx.CreateJob(j); err != nil {
					return plan, fail("job", j.Name, err)
				}
			}
		case err != nil:
			return plan, err
		default:
			if fields := jobDiff(cur, j); len(fields) > 0 {
				plan = append(plan, Change{Action: "update", Kind: "job", Name: j.Name, Fields: fields})
				if write {
					if err := tx.PutJob(j); err != nil {
						return plan, fail("job", j.Name, err)
					}
				}
			}
		}
	}
	if opts.Prune {
		pruned, err := prune(tx, names, write)
		plan = append(plan, pruned...)
		if err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// prune deletes what the file does not name: jobs and tokens before the
// providers they may use.
func prune(tx *store.Tx, keep map[string]bool, write bool) ([]Change, error) {
	var plan []Change
	js, err := tx.Jobs()
	if err != nil {
		return nil, err
	}
	for _, j := range js {
		if !keep["job/"+j.Name] {
			plan = append(plan, Change{Action: "delete", Kind: "job", Name: j.Name})
			if write {
				if err := tx.DeleteJob(j.Name); err != nil {
					return plan, err
				}
			}
		}
	}
	ts, err := tx.Tokens()
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if !keep["token/"+t.Name] {
			plan = append(plan, Change{Action: "delete", Kind: "token", Name: t.Name})
			if write {
				if err := tx.DeleteToken(t.Name); err != nil {
					return plan, err
				}
			}
		}
	}
	ps, err := tx.Providers()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if !keep["provider/"+p.Name] {
			plan = append(plan, Change{Action: "delete", Kind: "provider", Name: p.Name})
			if write {
				if err := tx.DeleteProvider(p.Name, true); err != nil {
					return plan, err
				}
			}
		}
	}
	return plan, nil
}

func providerDiff(a, b store.Provider) []string {
	var f []string
	add := func(name string, same bool) {
		if !same {
			f = append(f, name)
		}
	}
	add("clientId", a.ClientID == b.ClientID)
	add("clientSecret", a.ClientSecret == b.ClientSecret)
	add("grantType", a.GrantType == b.GrantType)
	add("authorizationUrl", a.AuthURL == b.AuthURL)
	add("tokenUrl", a.TokenURL == b.TokenURL)
	add("revocationUrl", a.RevocationURL == b.RevocationURL)
	add("scopes", slices.Equal(a.Scopes, b.Scopes))
	add("description", a.Description == b.Description)
	add("authStyle", a.AuthStyle == b.AuthStyle)
	add("pkce", a.PKCE == b.PKCE)
	add("authParams", mapsEqual(a.AuthParams, b.AuthParams))
	add("tokenParams", mapsEqual(a.TokenParams, b.TokenParams))
	return f
}

// mergeCredential sets the credential fields given in the file, keeping the rest.
func mergeCredential(cur, given store.Secret) store.Secret {
	for _, f := range []struct{ dst, src *string }{{&cur.Password, &given.Password}, {&cur.APIKey, &given.APIKey},
		{&cur.AccessToken, &given.AccessToken}, {&cur.APIToken, &given.APIToken}, {&cur.APISecret, &given.APISecret}, {&cur.TokenType, &given.TokenType}} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	return cur
}

func credentialChanged(a, b store.Secret) bool {
	return a.Password != b.Password || a.APIKey != b.APIKey || a.AccessToken != b.AccessToken ||
		a.APIToken != b.APIToken || a.APISecret != b.APISecret || a.TokenType != b.TokenType
}

func tokenDiff(a, b store.Token) []string {
	var f []string
	add := func(name string, same bool) {
		if !same {
			f = append(f, name)
		}
	}
	add("type", a.Type == b.Type)
	add("provider", a.Provider == b.Provider)
	add("prompt", a.Prompt == b.Prompt)
	add("active", a.Active == b.Active)
	add("scopes", slices.Equal(a.Scopes, b.Scopes))
	add("baseUrl", a.BaseURL == b.BaseURL)
	add("username", a.Username == b.Username)
	add("keyHeader", a.KeyHeader == b.KeyHeader)
	add("keyQuery", a.KeyQuery == b.KeyQuery)
	add("keyPrefix", a.KeyPrefix == b.KeyPrefix)
	add("hmacAlgorithm", a.HMACAlgorithm == b.HMACAlgorithm)
	if b.Static() {
		add("expires", a.Expires.Equal(b.Expires))
	}
	return f
}

func jobDiff(a, b store.Job) []string {
	var f []string
	add := func(name string, same bool) {
		if !same {
			f = append(f, name)
		}
	}
	add("schedule", a.Schedule == b.Schedule)
	add("timeZone", a.TimeZone == b.TimeZone)
	add("script", store.ScriptDigest(a.Script) == store.ScriptDigest(b.Script) && a.ScriptPath == b.ScriptPath)
	add("args", slices.Equal(a.Args, b.Args))
	add("timeout", a.Timeout == b.Timeout)
	add("overlap", a.Overlap == b.Overlap)
	add("history", a.History == b.History)
	add("enabled", a.Enabled == b.Enabled)
	return f
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
