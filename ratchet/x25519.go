package ratchet

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"

	"github.com/cloudflare/circl/dh/x25519"
)

// X25519 (RFC 7748) for the ratchet keys, on CIRCL's implementation
// (github.com/cloudflare/circl/dh/x25519): its fixed-base multiplication
// for key generation (a precomputed ladder) takes about 30 µs and its
// variable-base one about 50 µs on amd64, against about 70-80 µs each for
// crypto/ecdh here, and it computes a shared secret from a raw scalar
// without first deriving the public key (crypto/ecdh derives it whenever a
// private key is built). The ratchet does three X25519 multiplications per
// direction change, which dominate its cost. TestX25519MatchesECDH checks
// the results against crypto/ecdh, RFC 7748's vectors, and the low-order
// inputs. Keys are held as bytes, so they can be zeroed.

// xKey is an X25519 key pair: the private scalar as given (clamped when
// used, RFC 7748 §5) and its public key.
type xKey struct {
	priv [32]byte
	pub  [32]byte
}

// newXKey builds a key pair from a 32-byte private key.
func newXKey(priv []byte) (*xKey, error) {
	if len(priv) != 32 {
		return nil, errors.New("ratchet: X25519 private key is not 32 bytes")
	}
	k := new(xKey)
	copy(k.priv[:], priv)
	x25519.KeyGen((*x25519.Key)(&k.pub), (*x25519.Key)(&k.priv))
	return k, nil
}

// generateXKey draws a fresh key pair from crypto/rand.
func generateXKey() (*xKey, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	k, err := newXKey(b[:])
	clear(b[:])
	return k, err
}

var errLowOrder = errors.New("X25519 output is all zeros (low-order public key)")

// dh is X25519(priv, peer). A low-order peer key, whose output would be
// all zeros, is an error (RFC 7748 §6.1), as in crypto/ecdh.
func (k *xKey) dh(peer *[32]byte) ([]byte, error) {
	out := make([]byte, 32)
	ok := x25519.Shared((*x25519.Key)(out), (*x25519.Key)(&k.priv), (*x25519.Key)(peer))
	var zero [32]byte
	if !ok || subtle.ConstantTimeCompare(out, zero[:]) == 1 {
		clear(out)
		return nil, errLowOrder
	}
	return out, nil
}

// wipe zeroes the private key.
func (k *xKey) wipe() {
	clear(k.priv[:])
}
