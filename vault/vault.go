// Package vault keeps rtcchat's secrets and pins: the identity keys (sealed
// with a key from the OS keyring, or with a passphrase through Argon2id), the
// contacts with their pinned identity fingerprints, sealed per-contact blobs
// for the chat layer (pending messages, ratchet state), a security event log,
// and the isolated key process that alone holds the identity secret keys.
//
// Layout of the data directory (docs/PROTOCOL.md §5):
//
//	HOME/            0700   os.UserConfigDir()/rtcchat, or --home / RTCCHAT_HOME
//	  keys/identity  0600   sealed identity (§5.2)
//	  contacts       0600   contacts and pins (§5.3)
//	  store/KIND/FP  0600   sealed chat-layer blobs (§5.4)
//	  logs/security.log     security events, JSON lines (§5.5)
//
// Every write is atomic (temporary file, fsync, rename, fsync directory);
// every file is versioned and strictly decoded; a damaged file is reported
// (which file, what is wrong) and never overwritten.
//
// The vault knows nothing about the network.
package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/rtcchat/rtcchat/handshake"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// HomeEnv overrides the data directory (as does the --home flag).
const HomeEnv = "RTCCHAT_HOME"

// PassphraseEnv supplies the passphrase for scripts.
const PassphraseEnv = "RTCCHAT_PASSPHRASE"

// DefaultHome is $RTCCHAT_HOME, or os.UserConfigDir()/rtcchat.
func DefaultHome() (string, error) {
	if h := os.Getenv(HomeEnv); h != "" {
		return h, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("vault: no data directory: %w (set %s or --home)", err, HomeEnv)
	}
	return filepath.Join(d, "rtcchat"), nil
}

// Passphrase asks the user for a passphrase. confirm is true when a new
// passphrase is being set (ask twice). The returned slice is wiped after use.
type Passphrase func(prompt string, confirm bool) ([]byte, error)

// Options configure a Vault.
type Options struct {
	// Keyring seals new identities with a random key kept in the OS keyring.
	// Nil: new identities are sealed with a passphrase. Existing identities
	// use whatever their file says.
	Keyring Keyring
	// Argon2 parameters for new passphrase-sealed files (zero: DefaultArgon2).
	Argon2 Argon2Params
	// Generate creates new identities (nil: handshake.GenerateIdentity).
	Generate func(rand io.Reader) (*handshake.Identity, error)
	// Rand is the randomness source (nil: crypto/rand).
	Rand io.Reader
}

// Vault is an opened data directory.
type Vault struct {
	home string
	opts Options
	log  *EventLog

	mu       sync.Mutex
	storeKey *secret // set by Unlock / StartKeyProcess
}

// KDF labels (HKDF-SHA256 info strings, §5.1).
const (
	infoIdentity = "rtcchat vault v1 identity seal"
	infoStore    = "rtcchat vault v1 store seal"
	infoExport   = "rtcchat vault v1 export seal"
)

// Open opens (creating if needed) the data directory home with its keys/,
// logs/ and store/ subdirectories, all mode 0700.
func Open(home string, opts Options) (*Vault, error) {
	if home == "" {
		var err error
		if home, err = DefaultHome(); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	for _, d := range []string{abs, filepath.Join(abs, "keys"), filepath.Join(abs, "logs"), filepath.Join(abs, "store")} {
		if err := ensureDir(d); err != nil {
			return nil, err
		}
	}
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2
	}
	if err := opts.Argon2.validate(); err != nil {
		return nil, fmt.Errorf("vault: %v", err)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Generate == nil {
		opts.Generate = handshake.GenerateIdentity
	}
	removeStaleTemps(filepath.Join(abs, "keys"))
	removeStaleTemps(abs)
	if kinds, err := os.ReadDir(filepath.Join(abs, "store")); err == nil {
		for _, k := range kinds {
			if k.IsDir() {
				removeStaleTemps(filepath.Join(abs, "store", k.Name()))
			}
		}
	}
	return &Vault{home: abs, opts: opts, log: newEventLog(filepath.Join(abs, "logs"))}, nil
}

// Home is the absolute data directory.
func (v *Vault) Home() string { return v.home }

// Log is the security event log.
func (v *Vault) Log() *EventLog { return v.log }

// IdentityPath is the sealed identity file.
func (v *Vault) IdentityPath() string { return filepath.Join(v.home, "keys", "identity") }

// Close wipes the storage key held in memory.
func (v *Vault) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.storeKey.Destroy()
	v.storeKey = nil
}

