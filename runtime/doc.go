// Package runtime runs scriptrun's JavaScript: it compiles a script once
// (Compile, CompileSource) and runs it in a fresh goja runtime with a
// goja_nodejs event loop (Script.Run), or keeps a runtime alive for a REPL
// (NewSession).
//
// Scripts get setTimeout/setInterval/setImmediate and their clear functions,
// Promise and async/await, console, URL and URLSearchParams, args, http and
// fetch (package bindings), the Web APIs of package webapi (atob, btoa,
// TextEncoder, TextDecoder, crypto, DOMException, AbortController,
// AbortSignal, performance, queueMicrotask, structuredClone), and require()
// restricted to "url", "buffer", "console" and .js/.json files inside the
// script's folder. There is no process global, no file system and no
// environment.
//
// TypeScript (.ts, .mts), .mjs files and .js files with import/export or
// top-level await are bundled with esbuild (BundleScript): types stripped,
// not checked; imports confined to the script's folder as require() is,
// enforced by an esbuild plugin that resolves and reads every file itself;
// the result wrapped in an async function (top-level await) with an inline
// source map, so errors name the original files. Plain CommonJS .js files
// are not bundled.
//
// A run ends when the script and everything it started (timers, promises,
// sendAsync, fetch) are done, when it throws an error it does not catch or
// leaves a promise rejection unhandled (*ScriptError), or when it is stopped
// by its timeout or its context (*TimeoutError, or an error that is
// context.Canceled), or by its memory cap (*MemoryError); stopping
// interrupts running JavaScript, even a busy loop, and aborts HTTP requests
// in flight. The context bindings get (bindings.Host.Context) reports the
// timeout as its Deadline, though the watcher, not the context, enforces it:
// so a request's .retry can tell that its next wait would outlast the run.
//
// Limits are enforced from outside the JavaScript goroutine (Script.Run's
// watcher, Session.Eval's caller): a timer for the timeout and samples of
// the Go heap for Options.MaxMemory (every 2 ms near the cap). goja's
// interrupt cannot stop a native call (Array.prototype.fill on 1e8 elements, Array.from,
// join, JSON.stringify of deep nesting, a regexp2 match), so when a stop has
// not taken effect within Options.StopGrace (a memory stop: 100 ms, or as
// soon as the heap keeps growing) the runtime calls Options.Stuck. Nothing in
// this package can end the native call; a process that runs one script
// (scriptrun run, repl, a cron job's child) exits from Stuck.
//
// # Caveats
//
//   - Stack traces name files relative to the script's folder: the script as
//     its base name (hello.js:3:7), required files as lib/util.js.
//   - Files required by a script are compiled once per Script and cached, so
//     edits to them are seen only after compiling the script again.
//   - Bundles are cached (CompileOptions.CacheDir) by the script's path and
//     checked against the SHA-256 of every file they were built from; a
//     TypeScript import used only as a type is dropped, and is then neither
//     read nor confined.
//   - The bundler lowers syntax to ES2017 (goja lacks some later features),
//     so column numbers in lowered code (class fields, object spread) can
//     point near, not at, the original expression.
//   - Recursion deeper than 10000 calls fails the run with "RangeError:
//     Maximum call stack size exceeded"; scripts cannot catch it.
//   - Once a run fails, JavaScript already queued as promise reactions of
//     the current task may still run; no further timers or callbacks do.
//   - The memory cap is measured on the whole process's Go heap, so a
//     process running several scripts at once bounds them together, and a
//     single allocation (goja turning a sparse array dense, 'x'.repeat(n))
//     can pass the cap by its own size before a sample sees it.
//   - SetGoMemoryLimit changes the Go runtime's memory limit for the whole
//     process; only a process that runs one script or REPL should call it.
//   - A Session checks its memory cap while an evaluation runs, not while
//     background work (timers, requests) of earlier input runs between them.
//   - A Session keeps the context of each evaluation alive until Close, so
//     work an evaluation started in the background is not cut short.
//     Cancelling an evaluation (Ctrl-C) also interrupts whatever JavaScript
//     the loop is running at that moment, background work included.
//   - A Session rewrites input so that REPL rules hold (internal/replsrc):
//     top-level let, const and class become accessors on the global object
//     (so later input may declare them again; const still refuses
//     assignment), and input with top-level await runs in an async function
//     whose var and function declarations are hoisted to the global object.
//     Stack traces name inputs REPL1, REPL2, … with positions as typed.
package runtime
