package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Sealed blob store for the chat layer (docs/PROTOCOL.md §5.4): pending
// messages, ratchet state, anything kept per contact. Each blob lives in
// store/KIND/FP (FP: the contact's fingerprint in hex), sealed with
// XChaCha20-Poly1305 under the storage key (HKDF of the identity's master
// key, info "rtcchat vault v1 store seal"); the label "KIND/FP" is
// authenticated, so a blob moved to another contact or kind fails to open.

const maxKindLen = 32

// MaxSealedData is the largest blob SaveSealed accepts.
const MaxSealedData = maxCiphertext - 16

func validKind(kind string) error {
	if len(kind) == 0 || len(kind) > maxKindLen {
		return fmt.Errorf("vault: blob kind %q must be 1..%d characters", kind, maxKindLen)
	}
	for _, r := range kind {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("vault: blob kind %q may hold only a-z, 0-9 and '-'", kind)
		}
	}
	return nil
}

func (v *Vault) blobPath(kind string, contact Fingerprint) string {
	return filepath.Join(v.home, "store", kind, contact.Hex())
}

func (v *Vault) key() (*secret, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.storeKey == nil {
		return nil, ErrLocked
	}
	return v.storeKey, nil
}

// SaveSealed stores data for contact under kind (a-z, 0-9, '-'; e.g.
// "pending", "ratchet"), sealed, replacing the previous blob atomically.
func (v *Vault) SaveSealed(kind string, contact Fingerprint, data []byte) error {
	if err := validKind(kind); err != nil {
		return err
	}
	if len(data) > MaxSealedData {
		return fmt.Errorf("vault: blob of %d bytes exceeds %d", len(data), MaxSealedData)
	}
	k, err := v.key()
	if err != nil {
		return err
	}
	if err := ensureDir(filepath.Join(v.home, "store", kind)); err != nil {
		return err
	}
	s := &sealedFile{kind: kindStore, source: srcStore, label: []byte(kind + "/" + contact.Hex())}
	v.mu.Lock()
	err = seal(v.opts.Rand, k.Bytes(), s, data)
	v.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFileAtomic(v.blobPath(kind, contact), s.marshal())
}

// LoadSealed returns the blob stored for contact under kind, or an error
// wrapping ErrNotFound. A damaged or altered blob is a *FileError and stays
// on disk.
func (v *Vault) LoadSealed(kind string, contact Fingerprint) ([]byte, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	k, err := v.key()
	if err != nil {
		return nil, err
	}
	path := v.blobPath(kind, contact)
	s, err := v.readSealed(path, kindStore)
	if err != nil {
		return nil, err
	}
	if s.source != srcStore || string(s.label) != kind+"/"+contact.Hex() {
		return nil, &FileError{Path: path, Problem: fmt.Sprintf("belongs to %q, not %s/%s", s.label, kind, contact.Hex())}
	}
	v.mu.Lock()
	pt, err := open(k.Bytes(), s)
	v.mu.Unlock()
	if err != nil {
		v.log.Record(Event{Kind: EventDamagedFile, Result: "refused", Detail: path + " failed authentication"})
		return nil, &FileError{Path: path, Problem: "failed authentication: it was altered, damaged, or sealed by another identity"}
	}
	defer pt.Destroy()
	out := make([]byte, len(pt.Bytes()))
	copy(out, pt.Bytes())
	return out, nil
}

// DeleteSealed removes the blob (no error if there is none).
func (v *Vault) DeleteSealed(kind string, contact Fingerprint) error {
	if err := validKind(kind); err != nil {
		return err
	}
	path := v.blobPath(kind, contact)
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("vault: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func (v *Vault) deleteAllSealed(contact Fingerprint) error {
	kinds, err := os.ReadDir(filepath.Join(v.home, "store"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("vault: %w", err)
	}
	for _, k := range kinds {
		if k.IsDir() && validKind(k.Name()) == nil {
			if err := v.DeleteSealed(k.Name(), contact); err != nil {
				return err
			}
		}
	}
	return nil
}

// ContactStore is one contact's view of the sealed store, in the shape the
// chat layer's Store interface wants: Load returns (nil, nil) when nothing is
// stored under kind.
type ContactStore struct {
	v  *Vault
	fp Fingerprint
}

// ContactStore returns the sealed store of the contact with fingerprint fp.
func (v *Vault) ContactStore(fp Fingerprint) *ContactStore { return &ContactStore{v: v, fp: fp} }

// Load returns the blob stored under kind, or nil, nil if there is none.
func (s *ContactStore) Load(kind string) ([]byte, error) {
	b, err := s.v.LoadSealed(kind, s.fp)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// Save seals and stores data under kind.
func (s *ContactStore) Save(kind string, data []byte) error { return s.v.SaveSealed(kind, s.fp, data) }

// Delete removes the blob stored under kind.
func (s *ContactStore) Delete(kind string) error { return s.v.DeleteSealed(kind, s.fp) }
