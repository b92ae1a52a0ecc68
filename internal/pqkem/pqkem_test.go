package pqkem

import (
	"bytes"
	"crypto/hkdf"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
)

// setCoeff writes the 12-bit coefficient i of an encoded ML-KEM vector.
func setCoeff(ek []byte, i int, v uint16) {
	b := ek[3*(i/2):]
	if i%2 == 0 {
		b[0] = byte(v)
		b[1] = b[1]&0xf0 | byte(v>>8)&0x0f
	} else {
		b[1] = b[1]&0x0f | byte(v<<4)
		b[2] = byte(v >> 4)
	}
}

// TestMLKEMMatchesStdlib: from the same seeds and encapsulation randomness
// this package gives the same encapsulation keys, ciphertexts and shared
// secrets as crypto/mlkem, also for tampered ciphertexts (implicit
// rejection), and rejects the same keys.
func TestMLKEMMatchesStdlib(t *testing.T) {
	for i := range 40 {
		seed := make([]byte, SeedSize)
		rand.Read(seed)
		ours, err := NewDecapsulationKey(seed)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := mlkem.NewDecapsulationKey1024(seed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.EncapsulationKey(), ref.EncapsulationKey().Bytes()) {
			t.Fatalf("seed %d: encapsulation keys differ", i)
		}
		ek, err := NewEncapsulationKey(ours.EncapsulationKey())
		if err != nil {
			t.Fatal(err)
		}
		m := make([]byte, RandomnessSize)
		rand.Read(m)
		ss, ct, err := ek.EncapsulateWith(m)
		if err != nil {
			t.Fatal(err)
		}
		rss, rct, err := mlkemtest.Encapsulate1024(ref.EncapsulationKey(), m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ss, rss) || !bytes.Equal(ct, rct) {
			t.Fatalf("seed %d: encapsulation differs", i)
		}
		got, err := ours.Decapsulate(ct)
		if err != nil || !bytes.Equal(got, ss) {
			t.Fatalf("seed %d: decapsulation: %v", i, err)
		}
		ct[i%len(ct)] ^= 1 << (i % 8)
		got, _ = ours.Decapsulate(ct)
		want, err := ref.Decapsulate(ct)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || bytes.Equal(got, ss) {
			t.Fatalf("seed %d: implicit rejection differs", i)
		}
		if _, err := ours.Decapsulate(ct[1:]); !errors.Is(err, ErrCiphertextLength) {
			t.Fatalf("short ciphertext: %v", err)
		}
		if _, _, err := ek.EncapsulateWith(m[1:]); err == nil {
			t.Fatal("short encapsulation randomness accepted")
		}
		fresh1, ct1, err := ek.Encapsulate()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := ref.Decapsulate(ct1); !bytes.Equal(got, fresh1) {
			t.Fatalf("seed %d: crypto/mlkem does not decapsulate our fresh encapsulation", i)
		}
		bad := bytes.Clone(ours.EncapsulationKey())
		setCoeff(bad, i, 3329+uint16(i))
		if _, err := NewEncapsulationKey(bad); !errors.Is(err, ErrModulus) {
			t.Fatalf("key failing the modulus check: %v", err)
		}
	}
	if _, err := NewDecapsulationKey(make([]byte, SeedSize-1)); err == nil {
		t.Fatal("short seed accepted")
	}
}

