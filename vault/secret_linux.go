//go:build linux

package vault

import (
	"golang.org/x/sys/unix"
)

// hardenProcess disables core dumps (RLIMIT_CORE=0) and marks the process
// non-dumpable (prctl PR_SET_DUMPABLE=0), which also stops other processes of
// the same user from attaching with ptrace or reading /proc/PID/mem.
func hardenProcess() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

// processHardened reports whether hardenProcess is in effect.
func processHardened() bool {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil || rl.Cur != 0 {
		return false
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	return err == nil && d == 0
}

// allocLocked returns n bytes of anonymous memory outside the Go heap (so the
// garbage collector never copies it), locked into RAM with mlock so it is not
// swapped out, and excluded from core dumps (MADV_DONTDUMP). locked reports
// whether mlock succeeded (it can fail under a low RLIMIT_MEMLOCK).
func allocLocked(n int) (b []byte, locked bool, free func()) {
	if n <= 0 {
		return nil, false, func() {}
	}
	pg := unix.Getpagesize()
	size := (n + pg - 1) / pg * pg
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		b := make([]byte, n)
		return b, false, func() { wipe(b) }
	}
	_ = unix.Madvise(mem, unix.MADV_DONTDUMP)
	locked = unix.Mlock(mem) == nil
	return mem[:n:n], locked, func() {
		wipe(mem)
		if locked {
			_ = unix.Munlock(mem)
		}
		_ = unix.Munmap(mem)
	}
}
