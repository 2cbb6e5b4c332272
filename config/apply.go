package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
)

// Change is one line of a plan: create, update or delete one object.
type Change struct {
	Action string // "create", "update", "delete"
	Kind   string // "provider", "token", "job"
	Name   string
	Fields []string // for updates: what changes
	// Warnings are what the change leaves undone, e.g. a provider created
	// without a client secret.
	Warnings []string
}

func (c Change) String() string {
	s := c.Action + " " + c.Kind + " " + c.Name
	if len(c.Fields) > 0 {
		s += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	for _, w := range c.Warnings {
		s += "; warning: " + w
	}
	return s
}

// Options configure Apply.
type Options struct {
	// Dir resolves relative file references (the configuration file's folder).
	Dir string
	// Getenv resolves {env: VAR} references.
	Getenv func(string) string
	// DryRun computes the plan and changes nothing. It reads no secret: no
	// variable is looked up and no {file: PATH} is opened (a plan lists the
	// references instead), so a dry run cannot tell whether a referenced
	// secret differs from the stored one.
	DryRun bool
	// Protected are files a {file: PATH} reference may not name, however it
	// reaches them (symlink, hard link): the home's master.key and database.
	Protected []string
	// Prune deletes providers, tokens and jobs the file does not name.
	Prune bool
	// RequireSecrets refuses the file when a provider would end up without
	// a client secret (the file refers to none and the home holds none), as
	// happens when a file exported from one home is applied to a new one.
	RequireSecrets bool
	// Check validates a job whole, with its schedule parsed and its script
	// compiled (cron.CheckJob); nil checks the store's rules only
	// (store.Job.Validate). Its field errors are reported by document path.
	Check func(store.Job) error
	// ReadScript reads a job's script file (cron.CaptureScript, which
	// bundles TypeScript and modules); nil means store.ReadJobScript.
	ReadScript func(path string, protected ...string) (src, clean string, err error)
}

// Error is a problem in a configuration file, with the line it is on and
// its path in the document (e.g. providers[2].clientSecret).
type Error struct {
	Line int
	Path string
	Msg  string
}

func (e Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Path, e.Msg)
}

// Errors is every problem found in a file; Apply changes nothing then.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Plan is what Apply carried out or, with DryRun, would carry out.
type Plan struct {
	Changes []Change
	// Secrets lists every secret reference in the file, and stored secrets
	// the changes send somewhere new, in file order.
	Secrets []SecretUse
}

// desired is the file resolved into store records, with where they are.
type desired struct {
	providers []store.Provider
	secrets   map[string]*string // provider -> secret to set (nil entry: keep or, in a dry run, not read)
	secretRef map[string]bool    // provider -> the file refers to its client secret
	tokens    []store.Token
	creds     map[string]store.Secret // token -> credential fields given by reference
	jobs      []store.Job
	uses      []SecretUse
	locs      map[string]loc // "kind/name" -> where it is in the file

	notifiers       []store.Notifier
	notifierSecrets map[string]*string // notifier -> secret read from its reference (nil: none, or a dry run)
}

// loc is where an item is in the file.
type loc struct {
	line int
	path string     // e.g. providers[2]
	node *yaml.Node // the item's mapping
}

// err is a problem with the whole item.
func (l loc) err(format string, args ...any) *Error {
	return &Error{Line: l.line, Path: l.path, Msg: fmt.Sprintf(format, args...)}
}

// fieldErr is a problem with one of the item's fields, on that field's line.
func (l loc) fieldErr(field string, err error) *Error {
	line := l.line
	if k, _ := l.field(field); k != nil {
		line = k.Line
	}
	return &Error{Line: line, Path: l.path + "." + field, Msg: err.Error()}
}

// pathErr is a problem with a field of the item given by its dotted path
// (rejection.statuses), on the line of the deepest part the file has.
func (l loc) pathErr(path string, err error) *Error {
	line, cur := l.line, l
	for _, part := range strings.Split(path, ".") {
		k, v := cur.field(part)
		if k == nil {
			break
		}
		line, cur = k.Line, loc{node: v}
	}
	return &Error{Line: line, Path: l.path + "." + path, Msg: err.Error()}
}

// validationErrors places each problem validation found on its field's
// line and path (providers[0].tokenUrl); an error that holds no field
// errors is the item's.
func validationErrors(err error, at loc) Errors {
	fes := store.AsFieldErrors(err)
	if fes == nil {
		return Errors{*at.err("%v", err)}
	}
	es := make(Errors, len(fes))
	for i, fe := range fes {
		es[i] = *at.pathErr(fe.Field, errors.New(fe.Message))
	}
	return es
}