// HasIdentity reports whether keys/identity exists.
func (v *Vault) HasIdentity() (bool, error) {
	_, err := os.Lstat(v.IdentityPath())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// IdentityInfo describes the stored identity without unsealing it.
type IdentityInfo struct {
	Public      *handshake.PublicIdentity // from the file's header
	Fingerprint Fingerprint               // of Public
	Keyring     bool                      // sealed with a key in the OS keyring (else: passphrase)
	Argon2      Argon2Params
}

// Identity reads the public part of the stored identity. The public identity
// is authenticated (as AEAD additional data) only when the key process
// unseals the file, which also checks that it matches the secret keys.
func (v *Vault) Identity() (IdentityInfo, error) {
	s, err := v.readSealed(v.IdentityPath(), kindIdentity)
	if err != nil {
		return IdentityInfo{}, err
	}
	pub, fp, err := parsePublic(s.label)
	if err != nil {
		return IdentityInfo{}, &FileError{Path: v.IdentityPath(), Problem: "holds an invalid public identity", Err: err}
	}
	return IdentityInfo{Public: pub, Fingerprint: fp, Keyring: s.source == srcKeyring, Argon2: s.argon}, nil
}

// readSealed reads and strictly decodes a sealed file of the given kind.
func (v *Vault) readSealed(path string, kind sealKind) (*sealedFile, error) {
	b, err := readFileLimited(path, maxSealedFile)
	if errors.Is(err, fs.ErrNotExist) {
		if kind == kindIdentity {
			return nil, fmt.Errorf("vault: %s: %w", path, ErrNoIdentity)
		}
		return nil, fmt.Errorf("vault: %s: %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	s, perr := parseSealed(b)
	if perr != nil {
		v.log.Record(Event{Kind: EventDamagedFile, Result: "refused", Detail: path + " " + perr.Error()})
		return nil, &FileError{Path: path, Problem: perr.Error()}
	}
	if s.kind != kind {
		return nil, &FileError{Path: path, Problem: fmt.Sprintf("holds a %s, expected a %s", s.kind, kind)}
	}
	return s, nil
}

func hkdfKey(master []byte, info string) *secret {
	k, err := hkdf.Key(sha256.New, master, nil, info, 32)
	if err != nil {
		panic(err) // only for lengths > 255*32
	}
	return secretFrom(k)
}

func passphraseMaster(pass []byte, salt []byte, p Argon2Params) *secret {
	return secretFrom(argon2.IDKey(pass, salt, p.Time, p.MemoryKiB, p.Threads, 32))
}

// seal fills s.nonce and s.ct with the AEAD of plaintext under key.
func seal(rnd io.Reader, key []byte, s *sealedFile, plaintext []byte) error {
	if _, err := io.ReadFull(rnd, s.nonce[:]); err != nil {
		return err
	}
	if len(plaintext)+chacha20poly1305.Overhead > maxCiphertext {
		return fmt.Errorf("vault: %d bytes is too large to seal (limit %d)", len(plaintext), maxCiphertext-chacha20poly1305.Overhead)
	}
	s.ct = make([]byte, len(plaintext)+chacha20poly1305.Overhead)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return err
	}
	aead.Seal(s.ct[:0], s.nonce[:], plaintext, s.header())
	return nil
}

// open authenticates and decrypts s under key into a locked secret buffer.
func open(key []byte, s *sealedFile) (*secret, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	out := newSecret(len(s.ct) - chacha20poly1305.Overhead)
	if _, err := aead.Open(out.Bytes()[:0], s.nonce[:], s.ct, s.header()); err != nil {
		out.Destroy()
		return nil, err
	}
	return out, nil
}

// masterKey obtains the 256-bit master key of an identity file: from the OS
// keyring, or by running Argon2id over the passphrase.
func (v *Vault) masterKey(path string, s *sealedFile, pass Passphrase) (*secret, error) {
	switch s.source {
	case srcKeyring:
		k, err := keyringLoadKey(v.opts.Keyring, s.keyID)
		if err != nil {
			return nil, fmt.Errorf("vault: %s: %w", path, err)
		}
		return k, nil
	case srcPassphrase:
		if pass == nil {
			return nil, fmt.Errorf("vault: %s is sealed with a passphrase, and none was given (set %s or run in a terminal)", path, PassphraseEnv)
		}
		p, err := pass("Passphrase for "+path, false)
		if err != nil {
			return nil, err
		}
		defer wipe(p)
		return passphraseMaster(p, s.salt[:], s.argon), nil
	}
	return nil, &FileError{Path: path, Problem: fmt.Sprintf("has key source %d, not usable for an identity", s.source)}
}

// unsealIdentity opens keys/identity and returns the serialised secret
// identity, the storage key and the file's public identity.
func (v *Vault) unsealIdentity(pass Passphrase) (ident, storeKey *secret, public []byte, err error) {
	HardenProcess() // secrets are about to enter this process
	path := v.IdentityPath()
	s, err := v.readSealed(path, kindIdentity)
	if err != nil {
		return nil, nil, nil, err
	}
	master, err := v.masterKey(path, s, pass)
	if err != nil {
		return nil, nil, nil, err
	}
	defer master.Destroy()
	idKey := hkdfKey(master.Bytes(), infoIdentity)
	defer idKey.Destroy()
	ident, err = open(idKey.Bytes(), s)
	if err != nil {
		v.log.Record(Event{Kind: EventUnlockFailed, Result: "failed", Detail: path})
		if s.source == srcPassphrase {
			return nil, nil, nil, fmt.Errorf("vault: %s: %w", path, ErrWrongPassphrase)
		}
		return nil, nil, nil, &FileError{Path: path, Problem: "failed authentication: it was altered or damaged, or the keyring entry does not belong to it"}
	}
	return ident, hkdfKey(master.Bytes(), infoStore), bytes.Clone(s.label), nil
}

// CreateIdentity generates a new identity and seals it into keys/identity:
// with a fresh random key stored in the OS keyring when Options.Keyring is
// set, else with the passphrase (asked with confirm=true). It refuses to
// overwrite an existing identity.
func (v *Vault) CreateIdentity(pass Passphrase) (IdentityInfo, error) {
	if ok, err := v.HasIdentity(); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("vault: %s: %w", v.IdentityPath(), ErrIdentityExists)
		}
		return IdentityInfo{}, err
	}
	id, err := v.opts.Generate(v.opts.Rand)
	if err != nil {
		return IdentityInfo{}, fmt.Errorf("vault: generate identity: %w", err)
	}
	ident, err := marshalIdentity(id)
	id.Destroy()
	if err != nil {
		return IdentityInfo{}, err
	}
	defer ident.Destroy()
	info, err := v.storeIdentity(ident.Bytes(), pass)
	if err != nil {
		return IdentityInfo{}, err
	}
	v.log.Record(Event{Kind: EventIdentityCreated, Peer: info.Fingerprint.Hex(), Result: "ok", Detail: sealDesc(info)})
	return info, nil
}

