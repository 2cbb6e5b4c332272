// Package benchdata holds what the bench driver (./bench) and the Go
// benchmarks of other packages measure with, so that an in-process
// benchmark runs exactly the driver's script or document: the driver is a
// main package and cannot be imported.
package benchdata

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// ConcSendAsync is the driver's 64-in-flight script with sendAsync. Its
// arguments are URL N CONCURRENCY TOKEN: N signed GETs of URL/data, C at a
// time; it prints {"ms": …}, the time they took.
const ConcSendAsync = `
const url = args[0], n = Number(args[1]), c = Number(args[2]), token = args[3];
let started = 0;
async function worker() {
  while (started < n) {
    started++;
    const res = await http.get(url + '/data').apiTokenAuth(token).sendAsync();
    if (res.status !== 200) throw new Error('status ' + res.status);
  }
}
const t0 = Date.now();
Promise.all(Array.from({ length: c }, worker)).then(() => console.log(JSON.stringify({ ms: Date.now() - t0 })));
`

// ConcFetch is ConcSendAsync with fetch, reading each body as Node.js's
// peer does.
const ConcFetch = `
const url = args[0], n = Number(args[1]), c = Number(args[2]), token = args[3];
let started = 0;
async function worker() {
  while (started < n) {
    started++;
    const r = await fetch(url + '/data', { apiTokenAuth: token });
    await r.text();
    if (r.status !== 200) throw new Error('status ' + r.status);
  }
}
const t0 = Date.now();
Promise.all(Array.from({ length: c }, worker)).then(() => console.log(JSON.stringify({ ms: Date.now() - t0 })));
`

// Records is the driver's JSON-heavy document: a JSON array of n records
// of about 270 bytes (5.5 MB for 20,000), keys repeated, a few repeated
// values and unique ones.
func Records(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"record %d","status":"%s","priority":%d,"tags":["alpha","beta","gamma"],"owner":{"id":%d,"email":"user%d@example.com"},"description":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore","score":%d.5}`,
			i, i, []string{"open", "closed", "pending"}[i%3], i%5, i%97, i%97, i%1000)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// CPUTime is the CPU time, user and system, the process has used: on a
// machine shared with other work it moves much less than wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
