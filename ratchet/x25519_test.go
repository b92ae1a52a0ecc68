package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
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

// TestX25519MatchesECDH: xKey computes what crypto/ecdh computes (RFC 7748
// §6.1's example, random keys, non-canonical and high-bit encodings) and
// rejects exactly the peer keys crypto/ecdh rejects (low-order points).
func TestX25519MatchesECDH(t *testing.T) {
	// RFC 7748 §6.1.
	alice, err := newXKey(unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := newXKey(unhex(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
	if !bytes.Equal(alice.pub[:], unhex(t, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")) ||
		!bytes.Equal(bob.pub[:], unhex(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")) {
		t.Fatal("RFC 7748 §6.1 public keys differ")
	}
	shared := unhex(t, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
	if s1, err := alice.dh(&bob.pub); err != nil || !bytes.Equal(s1, shared) {
		t.Fatalf("RFC 7748 §6.1 shared secret (Alice): %x, %v", s1, err)
	}
	if s2, err := bob.dh(&alice.pub); err != nil || !bytes.Equal(s2, shared) {
		t.Fatalf("RFC 7748 §6.1 shared secret (Bob): %x, %v", s2, err)
	}

	check := func(name string, priv, peer []byte) {
		t.Helper()
		k, err := newXKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := ecdh.X25519().NewPrivateKey(priv)
		if !bytes.Equal(k.pub[:], ref.PublicKey().Bytes()) {
			t.Fatalf("%s: public key %x, crypto/ecdh %x", name, k.pub, ref.PublicKey().Bytes())
		}
		want, werr := ecdhRef(t, priv, peer)
		got, gerr := k.dh((*[32]byte)(peer))
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%s: X25519 = %x (%v), crypto/ecdh %x (%v)", name, got, gerr, want, werr)
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
	// Low-order points (orders 1, 2, 4, 8 on the curve and its twist), their
	// non-canonical forms and with the high bit set: all must be rejected.
	for _, h := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
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

// BenchmarkX25519 compares the ratchet's X25519 with crypto/ecdh's in the
// same run: key generation (fixed base) and a shared secret.
func BenchmarkX25519(b *testing.B) {
	peer, _ := generateXKey()
	priv := make([]byte, 32)
	rand.Read(priv)
	b.Run("keygen/circl", func(b *testing.B) {
		for b.Loop() {
			if _, err := newXKey(priv); err != nil {
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
	k, _ := newXKey(priv)
	b.Run("dh/circl", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.dh(&peer.pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	rk, _ := ecdh.X25519().NewPrivateKey(priv)
	rp, _ := ecdh.X25519().NewPublicKey(peer.pub[:])
	b.Run("dh/crypto-ecdh", func(b *testing.B) {
		for b.Loop() {
			if _, err := rk.ECDH(rp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
