package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/runtime"
)

const defaultTimeout = 5 * time.Minute

// scriptMemoryLimit stops a script whose data grows past it with a clear
// error instead of letting the kernel kill the process.
const scriptMemoryLimit = 2 << 30

func newRunCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "run FILE.js [--timeout 5m] [ARGS...]",
		Short: "Run a script (also: scriptrun FILE.js [ARGS...])",
		Long: `Runs FILE.js. Arguments after the file (and after an optional --timeout)
reach the script as the array args. Exit codes: 0 success, 1 the script threw
(message and stack on stderr), 2 usage or configuration error, 124 timeout.`,
		// Flags after FILE belong to the script, so parse them by hand.
		DisableFlagParsing: true,
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		// Flag parsing is off for run, so the global --home arrives here too.
		args, home, err := takeHome(args)
		if err != nil {
			return err
		}
		if home != "" {
			a.home = home
		}
		file, timeout, scriptArgs, help, err := parseRunArgs(args)
		if help {
			return c.Help()
		}
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return a.runScript(ctx, file, timeout, scriptArgs)
	}
	return c
}

// takeHome removes --home DIR (or --home=DIR) given before the script.
func takeHome(args []string) (rest []string, home string, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--home":
			if i+1 >= len(args) {
				return nil, "", usageErr("--home needs a folder, e.g. --home ~/.scriptrun")
			}
			home = args[i+1]
			return append(append([]string{}, args[:i]...), args[i+2:]...), home, nil
		case strings.HasPrefix(arg, "--home="):
			home = strings.TrimPrefix(arg, "--home=")
			return append(append([]string{}, args[:i]...), args[i+1:]...), home, nil
		case !strings.HasPrefix(arg, "-"):
			return args, "", nil // the script: what follows is the script's
		case arg == "--timeout":
			i++ // skip its value
		}
	}
	return args, "", nil
}

// parseRunArgs reads `[--timeout D] FILE [--timeout D] [ARGS...]`.
func parseRunArgs(args []string) (file string, timeout time.Duration, rest []string, help bool, err error) {
	timeout = defaultTimeout
	takeTimeout := func(i int) (int, bool, error) {
		arg := args[i]
		var val string
		switch {
		case arg == "--timeout":
			if i+1 >= len(args) {
				return i, true, usageErr("--timeout needs a duration, e.g. --timeout 30s")
			}
			val, i = args[i+1], i+1
		case strings.HasPrefix(arg, "--timeout="):
			val = strings.TrimPrefix(arg, "--timeout=")
		default:
			return i, false, nil
		}
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return i, true, usageErr("--timeout %q is not a positive duration: use e.g. 90s, 5m or 1h", val)
		}
		timeout = d
		return i, true, nil
	}
	i := 0
	for ; i < len(args); i++ {
		if args[i] == "-h" || args[i] == "--help" {
			return "", 0, nil, true, nil
		}
		next, ok, err := takeTimeout(i)
		if err != nil {
			return "", 0, nil, false, err
		}
		if !ok {
			break
		}
		i = next
	}
	if i >= len(args) {
		return "", 0, nil, false, usageErr("run needs a script: scriptrun run FILE.js [--timeout 5m] [ARGS...]")
	}
	file = args[i]
	if strings.HasPrefix(file, "-") {
		return "", 0, nil, false, usageErr("unknown flag %q before the script: scriptrun run FILE.js [--timeout 5m] [ARGS...]", file)
	}
	i++
	if i < len(args) {
		next, ok, err := takeTimeout(i)
		if err != nil {
			return "", 0, nil, false, err
		}
		if ok {
			i = next + 1
		}
	}
	return file, timeout, args[i:], false, nil
}

// runScript compiles and runs one script with the home's tokens.
func (a *app) runScript(ctx context.Context, file string, timeout time.Duration, args []string) error {
	script, err := runtime.Compile(file)
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
	err = script.Run(ctx, runtime.Options{
		Stdout:    a.stdio.Out,
		Stderr:    a.stdio.Err,
		Args:      args,
		Timeout:   timeout,
		Signer:    lazySigner{a},
		Client:    scriptClient(),
		MaxMemory: scriptMemoryLimit,
	})
	var te *runtime.TimeoutError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return &exitError{code: exitTimeout, err: err}
	case errors.Is(err, context.Canceled):
		return &exitError{code: exitScript, err: fmt.Errorf("%s: interrupted", file)}
	}
	return &exitError{code: exitScript, err: err}
}
