// Package pqkem is ML-KEM-1024 (FIPS 203) for the handshake and the
// ratchet, on CIRCL's implementation
// (github.com/cloudflare/circl/kem/mlkem/mlkem1024), whose vectorised
// (AVX2) polynomial arithmetic makes key generation, encapsulation,
// decapsulation and key parsing about 2.5 to 4 times faster than
// crypto/mlkem on amd64 (BenchmarkMLKEM compares them in one run).
//
// It adds what CIRCL leaves to the caller: FIPS 203 §7.2's encapsulation
// key check (ModulusOK) before a key is used, length checks that return
// errors instead of panicking, and clearing the AVX upper state after
// every call into CIRCL (AVXClean, vzeroupper_amd64.go).
// TestMLKEMMatchesStdlib checks keys, ciphertexts and shared secrets
// (including implicit rejection) and the key check against crypto/mlkem.
package pqkem

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
)

// Sizes of ML-KEM-1024's objects (FIPS 203 §8, Table 3).
const (
	// SeedSize is the key generation seed d ‖ z (FIPS 203 §7.1).
	SeedSize = mlkem1024.KeySeedSize
	// EncapsulationKeySize is the encoded encapsulation key ek.
	EncapsulationKeySize = mlkem1024.PublicKeySize
	// CiphertextSize is the ciphertext c.
	CiphertextSize = mlkem1024.CiphertextSize
	// SharedKeySize is the shared secret K.
	SharedKeySize = mlkem1024.SharedKeySize
	// RandomnessSize is the encapsulation randomness m (FIPS 203 §6.2).
	RandomnessSize = mlkem1024.EncapsulationSeedSize
)

var (
	// ErrKeyLength: an encapsulation key that is not EncapsulationKeySize bytes.
	ErrKeyLength = errors.New("ML-KEM-1024 encapsulation key of the wrong length")
	// ErrModulus: an encapsulation key that fails FIPS 203 §7.2's modulus check.
	ErrModulus = errors.New("ML-KEM-1024 encapsulation key fails the FIPS 203 modulus check")
	// ErrCiphertextLength: a ciphertext that is not CiphertextSize bytes.
	ErrCiphertextLength = errors.New("ML-KEM-1024 ciphertext of the wrong length")
)

// DecapsulationKey is an ML-KEM-1024 key pair: CIRCL's expanded
// decapsulation key and the encoded encapsulation key.
type DecapsulationKey struct {
	sk *mlkem1024.PrivateKey
	ek []byte
}

// NewDecapsulationKey expands a 64-byte seed d ‖ z (ML-KEM.KeyGen_internal,
// FIPS 203 §6.1). The seed is not kept.
func NewDecapsulationKey(seed []byte) (*DecapsulationKey, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("ML-KEM-1024 seed is %d bytes, want %d", len(seed), SeedSize)
	}
	pk, sk := mlkem1024.NewKeyFromSeed(seed)
	k := &DecapsulationKey{sk: sk, ek: make([]byte, EncapsulationKeySize)}
	pk.Pack(k.ek)
	AVXClean()
	return k, nil
}

// EncapsulationKey returns the encoded encapsulation key (the caller must
// not modify it).
func (k *DecapsulationKey) EncapsulationKey() []byte { return k.ek }

// Decapsulate is ML-KEM.Decaps (FIPS 203 §7.3), with implicit rejection: a
// bad ciphertext of the right length gives a pseudorandom secret, not an
// error. Only a wrong length is an error (ErrCiphertextLength).
func (k *DecapsulationKey) Decapsulate(ct []byte) ([]byte, error) {
	if len(ct) != CiphertextSize {
		return nil, ErrCiphertextLength
	}
	ss := make([]byte, SharedKeySize)
	k.sk.DecapsulateTo(ss, ct)
	AVXClean()
	return ss, nil
}

// EncapsulationKey is a peer's ML-KEM-1024 encapsulation key.
type EncapsulationKey struct {
	raw []byte
	pk  *mlkem1024.PublicKey
}

