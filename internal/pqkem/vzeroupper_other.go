//go:build !amd64

package pqkem

// AVXClean: see vzeroupper_amd64.go; nothing to do elsewhere.
func AVXClean() {}
