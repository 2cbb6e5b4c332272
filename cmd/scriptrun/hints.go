package main

import (
	"path/filepath"
	"strings"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// hintCommand finds a scriptrun command line in a message: backquoted, after
// "with: ", "e.g. ", a pipe, a colon or an arrow, or at the start of a
// doctor's fix.
var hintCommand = lazy.Regexp{Expr: "(^|`|: |e\\.g\\. |\\| |\\(or run `)scriptrun "}

// hint returns msg with every scriptrun command it suggests repeating the
// home in use (--home or $SCRIPTRUN_HOME) and the store given by --store, so
// a copied hint acts on the same store instead of silently creating
// ~/.scriptrun with a new key.
func (a *app) hint(msg string) string {
	home := a.home
	if home == "" && a.getenv != nil {
		home = a.getenv("SCRIPTRUN_HOME")
	}
	var flags string
	if home != "" {
		if abs, err := filepath.Abs(home); err == nil {
			home = abs
		}
		flags = "--home " + shellQuote(home) + " "
	}
	// A store given by flag (not by $SCRIPTRUN_STORE, which a copied
	// command keeps) is repeated too, with its TLS files.
	if loc, err := checkLocation(a.storeFlags.url, "--store"); a.storeFlags.url != "" && err == nil {
		flags += "--store " + shellQuote(loc) + " "
		for _, g := range [][2]string{{"--etcd-ca", a.storeFlags.etcdCA}, {"--etcd-cert", a.storeFlags.etcdCert}, {"--etcd-key", a.storeFlags.etcdKey}} {
			if g[1] != "" {
				flags += g[0] + " " + shellQuote(g[1]) + " "
			}
		}
	}
	if flags == "" {
		return msg
	}
	return hintCommand.Get().ReplaceAllString(msg, "${1}scriptrun "+flags)
}

// shellQuote quotes s for POSIX shells when it holds anything but plain
// path characters.
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@%=", r))
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
