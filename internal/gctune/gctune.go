// Package gctune sets the Go garbage collector for an rtcchat process.
//
// A chat process keeps a small live heap (a few MB) while pion allocates a
// buffer for every SCTP and DTLS packet it sends or receives. With Go's
// defaults (collect when the heap doubles, 4 MB at the least) such a
// process collects every few milliseconds during a transfer, and the
// collector's share of the CPU comes straight out of throughput on a small
// machine. rtcchat lets the heap grow to five times the live data instead
// (GOGC=400), bounded by a soft limit of 40 MiB (GOMEMLIMIT), so memory stays
// well under the 60 MB the project allows one process (peak RSS measured by
// make bench: about 45 MB). A GOGC or GOMEMLIMIT set in the environment wins.
package gctune

import (
	"os"
	"runtime/debug"
)

// Settings applied by Apply unless the environment says otherwise.
const (
	Percent     = 400
	MemoryLimit = 40 << 20
)

// Apply sets the collector for this process. It reports what it set, for
// diagnostics ("" when the environment's settings were kept).
func Apply() string {
	var set string
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
		set = "GOGC=400"
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
		if set != "" {
			set += ", "
		}
		set += "GOMEMLIMIT=40MiB"
	}
	return set
}
