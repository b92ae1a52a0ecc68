package handshake

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/rtcchat/rtcchat/internal/pqkem"
	xdh "github.com/rtcchat/rtcchat/internal/x25519"
)

// ErrEphemeralsUsed means prepared ephemeral keys were offered to a second
// handshake, or after Destroy: they serve exactly one handshake.
var ErrEphemeralsUsed = errors.New("handshake: prepared ephemeral keys were already used or destroyed (they serve exactly one handshake)")

// Ephemerals are the fresh keys of one handshake, made ahead of time by
// Prepare while the connection blobs are being exchanged, so that their cost
// (an X25519 base-point multiplication for each key and an ML-KEM-1024 key
// generation, about a third of a side's handshake CPU below level quantum)
// is off the critical path. Nothing in them depends on the peer, and they are
// generated exactly as the handshake would generate them itself
// (docs/PROTOCOL.md §2.5, §2.8).
//
// They are single-use: the first New that takes them (Config.Ephemerals)
// owns them and drops them when the handshake ends or fails; any later use
// fails with ErrEphemeralsUsed. Destroy drops keys that were never used.
// The X25519 secret EK is zeroed; the ML-KEM-1024 key (CIRCL's expanded
// form) and RK_R (a crypto/ecdh key, handed on in Result) can only be
// dropped, not overwritten (as for keys the handshake makes itself). An
// Ephemerals is safe for concurrent use.
type Ephemerals struct {
	mu      sync.Mutex
	role    Role
	level   Level                   // the highest level these keys serve
	eph     *xdh.Key                // EK
	kem     *pqkem.DecapsulationKey // PQ, at maxLevel ≥ enhanced
	ratchet *ecdh.PrivateKey        // RK_R, responder only
	presig  *presignature           // initiator: σ_I made by Presign
	gone    bool                    // taken by a handshake or destroyed
}

// presignature is σ_I made ahead of the handshake, with the th_I it signs.
type presignature struct {
	th  []byte
	sig signature
}

// Prepare makes the ephemeral keys of one handshake for role: the X25519
// key EK, the ML-KEM-1024 decapsulation key when maxLevel is enhanced or
// higher, and on the responder the ratchet key RK_R. It reads randomness
// from r (crypto/rand.Reader if nil) in the order the handshake itself
// would: EK's secret (32 bytes), the ML-KEM-1024 seed d‖z (64), RK_R's
// secret (32). It also builds, once per process, the tables that verifying
// the peer's signature needs, so the first handshake does not pay for them,
// and checks the ML-KEM-1024 key pair (pqkem's PairwiseCheck, with its own
// randomness from crypto/rand), which also runs the code the peer's key and
// ciphertext will need before the connection does.
func Prepare(r io.Reader, role Role, maxLevel Level) (*Ephemerals, error) {
	if role != Initiator && role != Responder {
		return nil, fmt.Errorf("%w: role %v", ErrConfig, role)
	}
	if !maxLevel.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownLevel, maxLevel)
	}
	if r == nil {
		r = rand.Reader
	}
	warmVerify.Do(warmUpVerify)
	e := &Ephemerals{role: role, level: maxLevel}
	var err error
	if e.eph, err = xdh.GenerateKey(r); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if maxLevel >= LevelEnhanced {
		seed := make([]byte, kemSeedSize)
		if _, err := io.ReadFull(r, seed); err != nil {
			return nil, fmt.Errorf("handshake: reading randomness: %w", err)
		}
		e.kem, err = pqkem.NewDecapsulationKey(seed)
		clear(seed)
		if err != nil {
			return nil, err
		}
		if err := e.kem.PairwiseCheck(); err != nil {
			return nil, fmt.Errorf("handshake: %w", err)
		}
	}
	if role == Responder {
		if e.ratchet, err = newX25519Key(r); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Role returns the role the keys were prepared for.
func (e *Ephemerals) Role() Role { return e.role }

// Presigned reports whether Presign made σ_I on these keys (and no
// handshake has taken them yet).
func (e *Ephemerals) Presigned() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.presig != nil
}

// Spent reports whether a handshake took the keys or Destroy dropped them.
func (e *Ephemerals) Spent() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gone
}

// Destroy drops keys that no handshake took (a no-op after one did).
func (e *Ephemerals) Destroy() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.gone && e.eph != nil {
		e.eph.Wipe()
	}
	e.drop()
}

func (e *Ephemerals) drop() {
	e.eph, e.kem, e.ratchet, e.presig = nil, nil, nil, nil
	e.gone = true
}