func sealDesc(info IdentityInfo) string {
	if info.Keyring {
		return "sealed with a key in the OS keyring"
	}
	return fmt.Sprintf("sealed with a passphrase (Argon2id t=%d m=%dKiB p=%d)", info.Argon2.Time, info.Argon2.MemoryKiB, info.Argon2.Threads)
}

// storeIdentity seals a serialised secret identity into keys/identity,
// replacing any existing one atomically.
func (v *Vault) storeIdentity(ident []byte, pass Passphrase) (IdentityInfo, error) {
	HardenProcess()
	key, err := parseIdentity(ident)
	if err != nil {
		return IdentityInfo{}, fmt.Errorf("vault: invalid identity: %w", err)
	}
	pubID := key.Public()
	key.Destroy()
	pub, fp := pubID.Bytes(), FingerprintOf(pubID)
	if len(pub) > maxLabel {
		return IdentityInfo{}, fmt.Errorf("vault: public identity of %d bytes exceeds %d", len(pub), maxLabel)
	}
	s := &sealedFile{kind: kindIdentity, label: pub}
	var master *secret
	var undo func()
	if v.opts.Keyring != nil {
		s.source = srcKeyring
		id, k, err := keyringStoreKey(v.opts.Keyring)
		if err != nil {
			return IdentityInfo{}, fmt.Errorf("vault: %w", err)
		}
		s.keyID, master = id, k
		undo = func() { v.opts.Keyring.Delete(KeyringService, keyringAccount(id)) }
	} else {
		if pass == nil {
			return IdentityInfo{}, fmt.Errorf("vault: no OS keyring and no passphrase: set %s or run in a terminal", PassphraseEnv)
		}
		p, err := pass("New passphrase for your identity", true)
		if err != nil {
			return IdentityInfo{}, err
		}
		defer wipe(p)
		if len(p) == 0 {
			return IdentityInfo{}, errors.New("vault: empty passphrase")
		}
		s.source, s.argon = srcPassphrase, v.opts.Argon2
		if _, err := io.ReadFull(v.opts.Rand, s.salt[:]); err != nil {
			return IdentityInfo{}, err
		}
		master = passphraseMaster(p, s.salt[:], s.argon)
		undo = func() {}
	}
	defer master.Destroy()
	idKey := hkdfKey(master.Bytes(), infoIdentity)
	defer idKey.Destroy()
	if err := seal(v.opts.Rand, idKey.Bytes(), s, ident); err != nil {
		undo()
		return IdentityInfo{}, err
	}
	// Replacing an identity: keep the old keyring entry until the new file
	// is in place, then remove it.
	var oldKeyring *[keyIDSize]byte
	if old, err := v.readSealed(v.IdentityPath(), kindIdentity); err == nil && old.source == srcKeyring {
		oldKeyring = &old.keyID
	}
	if err := writeFileAtomic(v.IdentityPath(), s.marshal()); err != nil {
		undo()
		return IdentityInfo{}, err
	}
	if oldKeyring != nil && v.opts.Keyring != nil && *oldKeyring != s.keyID {
		v.opts.Keyring.Delete(KeyringService, keyringAccount(*oldKeyring))
	}
	v.mu.Lock()
	v.storeKey.Destroy()
	v.storeKey = hkdfKey(master.Bytes(), infoStore)
	v.mu.Unlock()
	return IdentityInfo{Public: pubID, Fingerprint: fp, Keyring: s.source == srcKeyring, Argon2: s.argon}, nil
}

