//go:build !amd64

package ratchet

// avxClean: see vzeroupper_amd64.go; nothing to do elsewhere.
func avxClean() {}
