//go:build unix

package falcon

import (
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGenerateKeyCPU reports the process CPU time per key generation
// (cpu-ms/op) besides the wall time: on a loaded machine the CPU time is the
// steadier figure to compare with another implementation's (run it with
// GOMAXPROCS=1 so that the garbage collector's helpers do not count).
func BenchmarkGenerateKeyCPU(b *testing.B) {
	if _, err := GenerateKey(nil); err != nil { // one-time tables
		b.Fatal(err)
	}
	c0 := cpuTime()
	for b.Loop() {
		if _, err := GenerateKey(nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e6, "cpu-ms/op")
}
