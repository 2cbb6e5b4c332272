// Package termtext makes text that scriptrun did not write safe to print
// on a terminal: provider descriptions, lastMessage, templates, job output,
// script errors and response bodies. A terminal acts on what such text may
// hold: ESC and C1 controls start escape sequences that clear the screen,
// retitle the window, write the clipboard (OSC 52) or hide what follows;
// CR and newlines overwrite or add lines; bidi overrides reorder text
// (Trojan Source). Line and Text show all of these as escapes (\x1b,
// \u202e), so they are read, not obeyed.
//
// # Caveats
//
//   - Backslashes are not escaped: text that holds the characters `\x1b`
//     looks like text that held ESC. The point is that neither acts.
//   - Only the output's own boundary knows whether text is a whole line, a
//     block of lines or JSON: the caller picks Line, Text or JSON.
//   - Text for a file, a pipe that wants bytes (`cron log --raw`, `export`,
//     `cron show --source`) must not go through this package.
package termtext
