// Package x25519 is X25519 (RFC 7748) for the handshake and the ratchet, on
// CIRCL's implementation (github.com/cloudflare/circl/dh/x25519): its
// fixed-base multiplication for key generation (a precomputed ladder)
// takes about 30 µs and its variable-base one about 50 µs on amd64,
// against about 70-80 µs each for crypto/ecdh here, and it computes a
// shared secret from a raw scalar without first deriving the public key
// (crypto/ecdh derives it whenever a private key is built). Keys are plain
// bytes, so they can be zeroed. TestX25519MatchesECDH checks the results
// against crypto/ecdh, RFC 7748's vectors, and the low-order inputs.
package x25519

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/dh/x25519"
)

// Size is the size of a private key, a public key and a shared secret.
const Size = x25519.Size

var (
	// ErrLowOrder: the peer's public key is a low-order point, so the
	// shared secret would be all zeros (RFC 7748 §6.1).
	ErrLowOrder = errors.New("X25519 output is all zeros (low-order public key)")
	// ErrLength: a key that is not 32 bytes.
	ErrLength = errors.New("X25519 key is not 32 bytes")
)

// PublicKey sets pub to X25519(priv, 9), the public key of the 32-byte
// private key priv (clamped, RFC 7748 §5).
func PublicKey(pub, priv []byte) error {
	if len(pub) != Size || len(priv) != Size {
		return ErrLength
	}
	x25519.KeyGen((*x25519.Key)(pub), (*x25519.Key)(priv))
	return nil
}

// X25519 returns X25519(priv, peer) (RFC 7748 §5; the peer's high bit is
// ignored and non-canonical values are reduced, as in crypto/ecdh). An
// all-zero output, from a low-order peer key, is ErrLowOrder (RFC 7748
// §6.1), as in crypto/ecdh.
func X25519(priv, peer []byte) ([]byte, error) {
	if len(priv) != Size || len(peer) != Size {
		return nil, ErrLength
	}
	out := make([]byte, Size)
	ok := x25519.Shared((*x25519.Key)(out), (*x25519.Key)(priv), (*x25519.Key)(peer))
	var zero [Size]byte
	if !ok || subtle.ConstantTimeCompare(out, zero[:]) == 1 {
		clear(out)
		return nil, ErrLowOrder
	}
	return out, nil
}

// Key is an X25519 key pair: the private key as given (clamped when used)
// and its public key.
type Key struct {
	priv, pub [Size]byte
}

// NewKey builds a key pair from a 32-byte private key (copied).
func NewKey(priv []byte) (*Key, error) {
	if len(priv) != Size {
		return nil, ErrLength
	}
	k := new(Key)
	copy(k.priv[:], priv)
	x25519.KeyGen((*x25519.Key)(&k.pub), (*x25519.Key)(&k.priv))
	return k, nil
}

// GenerateKey builds a key pair from 32 bytes of r.
func GenerateKey(r io.Reader) (*Key, error) {
	var b [Size]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	k, err := NewKey(b[:])
	clear(b[:])
	return k, err
}

// PublicKey returns a copy of the public key.
func (k *Key) PublicKey() []byte { return append([]byte(nil), k.pub[:]...) }

// Bytes returns a copy of the private key.
func (k *Key) Bytes() []byte { return append([]byte(nil), k.priv[:]...) }

// ECDH is X25519(k, peer), with X25519's checks.
func (k *Key) ECDH(peer []byte) ([]byte, error) { return X25519(k.priv[:], peer) }

// Wipe zeroes the private key; the key cannot be used afterwards.
func (k *Key) Wipe() { clear(k.priv[:]) }
