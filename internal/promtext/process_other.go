//go:build !linux

package promtext

import "syscall"

// Collect writes what getrusage and getrlimit give: CPU time and the
// limit on open files.
func (processCollector) Collect(w *Writer) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
		single(w, "process_cpu_seconds_total", helpCPU, TypeCounter, cpu)
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		single(w, "process_max_fds", helpMaxFDs, TypeGauge, float64(lim.Cur))
	}
}
