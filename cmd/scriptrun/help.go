package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// flagPlaceholders names the value each flag takes in help, where pflag
// would print the Go type ("--auth-url string"). A flag not listed shows
// its own name in capitals.
var flagPlaceholders = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"active": "true|false", "addr": "HOST:PORT", "metrics-addr": "HOST:PORT", "algorithm": "sha256|sha512",
		"allowed-host": "HOST", "auth-param": "KEY=VALUE", "token-param": "KEY=VALUE", "param": "KEY=VALUE",
		"auth-style": "header|body", "auth-url": "URL", "token-url": "URL", "revocation-url": "URL", "base-url": "URL",
		"store": "URL|FILE", "etcd-ca": "FILE", "etcd-cert": "FILE", "etcd-key": "FILE", "to": "URL|FILE",
		"callback-url": "URL", "client-id": "ID", "cron-grace": "DURATION", "timeout": "DURATION", "description": "TEXT",
		"expires": "TIME", "file": "FILE", "format": "yaml|json", "header": "HEADER", "history": "N", "limit": "N",
		"home": "DIR", "instance": "NAME", "tenant": "NAME", "username": "NAME", "max-memory": "SIZE",
		"overlap": "skip|queue|replace", "prefix": "TEXT", "prompt": "PROMPT", "provider": "PROVIDER", "query": "PARAM",
		"rejected-body": "REGEXP", "rejected-body-status": "STATUSES", "rejected-status": "STATUSES",
		"schedule": "SPEC", "scopes": "SCOPES", "script": "FILE.js", "template": "TEMPLATE", "tls-cert": "FILE",
		"tls-key": "FILE", "type": "TYPE", "tz": "ZONE", "grant-type": "GRANT",
		"url": "URL", "events": "EVENT,...", "secret-env": "VAR", "notify-failing-after": "DURATION",
		"console-url": "URL", "revoke": "ID|all", "method": "METHOD",
		"client-secret-env": "VAR", "password-env": "VAR", "key-env": "VAR", "token-env": "VAR", "api-token-env": "VAR", "api-secret-env": "VAR",
		"client-secret": "SECRET", "password": "SECRET", "key": "SECRET", "token": "SECRET", "api-token": "SECRET", "api-secret": "SECRET",
	}
}}

// examples are the Example sections of commands that do not set their own,
// by command path.
var examples = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"scriptrun":                    "  scriptrun demo\n  scriptrun hello.js arg1 arg2\n  scriptrun --home /srv/scriptrun token list",
		"scriptrun admin":              "  printf '%s\\n' \"$PASSWORD\" | scriptrun admin password",
		"scriptrun admin password":     "  scriptrun admin password\n  printf '%s\\n' \"$PASSWORD\" | scriptrun admin password",
		"scriptrun apply":              "  scriptrun apply -f scriptrun.yaml --dry-run\n  scriptrun apply -f scriptrun.yaml --require-secrets\n  scriptrun export | scriptrun --home /srv/other apply -f -",
		"scriptrun cron":               "  scriptrun cron add nightly --schedule \"0 2 * * *\" --script sync.js --tz Europe/Berlin\n  scriptrun cron list",
		"scriptrun cron add":           "  scriptrun cron add nightly --schedule \"0 2 * * *\" --script sync.js --tz Europe/Berlin\n  scriptrun cron add poll --schedule \"*/5 * * * *\" --script poll.js --overlap skip -- --since 5m",
		"scriptrun cron disable":       "  scriptrun cron disable nightly",
		"scriptrun cron enable":        "  scriptrun cron enable nightly",
		"scriptrun cron list":          "  scriptrun cron list",
		"scriptrun cron log":           "  scriptrun cron runs nightly\n  scriptrun cron log 42",
		"scriptrun cron rm":            "  scriptrun cron rm nightly",
		"scriptrun cron run":           "  scriptrun cron run nightly",
		"scriptrun cron runs":          "  scriptrun cron runs nightly --limit 5",
		"scriptrun cron show":          "  scriptrun cron show nightly --source",
		"scriptrun cron update":        "  scriptrun cron update nightly --schedule \"30 2 * * *\"\n  scriptrun cron update nightly --script sync.js",
		"scriptrun demo":               "  scriptrun demo",
		"scriptrun doctor":             "  scriptrun doctor\n  scriptrun doctor --test\n  scriptrun doctor --offline --json",
		"scriptrun export":             "  scriptrun export > scriptrun.yaml\n  scriptrun export --format json",
		"scriptrun provider":           "  scriptrun provider templates\n  scriptrun provider add google --template google --client-id ID --client-secret-env GOOGLE_SECRET",
		"scriptrun provider add":       "  scriptrun provider add google --template google --client-id ID --client-secret-env GOOGLE_SECRET\n  scriptrun provider add acme --client-id ID --client-secret-stdin --auth-url https://id.acme.com/authorize --token-url https://id.acme.com/token --scopes \"openid offline_access\"",
		"scriptrun provider list":      "  scriptrun provider list --json",
		"scriptrun provider rm":        "  scriptrun provider rm acme",
		"scriptrun provider show":      "  scriptrun provider show google",
		"scriptrun provider templates": "  scriptrun provider templates",
		"scriptrun provider update":    "  scriptrun provider update google --client-secret-stdin\n  scriptrun provider update acme --token-url https://id.acme.com/oauth2/token",
		"scriptrun repl":               "  scriptrun repl\n  scriptrun repl --timeout 1m",
		"scriptrun run":                "  scriptrun run sync.js --since 2024-01-01\n  scriptrun run report.js --timeout 30s --max-memory 512MiB",
		"scriptrun serve":              "  scriptrun serve\n  scriptrun serve --addr 0.0.0.0:8443 --callback-url https://scriptrun.example.com/oauth/callback --tls-cert cert.pem --tls-key key.pem",
		"scriptrun token":              "  scriptrun token add mail --provider google --base-url https://gmail.googleapis.com\n  scriptrun token authorize mail",
		"scriptrun token add":          "  scriptrun token add mail --provider google --base-url https://gmail.googleapis.com\n  scriptrun token add gh --type bearer --token-env GH_TOKEN --base-url https://api.github.com",
		"scriptrun token authorize":    "  scriptrun token authorize mail\n  scriptrun token authorize mail --no-browser --callback-url http://127.0.0.1:8080/oauth/callback",
		"scriptrun token list":         "  scriptrun token list --json",
		"scriptrun token refresh":      "  scriptrun token refresh mail",
		"scriptrun token revoke":       "  scriptrun token revoke mail",
		"scriptrun token rm":           "  scriptrun token rm mail",
		"scriptrun token show":         "  scriptrun token show mail",
		"scriptrun token update":       "  scriptrun token update mail --base-url https://gmail.googleapis.com\n  scriptrun token update mail --active false",
	}
}}

