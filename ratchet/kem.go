package ratchet

import (
	"crypto/rand"
	"fmt"

	"github.com/rtcchat/rtcchat/internal/pqkem"
)

// ML-KEM-1024 (FIPS 203) for the KEM ratchet, from internal/pqkem (CIRCL's
// implementation, about 2.5 to 4 times faster than crypto/mlkem here, with
// the FIPS 203 §7.2 key check and the AVX state cleared after each call).
// The ratchet does one key generation, encapsulation and decapsulation per
// round trip. internal/pqkem's tests check it against crypto/mlkem, and the
// test vectors were made with crypto/mlkem.

// kemSeedSize is the size of an ML-KEM key generation seed d ‖ z (FIPS 203
// §7.1), the form in which the state stores a decapsulation key.
const kemSeedSize = pqkem.SeedSize

// kemDK is our ML-KEM-1024 key pair with its seed and encoded
// encapsulation key.
type kemDK struct {
	seed [kemSeedSize]byte
	dk   *pqkem.DecapsulationKey
	ek   []byte // encapsulation key, KEMObjectSize bytes
}

// newKEMDK expands a 64-byte seed d ‖ z (ML-KEM.KeyGen_internal).
func newKEMDK(seed []byte) (*kemDK, error) {
	if len(seed) != kemSeedSize {
		return nil, fmt.Errorf("ratchet: ML-KEM seed is %d bytes, want %d", len(seed), kemSeedSize)
	}
	k := new(kemDK)
	copy(k.seed[:], seed)
	dk, err := pqkem.NewDecapsulationKey(k.seed[:])
	if err != nil {
		return nil, err
	}
	k.dk, k.ek = dk, dk.EncapsulationKey()
	return k, nil
}

func generateKEMDK() (*kemDK, error) {
	var seed [kemSeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	k, err := newKEMDK(seed[:])
	clear(seed[:])
	return k, err
}

// decapsulate is ML-KEM.Decaps (with implicit rejection: a bad ciphertext
// of the right length gives a pseudorandom secret, not an error).
func (k *kemDK) decapsulate(ct []byte) ([]byte, error) {
	return k.dk.Decapsulate(ct)
}

// wipe zeroes the seed (CIRCL's expanded key cannot be zeroed from
// outside; it is dropped).
func (k *kemDK) wipe() {
	clear(k.seed[:])
	k.dk = nil
}

// kemEK is a peer's ML-KEM-1024 encapsulation key.
type kemEK struct {
	raw []byte
	ek  *pqkem.EncapsulationKey
}

// parseKEMEK decodes an encapsulation key with FIPS 203 §7.2's input
// check (ekModulusOK).
func parseKEMEK(b []byte) (*kemEK, error) {
	ek, err := pqkem.NewEncapsulationKey(b)
	if err != nil {
		return nil, err
	}
	return &kemEK{raw: ek.Bytes(), ek: ek}, nil
}

// encapsulateWith is ML-KEM.Encaps_internal with the 32-byte randomness m.
func (e *kemEK) encapsulateWith(m []byte) (ss, ct []byte) {
	ss, ct, err := e.ek.EncapsulateWith(m)
	if err != nil {
		panic(err) // m has the wrong length: a bug of the caller
	}
	return ss, ct
}

// encapsulate is ML-KEM.Encaps with fresh randomness.
func (e *kemEK) encapsulate() (ss, ct []byte, err error) {
	return e.ek.Encapsulate()
}

// ekModulusOK is FIPS 203 §7.2's encapsulation key check (the "modulus
// check", pqkem.ModulusOK), including the length. It is the only check
// crypto/mlkem's NewEncapsulationKey1024 makes on a key of the right
// length, so Decrypt can reject a bad key at once and leave the parsing
// (which expands the matrix Â) to the background job.
func ekModulusOK(ek []byte) bool { return pqkem.ModulusOK(ek) }
