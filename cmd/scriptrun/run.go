package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/internal/gcfloor"
	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/runtime"
)

const defaultTimeout = 5 * time.Minute

// defaultMaxMemory stops a script whose data grows past it with a clear
// error instead of letting the kernel kill the process.
const defaultMaxMemory = 2 << 30

// scriptLimits are what a script may use: its time and its memory.
type scriptLimits struct {
	timeout   time.Duration // 0 = none
	maxMemory int64         // bytes of Go heap; 0 = none
}

func newRunCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "run FILE.js|FILE.ts [--timeout 5m] [--max-memory 2GiB] [ARGS...]",
		Short: "Run a script (also: scriptrun FILE.js [ARGS...])",
		Long: `Runs FILE.js (or .mjs, .cjs, .ts, .mts). Arguments after the file (and after
the optional --timeout and --max-memory) reach the script as the array args.

TypeScript and ES modules (import/export, import data from './x.json') are
bundled with esbuild: types are stripped, NOT checked (as deno run --no-check;
run tsc --noEmit to check them). Imports, like require(), reach only files in
the script's folder: no parent folders, absolute paths, links out of the
folder or node_modules; "url", "buffer" and "console" come from the runtime.
Top-level await works in every script file. Bundles are cached under the
home's cache/bundles, keyed by the content of every file.

--timeout (default 5m) is a hard deadline: a script busy in a built-in call
that cannot be interrupted (a huge Array.prototype.fill, JSON.stringify of
deep nesting, a backtracking regular expression) is ended at most 1 s later.
--max-memory (default 2GiB; e.g. 512MiB, 1.5GB, a number of bytes, 0 for
none) caps the memory the script's data may use; past it the script stops
with a MemoryError.

Exit codes: 0 success, 1 the script threw or went over its memory limit
(message and stack on stderr), 2 usage or configuration error, 3 to 5 the
store could not be opened (see scriptrun --help), 124 timeout, 130
interrupted (Ctrl-C).`,
		// Flags after FILE belong to the script, so parse them by hand.
		DisableFlagParsing: true,
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		// Flag parsing is off for run, so the global flags (--home,
		// --store, --etcd-*) given before the script arrive here too.
		args, err := a.takeGlobalFlags(args)
		if err != nil {
			return err
		}
		ra, help, err := parseRunArgs(args)
		if help {
			return c.Help()
		}
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return a.runScript(ctx, ra.file, ra.limits, ra.args)
	}
	return c
}

// takeGlobalFlags removes the global flags that take a value (--home DIR,
// --store URL, --etcd-ca FILE, …, also written --flag=value) given before
// the script, and sets them on a.
func (a *app) takeGlobalFlags(args []string) ([]string, error) {
	targets := map[string]*string{"--home": &a.home, "--store": &a.storeFlags.url,
		"--etcd-ca": &a.storeFlags.etcdCA, "--etcd-cert": &a.storeFlags.etcdCert, "--etcd-key": &a.storeFlags.etcdKey}
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, val, hasVal := strings.Cut(arg, "=")
		switch target, ok := targets[name]; {
		case ok && hasVal:
			*target = val
		case ok:
			if i+1 >= len(args) {
				return nil, usageErr("%s needs a value, e.g. %s", arg, globalFlagExample.Get()[arg])
			}
			*target = args[i+1]
			i++
		case !strings.HasPrefix(arg, "-"):
			return append(rest, args[i:]...), nil // the script: what follows is the script's
		case arg == "--timeout" || arg == "--max-memory":
			rest = append(rest, arg)
			if i+1 < len(args) {
				rest = append(rest, args[i+1])
				i++
			}
		default:
			rest = append(rest, arg)
		}
	}
	return rest, nil
}

// globalFlagExample shows a value of each global flag, for messages.
var globalFlagExample = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"--home": "--home ~/.scriptrun", "--store": "--store etcd://10.0.0.1:2379,10.0.0.2:2379/scriptrun/",
		"--etcd-ca": "--etcd-ca ca.pem", "--etcd-cert": "--etcd-cert client.pem", "--etcd-key": "--etcd-key client-key.pem",
	}
}}

// runArgs is what `scriptrun run` was asked to do.
type runArgs struct {
	file   string
	limits scriptLimits
	args   []string // the script's
}

const runUsage = "scriptrun run FILE.js [--timeout 5m] [--max-memory 2GiB] [ARGS...]"