// field returns the key and value nodes of one of the item's fields, or nils.
func (l loc) field(name string) (key, value *yaml.Node) {
	if l.node == nil {
		return nil, nil
	}
	for i := 0; i+1 < len(l.node.Content); i += 2 {
		if l.node.Content[i].Value == name {
			key, value = l.node.Content[i], l.node.Content[i+1]
		}
	}
	return key, value
}

// Apply makes db match the configuration in data and returns the plan it
// carried out (or, with DryRun, would carry out). The file is checked whole
// first; any problem rejects it with Errors naming the lines and paths, and
// the store is left as it was. The changes are made in one transaction.
func Apply(db *store.DB, data []byte, opts Options) (Plan, error) {
	d, err := parse(data, opts)
	if err != nil {
		return Plan{}, err
	}
	var plan Plan
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
	d := &desired{secrets: map[string]*string{}, secretRef: map[string]bool{}, creds: map[string]store.Secret{}, locs: map[string]loc{}, notifierSecrets: map[string]*string{}}
	if len(root.Content) == 0 {
		return d, nil
	}
	doc := root.Content[0]
	var es Errors
	if doc.Kind != yaml.MappingNode {
		return nil, Errors{{Line: doc.Line, Msg: "the file must be a mapping with providers, tokens and jobs"}}
	}
	problems := typeProblems(data)
	seen := map[string]int{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i], doc.Content[i+1]
		if key.Value != "providers" && key.Value != "tokens" && key.Value != "jobs" && key.Value != "notifiers" {
			es = append(es, Error{key.Line, key.Value, "unknown section: use providers, tokens, jobs and notifiers"})
			continue
		}
		if val.Kind != yaml.SequenceNode && !(val.Kind == yaml.ScalarNode && val.Tag == "!!null") {
			es = append(es, Error{val.Line, key.Value, "must be a list"})
			continue
		}
		for i, item := range val.Content {
			var name string
			at := loc{line: item.Line, path: fmt.Sprintf("%s[%d]", key.Value, i), node: item}
			if ies := itemProblems(problems, at); len(ies) > 0 {
				// Every problem of the item at once, each on its line; its
				// rules are checked once it decodes.
				es = append(es, ies...)
				continue
			}
			switch key.Value {
			case "providers":
				var p Provider
				if err := decode(item, &p); err != nil {
					es = append(es, Error{item.Line, at.path, "provider: " + err.Error()})
					continue
				}
				name = "provider/" + p.Name
				es = append(es, d.addProvider(p, at, opts)...)
			case "tokens":
				var t Token
				if err := decode(item, &t); err != nil {
					es = append(es, Error{item.Line, at.path, "token: " + err.Error()})
					continue
				}
				name = "token/" + t.Name
				es = append(es, d.addToken(t, at, opts)...)
			case "jobs":
				var j Job
				if err := decode(item, &j); err != nil {
					es = append(es, Error{item.Line, at.path, "job: " + err.Error()})
					continue
				}
				name = "job/" + j.Name
				es = append(es, d.addJob(j, at, opts)...)
			case "notifiers":
				var n Notifier
				if err := decode(item, &n); err != nil {
					es = append(es, Error{item.Line, at.path, "notifier: " + err.Error()})
					continue
				}
				name = "notifier/" + n.Name
				es = append(es, d.addNotifier(n, at, opts)...)
			}
			if name != "" {
				if first, dup := seen[name]; dup {
					es = append(es, Error{item.Line, at.path, fmt.Sprintf("%s is defined twice (first on line %d)", strings.Replace(name, "/", " ", 1), first)})
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

// itemProblems are the strict decoding's problems inside the item at at.
func itemProblems(problems []fileProblem, at loc) Errors {
	var es Errors
	for _, p := range problems {
		sub, ok := pathAt(at.node, p.line)
		if !ok {
			continue
		}
		path := at.path
		if sub != "" {
			path += "." + sub
		}
		es = append(es, Error{Line: p.line, Path: path, Msg: p.msg})
	}
	return es
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
		msg = quotedValue.Get().ReplaceAllString(msg, "a value")
		msg = lineRef.Get().ReplaceAllString(msg, "")
		if strings.Contains(msg, "SecretRef") {
			msg += " (secrets are given as {env: VAR} or {file: PATH}, never written in the file)"
		}
		return errors.New(msg)
	}
	return nil
}

var (
	quotedValue = lazy.Regexp{Expr: "`[^`]*`"}
	lineRef     = lazy.Regexp{Expr: `^line \d+: `}
)

func yamlLine(err error) int {
	var n int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &n); e == nil {
		return n
	}
	return 1
}

// addProvider resolves a provider of the file, or returns its problems.
func (d *desired) addProvider(c Provider, at loc, opts Options) Errors {
	p := store.Provider{Name: c.Name, ClientID: c.ClientID, GrantType: c.GrantType, AuthURL: c.AuthorizationURL,
		TokenURL: c.TokenURL, RevocationURL: c.RevocationURL, Scopes: c.Scopes, Description: c.Description,
		AuthStyle: c.AuthStyle, PKCE: c.PKCE == nil || *c.PKCE, AuthParams: c.AuthParams, TokenParams: c.TokenParams,
		Rejection: c.Rejection.store()}
	if p.GrantType == "" {
		p.GrantType = store.GrantAuthorizationCode
	}
	if p.AuthStyle == "" {
		p.AuthStyle = store.AuthStyleHeader
	}
	if err := p.Validate(); err != nil {
		return validationErrors(err, at)
	}
	if c.ClientSecret != nil {
		d.secretRef[p.Name] = true
		ref, err := checkRef(*c.ClientSecret, opts.Dir)
		if err != nil {
			return Errors{*at.fieldErr("clientSecret", err)}
		}
		d.uses = append(d.uses, SecretUse{Path: at.path + ".clientSecret", Kind: "provider", Name: p.Name, Field: "clientSecret",
			From: ref.String(), SentTo: providerDestinations(p), Read: !opts.DryRun})
		if !opts.DryRun {
			secret, err := ref.read(opts)
			if err != nil {
				return Errors{*at.fieldErr("clientSecret", err)}
			}
			d.secrets[p.Name] = &secret
		}
	}
	d.providers = append(d.providers, p)
	d.locs["provider/"+p.Name] = at
	return nil
}

// providerDestinations are where a provider's client authentication goes:
// its token endpoint and, for revocation, its revocation endpoint.
func providerDestinations(p store.Provider) []string {
	to := []string{p.TokenURL}
	if p.RevocationURL != "" {
		to = append(to, p.RevocationURL)
	}
	return to
}

// tokenDestinations are what a token's credential signs requests to: its
// base URL, or any host (none).
func tokenDestinations(t store.Token) []string {
	if t.BaseURL == "" {
		return nil
	}
	return []string{t.BaseURL}
}

// addToken resolves a token of the file, or returns its problems: every
// field that validation refuses at once.
func (d *desired) addToken(c Token, at loc, opts Options) Errors {
	t := store.Token{Name: c.Name, Type: c.Type, Provider: c.Provider, Prompt: c.Prompt,
		Active: c.Active == nil || *c.Active, Scopes: c.Scopes, BaseURL: c.BaseURL, State: store.StateUnauthorized}
	if err := c.settingsTo(&t); err != nil {
		return Errors{*at.err("%v", err)}
	}
	if t.Type == "" {
		t.Type = store.TypeOAuth2
	}
	if err := t.Validate(); err != nil {
		return validationErrors(err, at)
	}
	if c.Expires != "" {
		e, err := time.Parse(time.RFC3339, c.Expires)
		if err != nil || !t.Static() {
			return Errors{*at.fieldErr("expires", fmt.Errorf("token %s: expires %q: give an RFC 3339 time such as 2027-01-01T00:00:00Z, on a static token type", c.Name, c.Expires))}
		}
		t.Expires = e.UTC()
	}
	var cred store.Secret
	refs, err := c.credentialRefs()
	if err != nil {
		return Errors{*at.err("%v", err)}
	}
	for _, r := range refs {
		ref, err := checkRef(r.ref, opts.Dir)
		if err != nil {
			return Errors{*at.fieldErr(r.Key, fmt.Errorf("token %s: %w", c.Name, err))}
		}
		d.uses = append(d.uses, SecretUse{Path: at.path + "." + r.Key, Kind: "token", Name: t.Name, Field: r.Key,
			From: ref.String(), SentTo: tokenDestinations(t), Signs: true, Read: !opts.DryRun})
		if opts.DryRun {
			continue
		}
		v, err := ref.read(opts)
		if err != nil {
			return Errors{*at.fieldErr(r.Key, fmt.Errorf("token %s: %w", c.Name, err))}
		}
		*r.Field(&cred) = v
	}
	if cred.AccessToken != "" {
		cred.TokenType = "Bearer"
	}
	if !cred.IsZero() {
		d.creds[t.Name] = cred
	}
	// Again with the credential read: its own rules (lengths, characters).
	t.Secret = cred
	if err := t.Validate(); err != nil {
		return validationErrors(err, at)
	}
	t.Secret = store.Secret{}
	d.tokens = append(d.tokens, t)
	d.locs["token/"+t.Name] = at
	return nil
}

// addJob resolves a job of the file, or returns its problems: every field
// the store's rules refuse (Options.Check) at once, each on its line and
// document path.
func (d *desired) addJob(c Job, at loc, opts Options) Errors {
	j := store.Job{Name: c.Name, Schedule: c.Schedule, TimeZone: c.TimeZone, Args: c.Args, Timeout: store.DefaultJobTimeout,
		Overlap: store.Overlap(c.Overlap), History: c.History, Enabled: c.Enabled == nil || *c.Enabled}
	if j.TimeZone == "" {
		j.TimeZone = "UTC"
	}
	if j.Overlap == "" {
		j.Overlap = store.OverlapSkip
	}
	var parsed store.FieldErrors // fields that are not even of their type
	collect := func(err error) { parsed = append(parsed, store.AsFieldErrors(err)...) }
	var err error
	if c.Timeout != "" {
		j.Timeout, err = store.ParseJobTimeout(c.Timeout)
		collect(err)
	}
	if c.MaxMemory != "" {
		j.MaxMemory, err = store.ParseJobMaxMemory(c.MaxMemory)
		collect(err)
	}
	scriptField := "source"
	switch {
	case c.Script != "" && c.Source != "":
		return Errors{*at.err("job %s: give script (a file) or source, not both", c.Name)}
	case c.Script != "":
		scriptField = "script"
		path := c.Script
		if !filepath.IsAbs(path) {
			path = filepath.Join(opts.Dir, path)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		read := store.ReadJobScript
		if opts.ReadScript != nil {
			read = opts.ReadScript
		}
		src, clean, err := read(path, opts.Protected...)
		collect(err)
		j.Script, j.ScriptPath, j.ScriptName = src, clean, filepath.Base(clean)
	case c.Source != "":
		j.Script, j.ScriptName = c.Source, c.Name+".js"
	default:
		return Errors{*at.err("job %s: give its script file (script: jobs/sync.js) or its source", c.Name)}
	}
	check := opts.Check
	if check == nil {
		check = store.Job.Validate
	}
	if err := store.JoinJobFieldErrors(parsed, check(j)); err != nil {
		fes := store.AsFieldErrors(err)
		if fes == nil {
			return Errors{*at.err("job %s: %v", c.Name, err)}
		}
		var es Errors
		for _, fe := range fes {
			field := fe.Field
			if field == "script" || field == "scriptName" {
				field = scriptField
			}
			es = append(es, *at.fieldErr(field, errors.New(fe.Message)))
		}
		slices.SortStableFunc(es, func(a, b Error) int { return a.Line - b.Line }) // in the file's order
		return es
	}
	d.jobs = append(d.jobs, j)
	d.locs["job/"+j.Name] = at
	return nil
}

// apply computes the plan and (unless the transaction is read-only) makes
// the changes.
func (d *desired) apply(tx *store.Tx, opts Options) (Plan, error) {
	// Before the changes: the records as they are decide what moves.
	moved, err := d.movedSecrets(tx)
	if err != nil {
		return Plan{}, err
	}
	plan, err := d.changes(tx, opts)
	return Plan{Changes: plan, Secrets: append(slices.Clone(d.uses), moved...)}, err
}

// movedSecrets lists stored secrets that the file, without referring to
// them, sends to a new destination: a client secret (and its tokens'
// refresh tokens) when a provider's token or revocation URL changes, a
// token's credential when its base URL changes.
func (d *desired) movedSecrets(tx *store.Tx) ([]SecretUse, error) {
	var moved []SecretUse
	for _, p := range d.providers {
		cur, err := tx.Provider(p.Name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if slices.Equal(providerDestinations(cur), providerDestinations(p)) {
			continue
		}
		at := d.locs["provider/"+p.Name].path + ".tokenUrl"
		if cur.TokenURL == p.TokenURL {
			at = d.locs["provider/"+p.Name].path + ".revocationUrl"
		}
		if cur.ClientSecret != "" && !d.referenced("provider", p.Name) {
			moved = append(moved, SecretUse{Path: at, Kind: "provider", Name: p.Name, Field: "clientSecret", From: "stored", SentTo: providerDestinations(p)})
		}
		ts, err := tx.Tokens()
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.Provider == p.Name && !t.Static() && t.Secret.RefreshToken != "" && cur.TokenURL != p.TokenURL {
				moved = append(moved, SecretUse{Path: at, Kind: "token", Name: t.Name, Field: "refresh token", From: "stored", SentTo: []string{p.TokenURL}})
			}
		}
	}
	for _, t := range d.tokens {
		cur, err := tx.Token(t.Name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if cur.BaseURL == t.BaseURL || cur.Secret.IsZero() || d.referenced("token", t.Name) {
			continue
		}
		at := d.locs["token/"+t.Name]
		moved = append(moved, SecretUse{Path: at.path + ".baseUrl", Kind: "token", Name: t.Name, Field: "credential", From: "stored", SentTo: tokenDestinations(t), Signs: true})
	}
	return moved, nil
}

// referenced reports whether the file refers to a secret of the record
// (whose use then lists its new destination).
func (d *desired) referenced(kind, name string) bool {
	for _, u := range d.uses {
		if u.Kind == kind && u.Name == name {
			return true
		}
	}
	return false
}

// changes computes and (unless the transaction is read-only) makes the changes.
func (d *desired) changes(tx *store.Tx, opts Options) ([]Change, error) {
	var plan []Change
	write := !opts.DryRun
	fail := func(kind, name string, err error) error {
		at := d.locs[kind+"/"+name]
		return Errors{{Line: at.line, Path: at.path, Msg: err.Error()}}
	}
	names := map[string]bool{}
	if opts.RequireSecrets {
		if es := d.missingSecrets(tx); len(es) > 0 {
			return nil, es
		}
	}
	for _, p := range d.providers {
		names["provider/"+p.Name] = true
		cur, err := tx.Provider(p.Name)
		secret := d.secrets[p.Name]
		switch {
		case errors.Is(err, store.ErrNotFound):
			if secret != nil {
				p.ClientSecret = *secret
			}
			ch := Change{Action: "create", Kind: "provider", Name: p.Name}
			if !d.secretRef[p.Name] {
				ch.Warnings = append(ch.Warnings, noSecretWarning(p.Name))
			}
			plan = append(plan, ch)
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
					copySettings(&cur, t)
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
	notes, err := d.notifierChanges(tx, write, names)
	plan = append(plan, notes...)
	if err != nil {
		return plan, err
	}
	if opts.Prune {
		pruned, err := prune(tx, names, write)
		plan = append(plan, pruned...)
		if err != nil {
			return plan, err
		}
		pruned, err = pruneNotifiers(tx, names, write)
		plan = append(plan, pruned...)
		if err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// noSecretWarning is the plan's word for a provider created without a
// client secret (export never writes one).
func noSecretWarning(name string) string {
	return "no client secret (the file refers to none), so authorizing fails unless it is a public client; add clientSecret: {env: VAR} to the file, or run `scriptrun provider update " + name + " --client-secret-stdin`"
}

// missingSecrets are the providers that would end up without a client
// secret: the file refers to none and the home holds none.
func (d *desired) missingSecrets(tx *store.Tx) Errors {
	var es Errors
	for _, p := range d.providers {
		if d.secretRef[p.Name] {
			continue
		}
		if cur, err := tx.Provider(p.Name); err == nil && cur.ClientSecret != "" {
			continue
		}
		at := d.locs["provider/"+p.Name]
		es = append(es, Error{Line: at.line, Path: at.path, Msg: "provider " + p.Name + " would have no client secret and --require-secrets is set: add clientSecret: {env: VAR} or {file: PATH} to the file"})
	}
	return es
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
	add("rejection", slices.Equal(a.Rejection.Statuses, b.Rejection.Statuses) && a.Rejection.BodyPattern == b.Rejection.BodyPattern &&
		slices.Equal(a.Rejection.BodyStatuses, b.Rejection.BodyStatuses))
	return f
}

// mergeCredential sets the credential fields given in the file, keeping the rest.
func mergeCredential(cur, given store.Secret) store.Secret {
	for _, cr := range store.EnteredCredentials() {
		if v := *cr.Field(&given); v != "" {
			*cr.Field(&cur) = v
		}
	}
	if given.TokenType != "" {
		cur.TokenType = given.TokenType
	}
	return cur
}

func credentialChanged(a, b store.Secret) bool {
	for _, cr := range store.EnteredCredentials() {
		if *cr.Field(&a) != *cr.Field(&b) {
			return true
		}
	}
	return a.TokenType != b.TokenType
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
	f = append(f, settingsDiff(a, b)...)
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
	add("maxMemory", a.MemoryLimit() == b.MemoryLimit())
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