// runHelpFlags documents the flags `run` parses itself (it leaves flag
// parsing off so that the script's own arguments pass untouched); they are
// registered for help only.
func runHelpFlags(c *cobra.Command) {
	c.Flags().String("timeout", "5m", "stop the script after this long (a hard deadline)")
	c.Flags().String("max-memory", "2GiB", "cap on the memory the script's data may use; 0 for none")
}

// setUpHelp gives every command an example and its flags real
// placeholders in help.
func setUpHelp(root *cobra.Command) {
	cobra.AddTemplateFunc("flagUsages", flagUsages)
	tmpl := root.UsageTemplate()
	tmpl = strings.ReplaceAll(tmpl, ".LocalFlags.FlagUsages", "flagUsages .LocalFlags")
	tmpl = strings.ReplaceAll(tmpl, ".InheritedFlags.FlagUsages", "flagUsages .InheritedFlags")
	root.SetUsageTemplate(tmpl)
	walkTree(root, func(c *cobra.Command) {
		if c.Example == "" {
			c.Example = examples.Get()[c.CommandPath()]
		}
		if c.CommandPath() == "scriptrun run" && c.Flags().Lookup("timeout") == nil {
			runHelpFlags(c)
		}
	})
}

func walkTree(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkTree(sub, fn)
	}
}

// placeholder is the name help shows for the value of flag f, "" for a
// flag that takes none.
func placeholder(f *pflag.Flag) string {
	if f.Value.Type() == "bool" {
		return ""
	}
	if p, ok := flagPlaceholders.Get()[f.Name]; ok {
		return p
	}
	return strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// flagUsages formats a flag set as pflag does, with placeholders from
// placeholder and the usage text as written (backquotes are not taken as
// placeholder marks).
func flagUsages(fs *pflag.FlagSet) string {
	type line struct{ left, right string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		if p := placeholder(f); p != "" {
			left += " " + p
		}
		right := strings.ReplaceAll(f.Usage, "`", "")
		switch d := f.DefValue; {
		case d == "" || d == "false" || d == "0" || d == "[]" || d == "0s":
		case f.Value.Type() == "string":
			right += fmt.Sprintf(" (default %q)", d)
		default:
			right += fmt.Sprintf(" (default %s)", d)
		}
		lines = append(lines, line{left, right})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s   %s\n", width, l.left, l.right)
	}
	return b.String()
}
