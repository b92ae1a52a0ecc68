package x25519

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ecdhRef is X25519 computed by crypto/ecdh (the reference).
func ecdhRef(tb testing.TB, priv, peer []byte) ([]byte, error) {
	tb.Helper()
	k, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		tb.Fatal(err)
	}
	return k.ECDH(p)
}

// lowOrder are the low-order points (orders 1, 2, 4, 8 on the curve and its
// twist) and their non-canonical forms.
var lowOrder = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

// TestX25519MatchesECDH: the package computes what crypto/ecdh computes
// (RFC 7748 §6.1's example, random keys, non-canonical and high-bit
// encodings) and rejects exactly the peer keys crypto/ecdh rejects
// (low-order points).
func TestX25519MatchesECDH(t *testing.T) {
	// RFC 7748 §6.1.
	alice, err := NewKey(unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := NewKey(unhex(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
	if !bytes.Equal(alice.PublicKey(), unhex(t, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")) ||
		!bytes.Equal(bob.PublicKey(), unhex(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")) {
		t.Fatal("RFC 7748 §6.1 public keys differ")
	}
	shared := unhex(t, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
	if s1, err := alice.ECDH(bob.PublicKey()); err != nil || !bytes.Equal(s1, shared) {
		t.Fatalf("RFC 7748 §6.1 shared secret (Alice): %x, %v", s1, err)
	}
	if s2, err := X25519(bob.Bytes(), alice.PublicKey()); err != nil || !bytes.Equal(s2, shared) {
		t.Fatalf("RFC 7748 §6.1 shared secret (Bob): %x, %v", s2, err)
	}

	check := func(name string, priv, peer []byte) {
		t.Helper()
		k, err := NewKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := ecdh.X25519().NewPrivateKey(priv)
		pub := make([]byte, Size)
		if err := PublicKey(pub, priv); err != nil || !bytes.Equal(pub, ref.PublicKey().Bytes()) || !bytes.Equal(k.PublicKey(), pub) {
			t.Fatalf("%s: public key %x / %x, crypto/ecdh %x", name, pub, k.PublicKey(), ref.PublicKey().Bytes())
		}
		want, werr := ecdhRef(t, priv, peer)
		got, gerr := k.ECDH(peer)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%s: X25519 = %x (%v), crypto/ecdh %x (%v)", name, got, gerr, want, werr)
		}
		if gerr != nil && !errors.Is(gerr, ErrLowOrder) {
			t.Fatalf("%s: error %v, want ErrLowOrder", name, gerr)
		}
	}
	for i := range 300 {
		priv, peer := make([]byte, 32), make([]byte, 32)
		rand.Read(priv)
		rand.Read(peer)
		switch i % 3 {
		case 1:
			peer[31] |= 0x80 // the high bit is ignored
		case 2:
			// A non-canonical u (≥ p): p + small.
			copy(peer, unhex(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
			peer[0] += byte(i % 19)
		}
		check("random", priv, peer)
	}
	// Low-order points, also with the high bit set: all must be rejected.
	for _, h := range lowOrder {
		for _, hi := range []bool{false, true} {
			peer := unhex(t, h)
			if hi {
				peer[31] |= 0x80
			}
			priv := make([]byte, 32)
			rand.Read(priv)
			if _, err := ecdhRef(t, priv, peer); err == nil {
				t.Fatalf("crypto/ecdh accepts low-order %x: the list is wrong", peer)
			}
			check("low order "+h, priv, peer)
		}
	}
}

// TestKeyAPI: lengths are checked, accessors return copies, Wipe zeroes the
// private key, GenerateKey reads 32 bytes.
func TestKeyAPI(t *testing.T) {
	for _, n := range []int{0, 31, 33} {
		if _, err := NewKey(make([]byte, n)); !errors.Is(err, ErrLength) {
			t.Errorf("NewKey(%d bytes): %v", n, err)
		}
		if _, err := X25519(make([]byte, 32), make([]byte, n)); !errors.Is(err, ErrLength) {
			t.Errorf("X25519 with a %d-byte peer: %v", n, err)
		}
		if err := PublicKey(make([]byte, 32), make([]byte, n)); !errors.Is(err, ErrLength) {
			t.Errorf("PublicKey of a %d-byte key: %v", n, err)
		}
	}
	seed := bytes.Repeat([]byte{7}, 32)
	k, err := GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.Bytes(), seed) {
		t.Fatal("GenerateKey did not use the 32 bytes read")
	}
	if _, err := GenerateKey(bytes.NewReader(seed[:31])); err == nil {
		t.Fatal("GenerateKey with too little randomness")
	}
	k.Bytes()[0] ^= 1
	k.PublicKey()[0] ^= 1
	ref, _ := NewKey(seed)
	if !bytes.Equal(k.Bytes(), seed) || !bytes.Equal(k.PublicKey(), ref.PublicKey()) {
		t.Fatal("accessors return the key's own storage")
	}
	k.Wipe()
	if !bytes.Equal(k.Bytes(), make([]byte, 32)) {
		t.Fatal("Wipe left the private key")
	}
}

// BenchmarkX25519 compares the package with crypto/ecdh in the same run:
// key generation (fixed base) and a shared secret.
func BenchmarkX25519(b *testing.B) {
	peer, _ := GenerateKey(rand.Reader)
	priv := make([]byte, 32)
	rand.Read(priv)
	b.Run("keygen/circl", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewKey(priv); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keygen/crypto-ecdh", func(b *testing.B) {
		for b.Loop() {
			if _, err := ecdh.X25519().NewPrivateKey(priv); err != nil {
				b.Fatal(err)
			}
		}
	})
	k, _ := NewKey(priv)
	pp := peer.PublicKey()
	b.Run("dh/circl", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.ECDH(pp); err != nil {
				b.Fatal(err)
			}
		}
	})
	rk, _ := ecdh.X25519().NewPrivateKey(priv)
	rp, _ := ecdh.X25519().NewPublicKey(pp)
	b.Run("dh/crypto-ecdh", func(b *testing.B) {
		for b.Loop() {
			if _, err := rk.ECDH(rp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
