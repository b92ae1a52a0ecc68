package vault

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

const (
	dirPerm  fs.FileMode = 0o700
	filePerm fs.FileMode = 0o600
	tmpMark              = ".tmp-"
)

// testHookBeforeRename, when set by a test, runs after the temporary file is
// written and synced but before it is renamed over the target. Returning an
// error simulates a crash at that point: the temporary file is left behind
// exactly as a crash would leave it.
var testHookBeforeRename func(tmp string) error

// writeFileAtomic replaces path with data so that a crash at any point leaves
// either the old or the new content, never a mix: write a temporary file in
// the same directory, fsync it, rename it over path, fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+base+tmpMark+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("vault: create %s: %w", tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("vault: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("vault: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("vault: close %s: %w", tmp, err)
	}
	if h := testHookBeforeRename; h != nil {
		if err := h(tmp); err != nil {
			ok = true // a crash leaves the temporary file behind
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("vault: rename %s to %s: %w", tmp, path, err)
	}
	ok = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot open directories for
// syncing; NTFS journals the rename itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("vault: open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("vault: sync directory %s: %w", dir, err)
	}
	return nil
}

// staleTempAge is how old a temporary file must be before Open deletes it:
// a younger one may belong to a write in progress in another rtcchat process
// (or its key process) using the same data directory.
const staleTempAge = 10 * time.Minute

// removeStaleTemps deletes temporary files that a crash during
// writeFileAtomic left in dir. They never hold the only copy of anything.
func removeStaleTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), tmpMark) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) >= staleTempAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// ensureDir creates dir with mode 0700 (and its parents) and tightens the mode
// of an existing directory that is more permissive.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("vault: create directory %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("vault: %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, dirPerm); err != nil {
			return fmt.Errorf("vault: restrict permissions of %s: %w", dir, err)
		}
	}
	return nil
}

// readFileLimited reads path, refusing files larger than max.
func readFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &FileError{Path: path, Problem: "is not a regular file"}
	}
	if st.Size() > max {
		return nil, &FileError{Path: path, Problem: fmt.Sprintf("is %d bytes, larger than the limit of %d", st.Size(), max)}
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && n != len(b) {
		return nil, err
	}
	return b, nil
}
