//go:build unix

package vault

import (
	"os/exec"
	"syscall"
)

// detach puts the key process in its own process group, so that a Ctrl-C
// at the terminal reaches only the chat process, which then ends the key
// process by closing its input (after, say, telling the peer goodbye).
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
