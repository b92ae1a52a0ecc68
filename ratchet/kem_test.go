package ratchet

import (
	"bytes"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/rand"
	"testing"
)

// TestMLKEMMatchesStdlib: the ratchet's ML-KEM-1024 gives, from the same
// seeds and encapsulation randomness, the same encapsulation keys,
// ciphertexts and shared secrets as crypto/mlkem, also for tampered
// ciphertexts (implicit rejection), and rejects the same keys.
func TestMLKEMMatchesStdlib(t *testing.T) {
	for i := range 40 {
		seed := make([]byte, kemSeedSize)
		rand.Read(seed)
		ours, err := newKEMDK(seed)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := mlkem.NewDecapsulationKey1024(seed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.ek, ref.EncapsulationKey().Bytes()) {
			t.Fatalf("seed %d: encapsulation keys differ", i)
		}
		ek, err := parseKEMEK(ours.ek)
		if err != nil {
			t.Fatal(err)
		}
		m := make([]byte, 32)
		rand.Read(m)
		ss, ct := ek.encapsulateWith(m)
		rss, rct, err := mlkemtest.Encapsulate1024(ref.EncapsulationKey(), m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ss, rss) || !bytes.Equal(ct, rct) {
			t.Fatalf("seed %d: encapsulation differs", i)
		}
		got, err := ours.decapsulate(ct)
		if err != nil || !bytes.Equal(got, ss) {
			t.Fatalf("seed %d: decapsulation: %v", i, err)
		}
		ct[i%len(ct)] ^= 1 << (i % 8)
		got, _ = ours.decapsulate(ct)
		want, err := ref.Decapsulate(ct)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || bytes.Equal(got, ss) {
			t.Fatalf("seed %d: implicit rejection differs", i)
		}
		if _, err := ours.decapsulate(ct[1:]); err == nil {
			t.Fatal("short ciphertext accepted")
		}
		bad := bytes.Clone(ours.ek)
		setCoeff(bad, i, 3329+uint16(i))
		if _, err := parseKEMEK(bad); err == nil {
			t.Fatal("key failing the modulus check accepted")
		}
	}
}

// BenchmarkMLKEM compares the ratchet's ML-KEM-1024 with crypto/mlkem's in
// the same run.
func BenchmarkMLKEM(b *testing.B) {
	seed := make([]byte, kemSeedSize)
	rand.Read(seed)
	ours, _ := newKEMDK(seed)
	ref, _ := mlkem.NewDecapsulationKey1024(seed)
	ek, _ := parseKEMEK(ours.ek)
	_, ct := ek.encapsulateWith(make([]byte, 32))
	b.Run("keygen/circl", func(b *testing.B) {
		for b.Loop() {
			newKEMDK(seed)
		}
	})
	b.Run("keygen/crypto-mlkem", func(b *testing.B) {
		for b.Loop() {
			mlkem.NewDecapsulationKey1024(seed)
		}
	})
	b.Run("parse-ek/circl", func(b *testing.B) {
		for b.Loop() {
			parseKEMEK(ours.ek)
		}
	})
	b.Run("parse-ek/crypto-mlkem", func(b *testing.B) {
		for b.Loop() {
			mlkem.NewEncapsulationKey1024(ours.ek)
		}
	})
	b.Run("encaps/circl", func(b *testing.B) {
		for b.Loop() {
			ek.encapsulate()
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
			ours.decapsulate(ct)
		}
	})
	b.Run("decaps/crypto-mlkem", func(b *testing.B) {
		for b.Loop() {
			ref.Decapsulate(ct)
		}
	})
}

// BenchmarkKDFAfterMLKEM: an ML-KEM decapsulation followed by KDF_RK_HE
// (HKDF-SHA256), with the AVX state cleared in between as the ratchet does
// (avxClean) and without; "decaps-only" is the decapsulation alone. The
// difference is the reason for avxClean (vzeroupper_amd64.go).
func BenchmarkKDFAfterMLKEM(b *testing.B) {
	dk, _ := generateKEMDK()
	ek, _ := parseKEMEK(dk.ek)
	_, ct := ek.encapsulateWith(make([]byte, 32))
	ss := make([]byte, 32)
	var rk [keySize]byte
	dh := make([]byte, 32)
	b.Run("decaps-only", func(b *testing.B) {
		for b.Loop() {
			dk.sk.DecapsulateTo(ss, ct)
			avxClean()
		}
	})
	for _, clean := range []bool{true, false} {
		b.Run(map[bool]string{true: "cleared", false: "dirty"}[clean], func(b *testing.B) {
			for b.Loop() {
				dk.sk.DecapsulateTo(ss, ct)
				if clean {
					avxClean()
				}
				kdfRK(&rk, dh, ss)
			}
		})
	}
}
