//go:build !linux

package vault

// hardenProcess is a no-op where the OS gives no portable way to disable core
// dumps for one process (see the README's "what is protected").
func hardenProcess() error { return nil }

func processHardened() bool { return false }

// allocLocked falls back to ordinary heap memory, wiped on free.
func allocLocked(n int) (b []byte, locked bool, free func()) {
	b = make([]byte, n)
	return b, false, func() { wipe(b) }
}
