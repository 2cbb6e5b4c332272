//go:build !linux

package main

import "syscall"

// jobProcAttr puts a job process in a process group of its own. Without
// Linux's parent-death signal, a job process outlives a serve that was
// killed (SIGKILL) until its run ends or its input closes.
func jobProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
