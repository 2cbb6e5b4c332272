package promtext

// processCollector writes the process's own metrics (process_*).
type processCollector struct{}

// ProcessCollector returns a collector of this process's metrics, with
// the names and help texts of client_golang's
// collectors.NewProcessCollector(): CPU time, file descriptors, memory,
// start time and network bytes. A value the system does not give is left
// out, as client_golang leaves it out.
func ProcessCollector() Collector { return processCollector{} }

// The help texts of the process families.
const (
	helpCPU       = "Total user and system CPU time spent in seconds."
	helpMaxFDs    = "Maximum number of open file descriptors."
	helpNetIn     = "Number of bytes received by the process over the network."
	helpNetOut    = "Number of bytes sent by the process over the network."
	helpOpenFDs   = "Number of open file descriptors."
	helpRSS       = "Resident memory size in bytes."
	helpStartTime = "Start time of the process since unix epoch in seconds."
	helpVSize     = "Virtual memory size in bytes."
	helpMaxVSize  = "Maximum amount of virtual memory available in bytes."
)