// TestEncapsulationKeyCheck: NewEncapsulationKey and ModulusOK accept
// exactly the keys crypto/mlkem's NewEncapsulationKey1024 accepts (the
// ratchet relies on this: its background job cannot fail to parse a key
// that Decrypt accepted with ModulusOK).
func TestEncapsulationKeyCheck(t *testing.T) {
	dk, err := mlkem.GenerateKey1024()
	if err != nil {
		t.Fatal(err)
	}
	valid := dk.EncapsulationKey().Bytes()
	agree := func(name string, ek []byte, want bool) {
		t.Helper()
		_, perr := mlkem.NewEncapsulationKey1024(ek)
		e, err := NewEncapsulationKey(ek)
		if got := ModulusOK(ek); got != want || got != (perr == nil) || got != (err == nil) {
			t.Errorf("%s: ModulusOK=%v, NewEncapsulationKey: %v, want %v; crypto/mlkem: %v", name, got, err, want, perr)
		}
		if err == nil && !bytes.Equal(e.Bytes(), ek) {
			t.Errorf("%s: Bytes differs from the input", name)
		}
	}
	agree("valid key", valid, true)
	agree("short", valid[:len(valid)-1], false)
	agree("long", append(bytes.Clone(valid), 0), false)
	agree("empty", nil, false)
	for _, i := range []int{0, 1, 2, 3, 510, 511, 512, 1023} {
		for _, v := range []uint16{0, 3328, 3329, 3330, 4095} {
			ek := bytes.Clone(valid)
			setCoeff(ek, i, v)
			agree(fmt.Sprintf("coefficient %d = %d", i, v), ek, v < 3329)
		}
	}
	ek := bytes.Clone(valid)
	for i := 1536; i < len(ek); i++ {
		ek[i] = 0xff // ρ is not checked
	}
	agree("rho all ones", ek, true)
	for i := range 50 {
		ek := make([]byte, EncapsulationKeySize)
		rand.Read(ek)
		if i%2 == 0 { // all coefficients reduced: a valid key
			for c := range 1024 {
				var r [2]byte
				rand.Read(r[:])
				setCoeff(ek, c, (uint16(r[0])|uint16(r[1])<<8)%3329)
			}
		}
		agree(fmt.Sprintf("random %d", i), ek, i%2 == 0)
	}
	if _, err := NewEncapsulationKey(valid[1:]); !errors.Is(err, ErrKeyLength) {
		t.Errorf("short key: %v, want ErrKeyLength", err)
	}
	a, _ := NewEncapsulationKey(valid)
	b, _ := NewEncapsulationKey(ek)
	if !a.Equal(a) || a.Equal(b) {
		t.Error("Equal is wrong")
	}
}

// FuzzNewEncapsulationKey: the key check agrees with crypto/mlkem on any
// input, and an accepted key encapsulates as crypto/mlkem does.
func FuzzNewEncapsulationKey(f *testing.F) {
	dk, err := mlkem.GenerateKey1024()
	if err != nil {
		f.Fatal(err)
	}
	valid := dk.EncapsulationKey().Bytes()
	f.Add(valid)
	bad := bytes.Clone(valid)
	setCoeff(bad, 7, 3329)
	f.Add(bad)
	f.Add([]byte{1, 2, 3})
	m := make([]byte, RandomnessSize)
	f.Fuzz(func(t *testing.T, b []byte) {
		ref, rerr := mlkem.NewEncapsulationKey1024(b)
		ek, err := NewEncapsulationKey(b)
		if (err == nil) != (rerr == nil) || ModulusOK(b) != (rerr == nil) {
			t.Fatalf("NewEncapsulationKey: %v, ModulusOK=%v, crypto/mlkem: %v", err, ModulusOK(b), rerr)
		}
		if err != nil {
			return
		}
		ss, ct, err := ek.EncapsulateWith(m)
		if err != nil {
			t.Fatal(err)
		}
		rss, rct, err := mlkemtest.Encapsulate1024(ref, m)
		if err != nil || !bytes.Equal(ss, rss) || !bytes.Equal(ct, rct) {
			t.Fatalf("encapsulation differs from crypto/mlkem (%v)", err)
		}
	})
}

