package main

import (
	"os"
	"testing"
)

// TestMain lets this test binary stand in for scriptrun as a job process:
// serve, run in-process by the tests, starts os.Executable() _job.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "_job" {
		os.Exit(Main(os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv))
	}
	os.Exit(m.Run())
}
