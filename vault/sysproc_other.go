//go:build !unix

package vault

import "os/exec"

func detach(cmd *exec.Cmd) {}
