package ratchet

import (
	"bytes"
	"testing"
)

// fuzzFixture builds a receiver state with a pending skipped key, a
// current and a next header key, and (PQ) pending KEM state, plus messages
// that exercise every Decrypt path.
func fuzzFixture(f *testing.F, cfg Config) (state []byte, msgs [][]byte) {
	a, b := newPair(f, cfg)
	var ms [][]byte
	m0 := mustEncrypt(f, a, "zero") // carries a KEM key at the PQ level
	m1 := mustEncrypt(f, a, "one")  // left undelivered: a skipped key
	mustDecrypt(f, b, mustEncrypt(f, a, "two"), "two")
	mustDecrypt(f, a, mustEncrypt(f, b, "reply"), "reply")
	next := mustEncrypt(f, a, "next chain") // ratchet step for b
	ms = append(ms, m0, m1, next, mustEncrypt(f, a, "next chain 2"))
	return snapshot(f, b), ms
}

// FuzzDecrypt feeds arbitrary bytes to Decrypt: it must never panic, and a
// rejected input must leave the state exactly as it was.
func FuzzDecrypt(f *testing.F) {
	type fixture struct{ state []byte }
	var fx []fixture
	for _, cfg := range []Config{{}, {PQ: true}} {
		st, ms := fuzzFixture(f, cfg)
		fx = append(fx, fixture{st})
		for _, m := range ms {
			f.Add(byte(len(fx)-1), m)
			bad := bytes.Clone(m)
			bad[len(bad)/2] ^= 0x40
			f.Add(byte(len(fx)-1), bad)
		}
	}
	f.Add(byte(0), []byte{0x10})
	f.Add(byte(1), []byte{0x11, 0, 0, 0})
	f.Fuzz(func(t *testing.T, which byte, msg []byte) {
		st := fx[int(which)%len(fx)].state
		s, err := Unmarshal(st)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := s.Decrypt(msg)
		after, merr := s.MarshalBinary()
		if merr != nil {
			t.Fatal(merr)
		}
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			if !bytes.Equal(st, after) {
				t.Fatalf("rejected message (%v) changed the state", err)
			}
			return
		}
		// Accepted: the same message must not be accepted twice.
		if _, err := s.Decrypt(msg); err == nil {
			t.Fatal("message accepted twice")
		}
	})
}

// FuzzUnmarshal feeds arbitrary bytes to the state decoder: no panic, and
// whatever it accepts re-encodes to exactly the same bytes (the encoding is
// canonical) and is a usable session.
func FuzzUnmarshal(f *testing.F) {
	for _, cfg := range []Config{{}, {PQ: true}} {
		st, _ := fuzzFixture(f, cfg)
		f.Add(st)
		a, _ := newPair(f, cfg)
		f.Add(snapshot(f, a))
		f.Add(st[:len(st)-1])
	}
	f.Add([]byte("rtcR\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Unmarshal(data)
		if err != nil {
			if s != nil {
				t.Fatal("session returned with an error")
			}
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data) {
			t.Fatal("accepted state does not re-encode identically")
		}
		if _, err := s.Encrypt([]byte("still works")); err != nil {
			t.Fatalf("decoded session cannot encrypt: %v", err)
		}
	})
}

// FuzzParseHeader: the decrypted-header decoder (reached only behind the
// header AEAD, so FuzzDecrypt cannot drive it) never panics, and whatever
// it accepts re-encodes to the same bytes.
func FuzzParseHeader(f *testing.F) {
	f.Add(byte(kindShort), (&header{flags: flagMixed, dh: [32]byte{9}, pn: 3, n: 7}).appendTo(nil))
	f.Add(byte(kindLong), (&header{flags: flagEK, kemID: 1, obj: make([]byte, KEMObjectSize)}).appendTo(nil))
	f.Add(byte(kindLong), (&header{flags: flagCT | flagMixed, kemID: 2, obj: make([]byte, KEMObjectSize)}).appendTo(nil))
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		h, err := parseHeader(b, kind)
		if err != nil {
			if h != nil {
				t.Fatal("header returned with an error")
			}
			return
		}
		if again := h.appendTo(nil); !bytes.Equal(again, b) {
			t.Fatalf("accepted header re-encodes differently")
		}
	})
}