// NewEncapsulationKey decodes an encapsulation key after FIPS 203 §7.2's
// input checks: the length (ErrKeyLength) and the modulus check
// (ErrModulus). The bytes are copied.
func NewEncapsulationKey(b []byte) (*EncapsulationKey, error) {
	if len(b) != EncapsulationKeySize {
		return nil, ErrKeyLength
	}
	if !ModulusOK(b) {
		return nil, ErrModulus
	}
	pk := new(mlkem1024.PublicKey)
	err := pk.Unpack(b) // makes the same check again
	AVXClean()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModulus, err)
	}
	return &EncapsulationKey{raw: append([]byte(nil), b...), pk: pk}, nil
}

// Bytes returns the encoded key (the caller must not modify it).
func (e *EncapsulationKey) Bytes() []byte { return e.raw }

// Equal reports, in constant time, whether two keys are the same.
func (e *EncapsulationKey) Equal(o *EncapsulationKey) bool {
	return subtle.ConstantTimeCompare(e.raw, o.raw) == 1
}

// EncapsulateWith is ML-KEM.Encaps_internal (FIPS 203 §6.2) with the
// 32-byte randomness m, which must be fresh and secret (it determines the
// shared secret); a wrong length is an error.
func (e *EncapsulationKey) EncapsulateWith(m []byte) (ss, ct []byte, err error) {
	if len(m) != RandomnessSize {
		return nil, nil, fmt.Errorf("ML-KEM-1024 encapsulation randomness is %d bytes, want %d", len(m), RandomnessSize)
	}
	ss = make([]byte, SharedKeySize)
	ct = make([]byte, CiphertextSize)
	e.pk.EncapsulateTo(ct, ss, m)
	AVXClean()
	return ss, ct, nil
}

// Encapsulate is ML-KEM.Encaps (FIPS 203 §7.2) with randomness from
// crypto/rand.
func (e *EncapsulationKey) Encapsulate() (ss, ct []byte, err error) {
	var m [RandomnessSize]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, nil, err
	}
	ss, ct, err = e.EncapsulateWith(m[:])
	clear(m[:])
	return ss, ct, err
}

// ModulusOK is FIPS 203 §7.2's encapsulation key check (the "modulus
// check") for ML-KEM-1024: the key has the right length and every 12-bit
// coefficient of the encoded vector t̂ (the first 384·k bytes) is below q,
// i.e. ByteEncode12(ByteDecode12(t̂)) = t̂. It is the only check
// crypto/mlkem's NewEncapsulationKey1024 makes on a key of the right
// length, and it is cheap: a caller can reject a bad key at once and leave
// the parsing (which expands the matrix Â) for later.
func ModulusOK(ek []byte) bool {
	const q = 3329
	if len(ek) != EncapsulationKeySize {
		return false
	}
	for i := 0; i < 4*384; i += 3 {
		d1 := uint16(ek[i]) | uint16(ek[i+1]&0x0f)<<8
		d2 := uint16(ek[i+1]>>4) | uint16(ek[i+2])<<4
		if d1 >= q || d2 >= q {
			return false
		}
	}
	return true
}

// ErrPairwise means a key pair failed PairwiseCheck.
var ErrPairwise = errors.New("ML-KEM-1024 pairwise consistency check failed: the encapsulation key does not match the decapsulation key")

// PairwiseCheck is a pairwise consistency test of a freshly made key pair
// (as FIPS 140-3 asks of key generation): it decodes the encapsulation key
// with the input checks a peer applies, encapsulates to it, decapsulates,
// and compares the secrets. A key that a fault corrupted is caught here,
// not by the peer's key confirmation; the test also runs, ahead of the
// connection, the code the handshake needs when the peer's key arrives.
func (k *DecapsulationKey) PairwiseCheck() error {
	ek, err := NewEncapsulationKey(k.ek)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPairwise, err)
	}
	ss, ct, err := ek.Encapsulate()
	if err != nil {
		return err
	}
	defer clear(ss)
	got, err := k.Decapsulate(ct)
	if err != nil {
		return err
	}
	defer clear(got)
	if subtle.ConstantTimeCompare(ss, got) != 1 {
		return ErrPairwise
	}
	return nil
}