// Unlock unseals the identity in this process only to derive the storage key
// for SaveSealed/LoadSealed, then wipes the identity. The chat process uses
// StartKeyProcess instead, which never brings the identity into it.
func (v *Vault) Unlock(pass Passphrase) error {
	ident, sk, _, err := v.unsealIdentity(pass)
	if err != nil {
		return err
	}
	ident.Destroy()
	v.setStoreKey(sk)
	return nil
}

func (v *Vault) setStoreKey(sk *secret) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.storeKey.Destroy()
	v.storeKey = sk
}

// ExportIdentity seals the identity under exportPass (Argon2id with this
// vault's parameters and a fresh salt) for `rtcchat id import` on another
// machine. The identity is unsealed with pass (or the keyring) first.
func (v *Vault) ExportIdentity(pass Passphrase, exportPass []byte) ([]byte, error) {
	if len(exportPass) == 0 {
		return nil, errors.New("vault: empty export passphrase")
	}
	ident, sk, pub, err := v.unsealIdentity(pass)
	if err != nil {
		return nil, err
	}
	defer ident.Destroy()
	sk.Destroy()
	s := &sealedFile{kind: kindExport, source: srcPassphrase, argon: v.opts.Argon2, label: pub}
	if _, err := io.ReadFull(v.opts.Rand, s.salt[:]); err != nil {
		return nil, err
	}
	master := passphraseMaster(exportPass, s.salt[:], s.argon)
	defer master.Destroy()
	k := hkdfKey(master.Bytes(), infoExport)
	defer k.Destroy()
	if err := seal(v.opts.Rand, k.Bytes(), s, ident.Bytes()); err != nil {
		return nil, err
	}
	info, _ := v.Identity()
	v.log.Record(Event{Kind: EventIdentityExported, Peer: info.Fingerprint.Hex(), Result: "ok"})
	return s.marshal(), nil
}

