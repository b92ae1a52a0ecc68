//go:build !unix

package vault

// lockFile is a no-op where flock is unavailable; the in-process mutex still
// serialises updates and every write stays atomic.
func lockFile(path string) (unlock func(), err error) { return func() {}, nil }
