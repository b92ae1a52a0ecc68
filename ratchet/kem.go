package ratchet

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
)

// ML-KEM-1024 (FIPS 203) for the KEM ratchet, on CIRCL's implementation
// (github.com/cloudflare/circl/kem/mlkem/mlkem1024), whose vectorised
// (AVX2) polynomial arithmetic makes key generation, encapsulation,
// decapsulation and key parsing about 2.5 to 4 times faster than
// crypto/mlkem here (BenchmarkMLKEM compares them in one run). The ratchet
// does one of each per round trip. TestMLKEMMatchesStdlib checks keys,
// ciphertexts and shared secrets (including implicit rejection) against
// crypto/mlkem, and the test vectors were made with crypto/mlkem.

// kemSeedSize is the size of an ML-KEM key generation seed d ‖ z (FIPS 203
// §7.1), the form in which the state stores a decapsulation key.
const kemSeedSize = mlkem1024.KeySeedSize

// kemDK is our ML-KEM-1024 key pair with its seed and encoded
// encapsulation key.
type kemDK struct {
	seed [kemSeedSize]byte
	sk   *mlkem1024.PrivateKey
	ek   []byte // encapsulation key, KEMObjectSize bytes
}

// newKEMDK expands a 64-byte seed d ‖ z (ML-KEM.KeyGen_internal).
func newKEMDK(seed []byte) (*kemDK, error) {
	if len(seed) != kemSeedSize {
		return nil, fmt.Errorf("ratchet: ML-KEM seed is %d bytes, want %d", len(seed), kemSeedSize)
	}
	k := &kemDK{ek: make([]byte, KEMObjectSize)}
	copy(k.seed[:], seed)
	pk, sk := mlkem1024.NewKeyFromSeed(k.seed[:])
	pk.Pack(k.ek)
	avxClean()
	k.sk = sk
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
	if len(ct) != mlkem1024.CiphertextSize {
		return nil, errors.New("ML-KEM-1024 ciphertext of the wrong length")
	}
	ss := make([]byte, mlkem1024.SharedKeySize)
	k.sk.DecapsulateTo(ss, ct)
	avxClean()
	return ss, nil
}

// wipe zeroes the seed (CIRCL's expanded key cannot be zeroed from
// outside; it is dropped).
func (k *kemDK) wipe() {
	clear(k.seed[:])
	k.sk = nil
}

// kemEK is a peer's ML-KEM-1024 encapsulation key.
type kemEK struct {
	raw []byte
	pk  *mlkem1024.PublicKey
}

// parseKEMEK decodes an encapsulation key with FIPS 203 §7.2's input
// check (ekModulusOK; CIRCL makes the same check).
func parseKEMEK(b []byte) (*kemEK, error) {
	if !ekModulusOK(b) {
		return nil, errors.New("ML-KEM-1024 encapsulation key fails the FIPS 203 modulus check")
	}
	pk := new(mlkem1024.PublicKey)
	err := pk.Unpack(b)
	avxClean()
	if err != nil {
		return nil, err
	}
	return &kemEK{raw: append([]byte(nil), b...), pk: pk}, nil
}

// encapsulateWith is ML-KEM.Encaps_internal with the 32-byte randomness m.
func (e *kemEK) encapsulateWith(m []byte) (ss, ct []byte) {
	ss = make([]byte, mlkem1024.SharedKeySize)
	ct = make([]byte, mlkem1024.CiphertextSize)
	e.pk.EncapsulateTo(ct, ss, m)
	avxClean()
	return ss, ct
}

// encapsulate is ML-KEM.Encaps with fresh randomness.
func (e *kemEK) encapsulate() (ss, ct []byte, err error) {
	var m [mlkem1024.EncapsulationSeedSize]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, nil, err
	}
	ss, ct = e.encapsulateWith(m[:])
	clear(m[:])
	return ss, ct, nil
}

// equal reports whether two encapsulation keys are the same.
func (e *kemEK) equal(o *kemEK) bool {
	return subtle.ConstantTimeCompare(e.raw, o.raw) == 1
}
