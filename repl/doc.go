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
// # Keys and pastes
//
// liner reads os.Stdin only, and knows neither bracketed paste nor whether
// the line was empty when Ctrl-C was pressed. So on a terminal os.Stdin is
// replaced by a pipe fed by a filter on the terminal (keys.go), which turns
// the keys liner cannot report into line breaks and records why:
//
//   - Bracketed paste is turned on while the prompt is shown (and off while
//     an evaluation runs and at exit). A paste with line breaks is one input:
//     its lines are shown after continuation prompts and evaluated together,
//     never line by line and never as dot-commands. A paste that does not end
//     with a line break leaves its last line in the editor; Enter evaluates
//     the whole paste. Tabs and control characters are typed into the editor
//     as spaces, but the lines liner did not edit keep them.
//   - Ctrl-C on a line with text drops the line (and any input it
//     continued) and never leaves; Ctrl-C on an empty line arms the exit,
//     and a second one in a row leaves, as in Node.
//   - .editor takes lines until Ctrl-D, even on a line with text, and
//     evaluates them as one input; Ctrl-C drops them.
//
// # Lines that start with a dot
//
// A complete line is evaluated at Enter, as in Node. Then a typed line that
// starts (after its indentation) with a dot and a name, such as
// `  .apiTokenAuth('x')`, continues that input, so that the README's
// example typed or pasted without bracketed paste works line by line. The
// rule (runtime.Session.Continue): the line is applied to the value the
// last input produced, or, when that input ended by declaring or assigning
// one variable (`const res = http.get(u)`), to the variable, which takes
// the result; a value the input awaited is awaited again (`const r = await
// fetch(u)` then `.json()` leaves the body in r). The last input is never
// run again, so a request it sent is
// not sent twice. The last input must have run without error and must not
// end with a semicolon, as in a file; otherwise the line is taken for an
// unknown dot-command. A dot followed by a command's name alone or with an
// argument (`.help`, `.load f.js`) is that command; `.clear()` is not.
// A continuation that throws leaves the last input as it was, to continue
// with a corrected line. .save writes a chain as it was typed.
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
//   - The goroutine reading the terminal cannot be stopped: it ends with
//     the process, so nothing may read standard input after an interactive
//     REPL.
//   - Text pasted into the middle of a line ends up before the rest of
//     that line when the paste has line breaks.
//   - A typed line that starts with a dot and a name continues the last
//     input on its value, not on its text (see below): `x++` then
//     `.toString()` does not increment twice, but a chain whose first part
//     returns a fresh object each time differs from the chain on one line
//     only in what is printed between the lines.
//   - A mistyped command after an input that can be continued (`.hepl`) is
//     looked up on the value and usually prints undefined.
//   - Output that background work prints while the prompt is shown is
//     written over the prompt line; press Enter for a fresh prompt.
package repl