// Presign makes, on the initiator's keys, the initiator's signature σ_I
// ahead of the handshake: σ_I covers only this side's offer blob, identity
// and Init keys at a level (th_I, docs/PROTOCOL.md §2.5), all known once the
// offer exists, so it can be made while the people exchange blobs instead
// of while the connection is set up. The handshake that takes these keys
// uses it if it runs at level with offerBlob and s's identity, and signs
// again otherwise. A later Presign replaces an earlier one.
func (e *Ephemerals) Presign(s Signer, level Level, offerBlob []byte) error {
	if s == nil || s.Public() == nil {
		return fmt.Errorf("%w: no identity", ErrConfig)
	}
	if !level.Valid() {
		return fmt.Errorf("%w: %d", ErrUnknownLevel, level)
	}
	if len(offerBlob) == 0 || len(offerBlob) > maxBlobLen {
		return fmt.Errorf("%w: offer blob of %d bytes (allowed 1..%d)", ErrConfig, len(offerBlob), maxBlobLen)
	}
	e.mu.Lock()
	switch {
	case e.gone:
		e.mu.Unlock()
		return ErrEphemeralsUsed
	case e.role != Initiator:
		e.mu.Unlock()
		return fmt.Errorf("%w: only the initiator signs ahead (keys prepared for the %v)", ErrConfig, e.role)
	case level > e.level:
		e.mu.Unlock()
		return fmt.Errorf("%w: ephemeral keys prepared for level %v at most, signing for %v", ErrConfig, e.level, level)
	}
	keys := e.eph.PublicKey()
	if level >= LevelEnhanced {
		keys = append(keys, e.kem.EncapsulationKey()...)
	}
	e.mu.Unlock()
	// Sign without the lock: it takes a millisecond, or longer through a
	// key process. The keys may be taken meanwhile; the signature then
	// comes too late for that handshake, which signs itself.
	th := initiatorSigHash(level, offerBlob, s.Public().Bytes(), keys)
	ed, fs, err := signChecked(s, th, level)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return ErrEphemeralsUsed
	}
	e.presig = &presignature{th: th, sig: signature{ed: ed, falcon: fs}}
	return nil
}

// take hands the keys to a handshake of role at level, exactly once. Keys
// made for another role or a lower level are refused and left in place (the
// caller still owns them and should Destroy them).
func (e *Ephemerals) take(role Role, level Level) (eph *xdh.Key, kem *pqkem.DecapsulationKey, ratchet *ecdh.PrivateKey, presig *presignature, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.gone:
		return nil, nil, nil, nil, ErrEphemeralsUsed
	case e.role != role:
		return nil, nil, nil, nil, fmt.Errorf("%w: ephemeral keys prepared for the %v, used by the %v", ErrConfig, e.role, role)
	case level > e.level:
		return nil, nil, nil, nil, fmt.Errorf("%w: ephemeral keys prepared for level %v at most, handshake at %v", ErrConfig, e.level, level)
	}
	eph, ratchet, presig = e.eph, e.ratchet, e.presig
	if level >= LevelEnhanced {
		kem = e.kem
	}
	e.drop()
	return eph, kem, ratchet, presig, nil
}

// newX25519Key makes a crypto/ecdh X25519 key (RK_R, which Result hands
// on as such) from 32 bytes of r.
func newX25519Key(r io.Reader) (*ecdh.PrivateKey, error) {
	b := make([]byte, x25519Size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("handshake: reading randomness: %w", err)
	}
	k, err := ecdh.X25519().NewPrivateKey(b)
	clear(b)
	return k, err
}

var warmVerify sync.Once

// warmUpVerify verifies one Ed25519 signature under a fixed, public key:
// crypto/ed25519 builds its variable-base tables on the first verification
// (about 0.3 ms), which would otherwise fall on the first handshake.
func warmUpVerify() {
	var seed [ed25519.SeedSize]byte
	sk := ed25519.NewKeyFromSeed(seed[:])
	msg := []byte("rtcchat verification warm-up")
	ed25519.Verify(sk.Public().(ed25519.PublicKey), msg, ed25519.Sign(sk, msg))
}

// Precompute prepares the identity's private keys for signing ahead of the
// first handshake: FALCON-1024 signing needs an expanded key (the FFT basis
// and LDL tree, about 0.7 ms) that would otherwise be built on the first
// SignBundle. It must not run concurrently with Destroy.
func (id *Identity) Precompute() error {
	if id.dead {
		return ErrIdentityDestroyed
	}
	if err := id.falcon.Precompute(); err != nil {
		return fmt.Errorf("handshake: expanding the FALCON-1024 key: %w", err)
	}
	return nil
}

// Precomputer is implemented by Signers that can do their per-process
// set-up work (see Identity.Precompute) before the first handshake.
type Precomputer interface {
	Precompute() error
}

var _ Precomputer = (*Identity)(nil)