// ImportIdentity opens an export (name is used in errors) with exportPass
// and seals it into this vault (keyring or pass, as for CreateIdentity). An
// existing identity is replaced only when replace is true.
func (v *Vault) ImportIdentity(name string, data []byte, exportPass []byte, pass Passphrase, replace bool) (IdentityInfo, error) {
	s, perr := parseSealed(data)
	if perr != nil {
		v.log.RejectedInput("identity import "+name, perr)
		return IdentityInfo{}, &FileError{Path: name, Problem: perr.Error()}
	}
	if s.kind != kindExport || s.source != srcPassphrase {
		return IdentityInfo{}, &FileError{Path: name, Problem: fmt.Sprintf("holds a %s, not an identity export", s.kind)}
	}
	master := passphraseMaster(exportPass, s.salt[:], s.argon)
	k := hkdfKey(master.Bytes(), infoExport)
	master.Destroy()
	ident, err := open(k.Bytes(), s)
	k.Destroy()
	if err != nil {
		v.log.RejectedInput("identity import "+name, ErrWrongPassphrase)
		return IdentityInfo{}, fmt.Errorf("vault: %s: %w", name, ErrWrongPassphrase)
	}
	defer ident.Destroy()
	if ok, err := v.HasIdentity(); err != nil {
		return IdentityInfo{}, err
	} else if ok && !replace {
		return IdentityInfo{}, fmt.Errorf("vault: %s: %w (import with --replace to overwrite it; export it first if you may need it)", v.IdentityPath(), ErrIdentityExists)
	}
	key, err := parseIdentity(ident.Bytes())
	if err != nil {
		return IdentityInfo{}, &FileError{Path: name, Problem: "holds an invalid identity", Err: err}
	}
	match := bytes.Equal(key.Public().Bytes(), s.label)
	key.Destroy()
	if !match {
		return IdentityInfo{}, &FileError{Path: name, Problem: "has a public identity that does not match its secret keys"}
	}
	old, _ := v.Identity()
	info, err := v.storeIdentity(ident.Bytes(), pass)
	if err != nil {
		return IdentityInfo{}, err
	}
	d := sealDesc(info)
	if old.Public != nil && old.Fingerprint != info.Fingerprint {
		d += "; replaced identity " + old.Fingerprint.Hex()
	}
	v.log.Record(Event{Kind: EventIdentityImported, Peer: info.Fingerprint.Hex(), Result: "ok", Detail: d})
	return info, nil
}
