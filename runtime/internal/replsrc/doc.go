// Package replsrc turns what a person types at scriptrun's REPL into a
// program goja can run with the semantics of Node's REPL. It only reads and
// rewrites text; the runtime package's Session compiles the result, defines
// the bindings it asks for and maps positions back with Input.Position.
//
// Prepare classifies one input and rewrites it:
//
//   - Top-level let, const and class declarations may be repeated on later
//     lines. They become assignments to bindings that the caller defines on
//     the global object before the input runs (Input.Decls): an accessor that
//     throws a ReferenceError until it is initialised (the temporal dead
//     zone) and, for const, a TypeError on reassignment. The keyword is
//     replaced by text of the same length, so columns do not move.
//   - Input that uses await outside a function is wrapped in an async arrow
//     function (Input.Async): its top-level declarations become the same
//     global bindings, its var declarations (anywhere outside nested
//     functions) are hoisted to the global object (Input.Vars), its
//     top-level function declarations are copied there when the wrapper
//     starts, and the value of a final expression statement is returned.
//   - Input that starts with { and does not end with ; is an object literal
//     if it parses as one, as in Node.
//
// Everything else runs unchanged, so statements keep their completion value.
// Incomplete tells a REPL whether to keep reading lines.
//
// # Caveats
//
//   - The rewriting works on goja's syntax tree and positions; a rewrite that
//     does not parse falls back to the input as typed, which loses only
//     re-declaration. FuzzPrepare checks that this stays rare and harmless.
//   - goja accepts a switch statement without its closing brace at the end
//     of the input; Prepare calls such input incomplete.
//   - Names are checked for duplicates within one input only; whether a name
//     may shadow an existing global is for the caller to decide.
package replsrc
