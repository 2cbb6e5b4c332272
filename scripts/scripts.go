// Package scripts holds the example scripts that ship inside scriptrun: the
// demo's script and examples for real providers.
package scripts

import "embed"

// FS holds every bundled script, by file name.
//
//go:embed *.js
var FS embed.FS
