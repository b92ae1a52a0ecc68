//go:build unix

package vault

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func checkOwnProcessGroup(t *testing.T, pid int) {
	t.Helper()
	if pg, err := syscall.Getpgid(pid); err != nil || pg != pid {
		t.Fatalf("key process group %d, %v; want its own (%d)", pg, err, pid)
	}
}

// syscallKill0 reports whether a process exists (and is not a zombie we
// could reap: the orphan is reaped by init or the subreaper).
func syscallKill0(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err != nil && !os.IsNotExist(err)
	}
	// Field 3 is the state; Z is a zombie (exited, not yet reaped).
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
