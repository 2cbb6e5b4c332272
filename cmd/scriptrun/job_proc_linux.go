package main

import "syscall"

// jobProcAttr puts a job process in a process group of its own (so that it
// and anything it starts can be killed together, and a Ctrl-C meant for
// serve does not reach it) and has the kernel kill it if serve dies.
func jobProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
