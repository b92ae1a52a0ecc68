//go:build unix

package vault

import (
	"syscall"
	"testing"
)

func checkOwnProcessGroup(t *testing.T, pid int) {
	t.Helper()
	if pg, err := syscall.Getpgid(pid); err != nil || pg != pid {
		t.Fatalf("key process group %d, %v; want its own (%d)", pg, err, pid)
	}
}
