// Package repl is scriptrun's read-eval-print loop: line editing with a
// persistent history, multi-line input, tab completion, printing of values
// and responses, dot-commands, and Ctrl-C that cancels what is running. The
// JavaScript itself runs in a Session (a *runtime.Session: the same runtime,
// bindings and token handling as `scriptrun run`).
//
// On a terminal, Run edits lines with github.com/peterh/liner: it is pure
// Go, has the history search (Ctrl-R, prefix search on Up) and the word
// completer (head, candidates, tail) that property completion in the middle
// of a line needs, restores the terminal on exit, and is the line editor
// other goja hosts use. Without a terminal, Run reads its input line by line
// and prints results without prompts or colour, for automation.
//
// # History
//
// The history file keeps the last HistoryLimit lines, mode 0600. Inputs
// that look like they hold a credential (see Secret) or that start with a
// space are not written to it; they can still be recalled in the session
// they were typed in.
//
// # Printing
//
// Strings are printed quoted with escapes, as Node does. A response's body,
// its header values and errors are the server's or the script's text: they
// are shown through package termtext, so an escape sequence in them is
// printed as text, never acted on. console.log writes what the script
// gives it, as in `scriptrun run`.
//
// # Caveats
//
//   - liner does not say whether the line was empty when Ctrl-C was
//     pressed at the prompt, so any Ctrl-C at the prompt clears the line and
//     arms the exit: a second Ctrl-C in a row leaves (Node needs the line to
//     be empty the first time too).
//   - A line that is complete is evaluated at once, so a builder chain over
//     several lines needs the dot at the end of each line
//     (http.get(u).↵ apiTokenAuth('x').↵ send()) or enclosing parentheses.
//   - Output that background work prints while the prompt is shown is
//     written over the prompt line; press Enter for a fresh prompt.
package repl
