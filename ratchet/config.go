package ratchet

import (
	"errors"
	"fmt"
)

// Errors returned by the package. Every rejection wraps one of them and
// leaves the Session unchanged.
var (
	// ErrMalformed: the message (or state) is not well formed.
	ErrMalformed = errors.New("ratchet: malformed message")
	// ErrUnknownKey: no header key of this session opens the header: the
	// message is from another session, tampered with, or from a chain whose
	// keys were already deleted.
	ErrUnknownKey = errors.New("ratchet: header does not decrypt with any key of this session (tampered, foreign, or too old)")
	// ErrReplay: the message's key was already used (a replay or a
	// duplicate) or was evicted from the skipped-key store.
	ErrReplay = errors.New("ratchet: message key already used or evicted (replay, duplicate, or too old)")
	// ErrTooManySkipped: accepting the message would skip more than MaxSkip
	// message keys in one chain.
	ErrTooManySkipped = errors.New("ratchet: message is too far ahead (more than MaxSkip skipped messages)")
	// ErrAuth: the header was authentic but the body failed authentication.
	ErrAuth = errors.New("ratchet: message body failed authentication")
	// ErrProtocol: an authenticated header violates the protocol.
	ErrProtocol = errors.New("ratchet: protocol violation by peer")
	// ErrClosed: the Session was closed and its keys wiped.
	ErrClosed = errors.New("ratchet: session closed")
	// ErrTooLarge: the plaintext exceeds MaxPlaintextSize.
	ErrTooLarge = errors.New("ratchet: plaintext too large")
	// ErrBadState: serialised state failed to decode.
	ErrBadState = errors.New("ratchet: invalid serialised state")
	// ErrUninitialised: the Session was not made by NewInitiator,
	// NewResponder, Unmarshal or UnmarshalBinary.
	ErrUninitialised = errors.New("ratchet: session not initialised (use NewInitiator, NewResponder or Unmarshal)")
	// ErrExhausted: the sending chain reached 2^32-1 messages.
	ErrExhausted = errors.New("ratchet: sending chain exhausted")
)

// Defaults and hard limits for Config.
const (
	DefaultMaxSkip          = 1000
	DefaultMaxSkippedKeys   = 2000
	DefaultMaxSkippedChains = 8
	DefaultPQInterval       = 1

	limitMaxSkip          = 100000
	limitMaxSkippedKeys   = 100000
	limitMaxSkippedChains = 64
	limitPQInterval       = 64
)

// Config selects the ratchet variant and its bounds. The zero value is the
// classic Double Ratchet with default bounds.
type Config struct {
	// PQ turns on the ML-KEM-1024 ratchet (security level "quantum").
	// Levels "standard" and "enhanced" leave it off. Both peers must agree.
	PQ bool
	// MaxSkip bounds the message keys skipped in one chain step (spec
	// MAX_SKIP). 0 means DefaultMaxSkip.
	MaxSkip int
	// MaxSkippedKeys bounds the skipped message keys stored in total; the
	// oldest are evicted first. 0 means DefaultMaxSkippedKeys.
	MaxSkippedKeys int
	// MaxSkippedChains bounds the number of earlier receiving chains whose
	// skipped keys are kept (each costs one header trial decryption per
	// unknown message). 0 means DefaultMaxSkippedChains.
	MaxSkippedChains int
	// PQInterval sets the KEM ratchet's cadence: a KEM object rides on
	// every PQInterval-th new sending chain of this side (PROTOCOL.md §4.6).
	// 1 (the default; 0 means 1) is every direction change: the fastest
	// recovery. Larger values divide the KEM bytes and CPU per message by
	// about PQInterval and lengthen recovery accordingly. A local policy:
	// the peers need not agree.
	PQInterval int

	// Synchronous computes every DH ratchet step entirely inside the
	// Decrypt call that triggers it, as the specification's pseudocode
	// does, and starts no goroutine. By default (false) the sending half of
	// the step (PROTOCOL.md §4.11: the new ratchet key, the second X25519,
	// the ML-KEM operations) runs on a background goroutine started inside
	// Decrypt, beside the receiving half, and the next Encrypt (or
	// MarshalBinary) waits for it: the same state, the same messages, less
	// latency. A local choice, not stored in the state.
	Synchronous bool
	// KeysAhead keeps the next X25519 key pair (and, on a side that
	// generates ML-KEM keys, the next ML-KEM-1024 key pair) generated in
	// the background one ratchet step before it is used, so no key
	// generation is left on the path of a direction change. It weakens
	// break-in recovery after a compromise of the process memory by one
	// round trip (the pre-generated key is in memory up to one step before
	// it is used; PROTOCOL.md §4.11); a stolen serialised state is not
	// affected (pre-generated keys are never serialised). Ignored when
	// Synchronous is set. A local choice, not stored in the state.
	KeysAhead bool
	// Keys, if set, supplies NewInitiator's first ratchet key pairs
	// (GenerateKeys), made ahead of the session, for example while the
	// connection is being set up, so NewInitiator generates none. They are
	// taken by the first NewInitiator that gets them (a second use fails)
	// and ignored by NewResponder and Unmarshal.
	Keys *Keys
}

func (c Config) normalise() (Config, error) {
	if c.MaxSkip == 0 {
		c.MaxSkip = DefaultMaxSkip
	}
	if c.MaxSkippedKeys == 0 {
		c.MaxSkippedKeys = DefaultMaxSkippedKeys
	}
	if c.MaxSkippedChains == 0 {
		c.MaxSkippedChains = DefaultMaxSkippedChains
	}
	if c.PQInterval == 0 {
		c.PQInterval = DefaultPQInterval
	}
	if c.PQInterval < 0 || c.PQInterval > limitPQInterval {
		return c, fmt.Errorf("ratchet: PQInterval %d out of range 1..%d", c.PQInterval, limitPQInterval)
	}
	if c.MaxSkip < 0 || c.MaxSkip > limitMaxSkip {
		return c, fmt.Errorf("ratchet: MaxSkip %d out of range 1..%d", c.MaxSkip, limitMaxSkip)
	}
	if c.MaxSkippedKeys < 0 || c.MaxSkippedKeys > limitMaxSkippedKeys {
		return c, fmt.Errorf("ratchet: MaxSkippedKeys %d out of range 1..%d", c.MaxSkippedKeys, limitMaxSkippedKeys)
	}
	if c.MaxSkippedChains < 0 || c.MaxSkippedChains > limitMaxSkippedChains {
		return c, fmt.Errorf("ratchet: MaxSkippedChains %d out of range 1..%d", c.MaxSkippedChains, limitMaxSkippedChains)
	}
	return c, nil
}
