package cron

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/scriptrun/scriptrun/bindings"
	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/store"
)

// Executor runs one job's script to its end. `scriptrun serve` gives the
// scheduler one that runs each script in a child process, so that a script
// that loops inside a built-in, allocates without bound or crashes takes
// only its own process down; without one (Options.Executor nil) scripts run
// in the scheduler's process, each in a fresh runtime.
//
// Execute runs job's captured script with its arguments, timeout and memory
// cap, writing what it prints (console.log and console.error, interleaved as
// written) to out. It returns nil when the script succeeded; an error
// satisfying errors.Is(err, context.Canceled) when ctx was cancelled (the
// run is recorded as cancelled, with ctx's cause as the reason); otherwise a
// *runtime.TimeoutError, a *RunError, or any error, recorded as failed with
// its text. It must return soon after ctx is cancelled, whatever the script
// is doing, and must be safe for concurrent use.
type Executor interface {
	Execute(ctx context.Context, job store.Job, out io.Writer) error
}

// RunError is how an Executor that runs scripts out of process reports a
// run that did not succeed: the status to record (store.RunFailed or
// store.RunTimedOut) and the error text, with the JavaScript stack when
// there is one.
type RunError struct {
	Status  store.RunStatus
	Message string
}

// Error returns the message.
func (e *RunError) Error() string { return e.Message }

// inProcess runs scripts in this process: each run gets a fresh runtime;
// compiled scripts are shared by SHA-256. It cannot enforce a job's memory
// cap (the heap is the process's), nor stop a built-in that does not return.
type inProcess struct {
	signer bindings.Signer
	client *http.Client

	mu      sync.Mutex
	scripts map[string]*runtime.Script // compiled, by SHA-256
}

var _ Executor = (*inProcess)(nil)

func newInProcess(signer bindings.Signer, client *http.Client) *inProcess {
	return &inProcess{signer: signer, client: client, scripts: map[string]*runtime.Script{}}
}

// Execute compiles (once per source) and runs the job's script.
func (x *inProcess) Execute(ctx context.Context, j store.Job, out io.Writer) error {
	script, err := x.compile(j)
	if err != nil {
		return err
	}
	return script.Run(ctx, runtime.Options{
		Stdout: out, Stderr: out, Args: j.Args, Timeout: j.Timeout,
		Signer: x.signer, Client: x.client,
	})
}

// compile returns the job's script, compiled once per source.
func (x *inProcess) compile(j store.Job) (*runtime.Script, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if sc := x.scripts[j.ScriptSHA256]; sc != nil {
		return sc, nil
	}
	sc, err := runtime.CompileSource(j.ScriptName, j.Script)
	if err != nil {
		return nil, err
	}
	x.scripts[j.ScriptSHA256] = sc
	return sc, nil
}

// keepOnly forgets the compiled scripts whose SHA-256 is not in shas.
func (x *inProcess) keepOnly(shas map[string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for sha := range x.scripts {
		if !shas[sha] {
			delete(x.scripts, sha)
		}
	}
}
