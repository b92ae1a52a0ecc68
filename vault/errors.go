package vault

import (
	"errors"
	"fmt"
)

var (
	// ErrWrongPassphrase: the passphrase does not open the file (or the file's
	// ciphertext was altered; AEAD cannot tell the two apart).
	ErrWrongPassphrase = errors.New("wrong passphrase (or the sealed file was altered)")
	// ErrNoIdentity: the data directory holds no identity yet.
	ErrNoIdentity = errors.New("no identity in this data directory yet")
	// ErrIdentityExists: refusing to overwrite an existing identity.
	ErrIdentityExists = errors.New("an identity already exists in this data directory")
	// ErrIdentityChanged: a known contact presented a different identity.
	ErrIdentityChanged = errors.New("IDENTITY CHANGED: this contact presented a different identity key than the one pinned")
	// ErrNameMismatch: the identity is pinned under a different name.
	ErrNameMismatch = errors.New("this identity is pinned under another name")
	// ErrNotFound: no such contact or stored blob.
	ErrNotFound = errors.New("not found")
	// ErrLocked: the operation needs the vault's storage key, which only an
	// unlock (a started key process) provides.
	ErrLocked = errors.New("vault is locked: start the key process (or unlock) first")
	// ErrNoKeyring: no usable OS keyring.
	ErrNoKeyring = errors.New("no OS keyring available")
	// ErrKeyProcessDied: the isolated key process is gone.
	ErrKeyProcessDied = errors.New("the key process has stopped")
)

// FileError reports a stored file that cannot be used: which file and what
// is wrong with it. The file is left untouched.
type FileError struct {
	Path    string
	Problem string
	Err     error
}

func (e *FileError) Error() string {
	msg := fmt.Sprintf("vault: %s %s", e.Path, e.Problem)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + " (the file was left untouched)"
}

func (e *FileError) Unwrap() error { return e.Err }
