package vault

import "sync"

// HardenProcess disables core dumps and, on Linux, makes the process
// non-dumpable (RLIMIT_CORE=0, PR_SET_DUMPABLE=0). Both the chat process and
// the key process call it before any secret is loaded. Elsewhere it is a no-op.
func HardenProcess() error { return hardenProcess() }

// ProcessHardened reports whether HardenProcess is in effect (Linux only).
func ProcessHardened() bool { return processHardened() }

// secret is a fixed-size buffer for key material. On Linux it lives outside
// the Go heap in mlocked memory excluded from core dumps; everywhere it is
// wiped by Destroy. Copies made by code outside this package (for example the
// parsed keys inside package handshake) are not covered: see the README.
type secret struct {
	mu     sync.Mutex
	b      []byte
	locked bool
	free   func()
}

func newSecret(n int) *secret {
	b, locked, free := allocLocked(n)
	return &secret{b: b, locked: locked, free: free}
}

// secretFrom copies src into a new secret and wipes src.
func secretFrom(src []byte) *secret {
	s := newSecret(len(src))
	copy(s.b, src)
	wipe(src)
	return s
}

// Bytes returns the buffer; it is valid until Destroy.
func (s *secret) Bytes() []byte { return s.b }

// Destroy wipes and releases the buffer. It is safe to call more than once.
func (s *secret) Destroy() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free != nil {
		s.free()
		s.free = nil
	}
	s.b = nil
}

// wipe overwrites b with zeros.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
