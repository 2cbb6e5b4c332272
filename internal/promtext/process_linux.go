package promtext

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of the times in /proc/PID/stat: USER_HZ, 100 on
// every Linux platform (procfs, which client_golang reads, assumes it too).
const userHZ = 100

// Collect reads /proc/self: stat (CPU, memory, start), fd, limits and
// net/netstat.
func (processCollector) Collect(w *Writer) {
	st, stOK := readStat()
	if stOK {
		single(w, "process_cpu_seconds_total", helpCPU, TypeCounter, st.cpu)
	}
	maxFDs, maxVSize, limitsOK := readLimits()
	if limitsOK {
		single(w, "process_max_fds", helpMaxFDs, TypeGauge, maxFDs)
	}
	if in, out, ok := readNetstat(); ok {
		single(w, "process_network_receive_bytes_total", helpNetIn, TypeCounter, in)
		single(w, "process_network_transmit_bytes_total", helpNetOut, TypeCounter, out)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		single(w, "process_open_fds", helpOpenFDs, TypeGauge, float64(len(fds)))
	}
	if stOK {
		single(w, "process_resident_memory_bytes", helpRSS, TypeGauge, st.rss)
		if st.start > 0 {
			single(w, "process_start_time_seconds", helpStartTime, TypeGauge, st.start)
		}
		single(w, "process_virtual_memory_bytes", helpVSize, TypeGauge, st.vsize)
	}
	if limitsOK {
		single(w, "process_virtual_memory_max_bytes", helpMaxVSize, TypeGauge, maxVSize)
	}
}

// procStat is what the process metrics take from /proc/self/stat.
type procStat struct {
	cpu, rss, vsize float64 // seconds, bytes, bytes
	start           float64 // Unix seconds; 0 when /proc/stat has no btime
}

func readStat() (procStat, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) is f[0].
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return procStat{}, false
	}
	n := func(field int) float64 {
		v, _ := strconv.ParseUint(f[field-3], 10, 64)
		return float64(v)
	}
	st := procStat{
		cpu:   (n(14) + n(15)) / userHZ,
		vsize: n(23),
		rss:   n(24) * float64(os.Getpagesize()),
	}
	if boot, ok := bootTime(); ok {
		st.start = boot + n(22)/userHZ
	}
	return st, true
}

// bootTime reads btime (Unix seconds) from /proc/stat.
func bootTime() (float64, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "btime "); ok {
			t, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return float64(t), err == nil
		}
	}
	return 0, false
}

// readLimits reads the soft limits on open files and address space from
// /proc/self/limits; "unlimited" is the largest uint64.
func readLimits() (openFiles, addressSpace float64, ok bool) {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return 0, 0, false
	}
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		for _, l := range []struct {
			prefix string
			v      *float64
		}{{"Max open files ", &openFiles}, {"Max address space ", &addressSpace}} {
			rest, cut := strings.CutPrefix(line, l.prefix)
			f := strings.Fields(rest)
			if !cut || len(f) == 0 {
				continue
			}
			if f[0] == "unlimited" {
				*l.v = math.MaxUint64
			} else if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				*l.v = float64(v)
			} else {
				return 0, 0, false
			}
			found++
		}
	}
	return openFiles, addressSpace, found == 2
}

// readNetstat reads InOctets and OutOctets of the IpExt lines of
// /proc/self/net/netstat (a line of names, then a line of values); a
// missing counter reads 0.
func readNetstat() (in, out float64, ok bool) {
	b, err := os.ReadFile("/proc/self/net/netstat")
	if err != nil {
		return 0, 0, false
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		rest, cut := strings.CutPrefix(line, "IpExt:")
		if !cut {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		for i, v := range strings.Fields(rest) {
			if i >= len(names) {
				break
			}
			x, _ := strconv.ParseFloat(v, 64)
			switch names[i] {
			case "InOctets":
				in = x
			case "OutOctets":
				out = x
			}
		}
		break
	}
	return in, out, true
}
