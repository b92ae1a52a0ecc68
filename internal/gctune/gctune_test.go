package gctune

import (
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	if got := Apply(); got != "GOGC=400, GOMEMLIMIT=40MiB" {
		t.Fatalf("Apply() = %q", got)
	}
	if p := debug.SetGCPercent(100); p != Percent {
		t.Fatalf("GC percent %d, want %d", p, Percent)
	}
	if l := debug.SetMemoryLimit(-1); l != MemoryLimit {
		t.Fatalf("memory limit %d, want %d", l, MemoryLimit)
	}

	// The environment wins.
	debug.SetMemoryLimit(1 << 30)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	if got := Apply(); got != "" {
		t.Fatalf("Apply() with GOGC and GOMEMLIMIT set = %q", got)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GC percent changed to %d despite GOGC in the environment", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<30 {
		t.Fatalf("memory limit changed to %d despite GOMEMLIMIT in the environment", l)
	}
}
