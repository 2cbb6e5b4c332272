//go:build race

package main

// raceEnabled: the race detector inflates a process's resident memory.
const raceEnabled = true
