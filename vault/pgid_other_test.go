//go:build !unix

package vault

import "testing"

func checkOwnProcessGroup(t *testing.T, pid int) {}

func syscallKill0(pid int) bool { return false }
