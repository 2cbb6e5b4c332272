package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scriptrun/scriptrun/store"
)

// Read collects the configuration of a store: providers (without secrets),
// token definitions and cron jobs. A job whose script file still holds the
// captured source refers to the file; otherwise the source is inline.
func Read(db *store.DB) (File, error) {
	var f File
	err := db.View(func(tx *store.Tx) error {
		ps, err := tx.Providers()
		if err != nil {
			return err
		}
		for _, p := range ps {
			f.Providers = append(f.Providers, Provider{
				Name: p.Name, ClientID: p.ClientID, GrantType: p.GrantType,
				AuthorizationURL: p.AuthURL, TokenURL: p.TokenURL, RevocationURL: p.RevocationURL,
				Scopes: p.Scopes, Description: p.Description, AuthStyle: p.AuthStyle, PKCE: ptr(p.PKCE),
				AuthParams: p.AuthParams, TokenParams: p.TokenParams, Rejection: rejectionOf(p.Rejection),
			})
		}
		ts, err := tx.Tokens()
		if err != nil {
			return err
		}
		for _, t := range ts {
			ct := Token{Name: t.Name, Type: t.Type, Provider: t.Provider, Prompt: t.Prompt,
				Active: ptr(t.Active), Scopes: t.Scopes, BaseURL: t.BaseURL}
			if err := exportSettings(&ct, t); err != nil {
				return err
			}
			if t.Static() && !t.Expires.IsZero() {
				ct.Expires = t.Expires.UTC().Format(time.RFC3339)
			}
			f.Tokens = append(f.Tokens, ct)
		}
		js, err := tx.Jobs()
		if err != nil {
			return err
		}
		for _, j := range js {
			cj := Job{Name: j.Name, Schedule: j.Schedule, TimeZone: j.TimeZone, Args: j.Args,
				Timeout: durationText(j.Timeout), MaxMemory: memoryText(j.MaxMemory), Overlap: string(j.Overlap), History: j.History, Enabled: ptr(j.Enabled)}
			if b, err := os.ReadFile(j.ScriptPath); j.ScriptPath != "" && err == nil && store.ScriptDigest(string(b)) == j.ScriptSHA256 {
				cj.Script = j.ScriptPath
			} else {
				cj.Source = j.Script
			}
			f.Jobs = append(f.Jobs, cj)
		}
		f.Notifiers, err = readNotifiers(tx)
		return err
	})
	return f, err
}

// Write encodes f as "yaml" or "json".
func Write(w io.Writer, f File, format string) error {
	switch strings.ToLower(format) {
	case "", "yaml", "yml":
		fmt.Fprintln(w, "# scriptrun configuration: `scriptrun apply -f FILE` makes a home match it.")
		fmt.Fprintln(w, "# Secrets are never exported. To set one on apply, add e.g.")
		fmt.Fprintln(w, "#   clientSecret: {env: GRAPH_CLIENT_SECRET}    or    clientSecret: {file: secrets/graph}")
		fmt.Fprintln(w, "# and, on static tokens, password / apiKey / token / apiToken / apiSecret the same way.")
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(f); err != nil {
			return err
		}
		return enc.Close()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	return fmt.Errorf("format %q is not supported: use yaml or json", format)
}

// memoryText is a job's memory cap as a configuration gives it, exactly
// ("" for the default).
func memoryText(n int64) string {
	switch {
	case n == 0:
		return ""
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10)
}
