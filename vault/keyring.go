package vault

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// Keyring stores small secrets in the OS keyring (Secret Service on Linux,
// Keychain on macOS, Credential Manager on Windows).
type Keyring interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// KeyringService is the service name of rtcchat's keyring entries. Each
// identity's sealing key is stored under the account "seal-" + hex(key id),
// where the key id is a random 16-byte value kept in the sealed file.
const KeyringService = "rtcchat"

// keyringTimeout bounds every keyring call: a Secret Service that does not
// answer (a locked collection waiting for a prompt nobody sees) must not hang
// rtcchat.
var keyringTimeout = 10 * time.Second

// SystemKeyring returns the OS keyring through zalando/go-keyring, with every
// call bounded by a timeout.
func SystemKeyring() Keyring { return systemKeyring{} }

type systemKeyring struct{}

func withTimeout[T any](what string, f func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := f()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(keyringTimeout):
		var zero T
		return zero, fmt.Errorf("keyring %s: no answer within %v", what, keyringTimeout)
	}
}

func (systemKeyring) Set(service, user, secret string) error {
	if !sessionBusKnown() {
		return errNoSessionBus
	}
	_, err := withTimeout("set", func() (struct{}, error) { return struct{}{}, gokeyring.Set(service, user, secret) })
	return err
}

func (systemKeyring) Get(service, user string) (string, error) {
	if !sessionBusKnown() {
		return "", errNoSessionBus
	}
	s, err := withTimeout("get", func() (string, error) { return gokeyring.Get(service, user) })
	if errors.Is(err, gokeyring.ErrNotFound) {
		return "", ErrNotFound
	}
	return s, err
}

func (systemKeyring) Delete(service, user string) error {
	if !sessionBusKnown() {
		return errNoSessionBus
	}
	_, err := withTimeout("delete", func() (struct{}, error) { return struct{}{}, gokeyring.Delete(service, user) })
	if errors.Is(err, gokeyring.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// NoKeyringEnv, when set to a non-empty value, makes AvailableKeyring report
// no keyring: new identities are then sealed with a passphrase.
const NoKeyringEnv = "RTCCHAT_NO_KEYRING"

// AvailableKeyring returns the OS keyring when it works (ProbeKeyring), or
// nil and the reason it cannot be used.
func AvailableKeyring() (Keyring, error) {
	if os.Getenv(NoKeyringEnv) != "" {
		return nil, fmt.Errorf("%w: disabled by %s", ErrNoKeyring, NoKeyringEnv)
	}
	k := SystemKeyring()
	if err := ProbeKeyring(k); err != nil {
		return nil, err
	}
	return k, nil
}

// ProbeKeyring checks that k can store, return and delete an entry. It
// returns nil when the keyring is usable, or an error that says why not.
func ProbeKeyring(k Keyring) error {
	if k == nil {
		return ErrNoKeyring
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	user := "probe-" + hex.EncodeToString(rnd[:])
	val := hex.EncodeToString(rnd[:])
	if err := k.Set(KeyringService, user, val); err != nil {
		return fmt.Errorf("%w: %v", ErrNoKeyring, err)
	}
	got, err := k.Get(KeyringService, user)
	k.Delete(KeyringService, user)
	if err != nil {
		return fmt.Errorf("%w: stored a probe entry but could not read it back: %v", ErrNoKeyring, err)
	}
	if got != val {
		return fmt.Errorf("%w: the probe entry came back changed", ErrNoKeyring)
	}
	return nil
}

func keyringAccount(id [keyIDSize]byte) string { return "seal-" + hex.EncodeToString(id[:]) }

// keyringStoreKey stores a fresh random 256-bit sealing key under a fresh key
// id and returns both.
func keyringStoreKey(k Keyring) (id [keyIDSize]byte, key *secret, err error) {
	if _, err = rand.Read(id[:]); err != nil {
		return id, nil, err
	}
	key = newSecret(32)
	if _, err = rand.Read(key.Bytes()); err != nil {
		key.Destroy()
		return id, nil, err
	}
	enc := hex.EncodeToString(key.Bytes())
	if err = k.Set(KeyringService, keyringAccount(id), enc); err != nil {
		key.Destroy()
		return id, nil, fmt.Errorf("store the sealing key in the OS keyring: %w", err)
	}
	return id, key, nil
}

// keyringLoadKey fetches the sealing key with the given id.
func keyringLoadKey(k Keyring, id [keyIDSize]byte) (*secret, error) {
	if k == nil {
		return nil, fmt.Errorf("this identity is sealed with a key in the OS keyring, but %w (set DBUS_SESSION_BUS_ADDRESS / unlock the keyring, or import an exported identity)", ErrNoKeyring)
	}
	enc, err := k.Get(KeyringService, keyringAccount(id))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("the OS keyring has no entry %q/%q for this identity's sealing key (was it deleted, or is this a different keyring?)", KeyringService, keyringAccount(id))
	}
	if err != nil {
		return nil, fmt.Errorf("read the sealing key from the OS keyring: %w", err)
	}
	if len(enc) != 64 {
		return nil, fmt.Errorf("the OS keyring entry %q holds %d characters, not a 256-bit key", keyringAccount(id), len(enc))
	}
	key := newSecret(32)
	tmp := []byte(enc)
	_, err = hex.Decode(key.Bytes(), tmp)
	wipe(tmp)
	if err != nil {
		key.Destroy()
		return nil, fmt.Errorf("the OS keyring entry %q is not a hex key", keyringAccount(id))
	}
	return key, nil
}