// BenchmarkMLKEM compares this package with crypto/mlkem in the same run.
func BenchmarkMLKEM(b *testing.B) {
	seed := make([]byte, SeedSize)
	rand.Read(seed)
	ours, _ := NewDecapsulationKey(seed)
	ref, _ := mlkem.NewDecapsulationKey1024(seed)
	ek, _ := NewEncapsulationKey(ours.EncapsulationKey())
	_, ct, _ := ek.EncapsulateWith(make([]byte, RandomnessSize))
	b.Run("keygen/circl", func(b *testing.B) {
		for b.Loop() {
			NewDecapsulationKey(seed)
		}
	})
	b.Run("keygen/crypto-mlkem", func(b *testing.B) {
		for b.Loop() {
			mlkem.NewDecapsulationKey1024(seed)
		}
	})
	b.Run("parse-ek/circl", func(b *testing.B) {
		for b.Loop() {
			NewEncapsulationKey(ours.EncapsulationKey())
		}
	})
	b.Run("parse-ek/crypto-mlkem", func(b *testing.B) {
		for b.Loop() {
			mlkem.NewEncapsulationKey1024(ours.EncapsulationKey())
		}
	})
	b.Run("encaps/circl", func(b *testing.B) {
		for b.Loop() {
			ek.Encapsulate()
		}
	})
	rek := ref.EncapsulationKey()
	b.Run("encaps/crypto-mlkem", func(b *testing.B) {
		for b.Loop() {
			rek.Encapsulate()
		}
	})
	b.Run("decaps/circl", func(b *testing.B) {
		for b.Loop() {
			ours.Decapsulate(ct)
		}
	})
	b.Run("decaps/crypto-mlkem", func(b *testing.B) {
		for b.Loop() {
			ref.Decapsulate(ct)
		}
	})
}

// BenchmarkKDFAfterMLKEM: a CIRCL ML-KEM decapsulation followed by an
// HKDF-SHA256 derivation, with the AVX state cleared in between (AVXClean,
// as this package does) and without; "decaps-only" is the decapsulation
// alone. The difference is the reason for AVXClean (vzeroupper_amd64.go).
func BenchmarkKDFAfterMLKEM(b *testing.B) {
	seed := make([]byte, SeedSize)
	rand.Read(seed)
	pk, sk := mlkem1024.NewKeyFromSeed(seed)
	ct := make([]byte, CiphertextSize)
	ss := make([]byte, SharedKeySize)
	pk.EncapsulateTo(ct, ss, make([]byte, RandomnessSize))
	AVXClean()
	salt := make([]byte, 32)
	b.Run("decaps-only", func(b *testing.B) {
		for b.Loop() {
			sk.DecapsulateTo(ss, ct)
			AVXClean()
		}
	})
	for _, clean := range []bool{true, false} {
		b.Run(map[bool]string{true: "cleared", false: "dirty"}[clean], func(b *testing.B) {
			for b.Loop() {
				sk.DecapsulateTo(ss, ct)
				if clean {
					AVXClean()
				}
				prk, _ := hkdf.Extract(sha256.New, ss, salt)
				hkdf.Expand(sha256.New, prk, "bench", 64)
			}
		})
	}
}

// TestPairwiseCheck: a fresh key pair passes; the same decapsulation key
// with a corrupted encapsulation key fails (the flipped coefficient keeps the
// modulus check happy, so the failure is the secrets differing), and so does
// one that the modulus check refuses.
func TestPairwiseCheck(t *testing.T) {
	seed := make([]byte, SeedSize)
	seed[0] = 7
	k, err := NewDecapsulationKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.PairwiseCheck(); err != nil {
		t.Fatal(err)
	}
	good := bytes.Clone(k.ek)
	k.ek[100] ^= 1
	if err := k.PairwiseCheck(); !errors.Is(err, ErrPairwise) {
		t.Fatalf("corrupted key: %v", err)
	}
	copy(k.ek, good)
	setCoeff(k.ek, 0, 4095) // ≥ q
	if err := k.PairwiseCheck(); !errors.Is(err, ErrPairwise) {
		t.Fatalf("key failing the modulus check: %v", err)
	}
}