// parseRunArgs reads `[FLAGS] FILE [FLAGS] [ARGS...]`, where FLAGS are
// --timeout D and --max-memory SIZE (also written --flag=value).
func parseRunArgs(args []string) (ra runArgs, help bool, err error) {
	ra.limits = scriptLimits{timeout: defaultTimeout, maxMemory: defaultMaxMemory}
	// takeFlag reads the flag at i, if it is one of run's, and returns the
	// index of its last argument.
	takeFlag := func(i int) (int, bool, error) {
		name, val, hasVal := strings.Cut(args[i], "=")
		if name != "--timeout" && name != "--max-memory" {
			return i, false, nil
		}
		if !hasVal {
			if i+1 >= len(args) {
				if name == "--timeout" {
					return i, true, usageErr("--timeout needs a duration, e.g. --timeout 30s")
				}
				return i, true, usageErr("--max-memory needs a size, e.g. --max-memory 512MiB")
			}
			val, i = args[i+1], i+1
		}
		switch name {
		case "--timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return i, true, usageErr("--timeout %q is not a positive duration: use e.g. 90s, 5m or 1h", val)
			}
			ra.limits.timeout = d
		case "--max-memory":
			n, err := parseMaxMemory(val)
			if err != nil {
				return i, true, err
			}
			ra.limits.maxMemory = n
		}
		return i, true, nil
	}
	i := 0
	for ; i < len(args); i++ {
		if args[i] == "-h" || args[i] == "--help" {
			return runArgs{}, true, nil
		}
		next, ok, err := takeFlag(i)
		if err != nil {
			return runArgs{}, false, err
		}
		if !ok {
			break
		}
		i = next
	}
	if i >= len(args) {
		return runArgs{}, false, usageErr("run needs a script: %s", runUsage)
	}
	ra.file = args[i]
	if strings.HasPrefix(ra.file, "-") {
		return runArgs{}, false, usageErr("unknown flag %q before the script: %s", ra.file, runUsage)
	}
	for i++; i < len(args); i++ {
		next, ok, err := takeFlag(i)
		if err != nil {
			return runArgs{}, false, err
		}
		if !ok {
			break
		}
		i = next
	}
	ra.args = args[i:]
	return ra, false, nil
}

// minMaxMemory is the smallest memory cap accepted: below it the process's
// own data (the runtime, the token store) would trip the cap.
const minMaxMemory = 32 << 20

// parseMaxMemory reads a --max-memory value; 0 means no cap.
func parseMaxMemory(val string) (int64, error) {
	n, err := runtime.ParseMemorySize(val)
	if err != nil {
		return 0, usageErr("--max-memory: %v", err)
	}
	if n != 0 && n < minMaxMemory {
		return 0, usageErr("--max-memory %s is below the minimum of 32MiB: use e.g. 256MiB, 2GiB, or 0 for no limit", val)
	}
	return n, nil
}

// runScript compiles and runs one script with the home's tokens, within
// its limits (runLimited).
func (a *app) runScript(ctx context.Context, file string, limits scriptLimits, args []string) error {
	script, err := runtime.CompileFile(file, runtime.CompileOptions{CacheDir: a.bundleCache()})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return usageErr("script %s does not exist", file)
		}
		var ce *runtime.CompileError
		if errors.As(err, &ce) {
			return &exitError{code: exitScript, err: err}
		}
		return usageErr("%v", err)
	}
	err = a.runLimited(ctx, script, limits, runtime.Options{
		Stdout: a.stdio.Out,
		Stderr: a.stdio.Err,
		Args:   args,
		Signer: lazySigner{a},
		Client: a.scriptClient(),
	})
	if err == nil {
		return nil
	}
	code := stopExitCode(err)
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%s: interrupted", file)
	}
	return &exitError{code: code, err: err}
}

// bundleCache is where bundles of TypeScript and module scripts are kept,
// or "" (no cache) when the home cannot be found.
func (a *app) bundleCache() string {
	home, err := a.homeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, "cache", "bundles")
}

// runLimited runs script with opts in a process that runs only it, within
// limits that hold even against built-ins goja cannot interrupt: it tunes
// the collector for one script (tuneGC) for the run, and when a stop
// (timeout, memory cap, ctx cancelled) does not take effect in time it ends
// the process through opts.Stuck, a.exitStuck unless set. opts.Timeout and
// opts.MaxMemory are taken from limits. It returns what Script.Run returns;
// stopExitCode maps that to an exit code.
func (a *app) runLimited(ctx context.Context, script *runtime.Script, limits scriptLimits, opts runtime.Options) error {
	defer a.tuneGC(limits.maxMemory)()
	opts.Timeout, opts.MaxMemory = limits.timeout, limits.maxMemory
	if opts.Stuck == nil {
		opts.Stuck = a.exitStuck
	}
	return script.Run(ctx, opts)
}

// gcFloor is the heap goal a script's process keeps at least while its
// live heap is small (internal/gcfloor): a script making many small
// requests otherwise collects every few hundred of them, and the collector
// takes about a fifth of its CPU.
const gcFloor = 16 << 20

// tuneGC sets the collector up for a process whose work is one script (run,
// a cron job's child, the REPL): the Go memory limit an eighth below
// maxMemory, and a heap goal of at least gcFloor unless GOGC says how the
// collector should pace. The returned function undoes both.
func (a *app) tuneGC(maxMemory int64) (restore func()) {
	restoreLimit := runtime.SetGoMemoryLimit(maxMemory)
	stopFloor := func() {}
	if a.getenv("GOGC") == "" {
		stopFloor = gcfloor.Start(gcFloor, 100)
	}
	return func() {
		stopFloor()
		restoreLimit()
	}
}
