package ratchet

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

const rawFlagsOnly = 0xdeadbeef

// forge builds a message from sender's current sending state with a header
// the test controls: what a buggy or malicious peer (who holds the keys)
// could send. It does not change sender.
func forge(t *testing.T, sender *Session, edit func(h *header) byte) []byte {
	t.Helper()
	settle(t, sender)
	c := sender.st
	h := header{pn: c.pn, n: c.ns}
	h.dh = c.dhs.pub
	kind := edit(&h)
	out := []byte{wireVersion<<4 | kind}
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	out = append(out, nonce...)
	raw := h.appendTo(nil)
	if h.kemID == rawFlagsOnly {
		// A short header whose flags claim a KEM object.
		raw = append([]byte{h.flags}, raw[1:shortHeaderSize]...)
	}
	ha, _ := chacha20poly1305.NewX(c.hks[:])
	out = ha.Seal(out, nonce, raw, headerAD(c.ad, out[0]))
	mk, _ := kdfCK(&c.cks)
	bk := bodyKey(&mk, nonce)
	ma, _ := chacha20poly1305.New(bk[:])
	return ma.Seal(out, zeroNonce[:], pad(nil, []byte("forged")), messageAD(c.ad, out))
}

// TestAuthenticHeaderViolations: headers that decrypt under a valid key but
// break the protocol are rejected with the state untouched.
func TestAuthenticHeaderViolations(t *testing.T) {
	type tc struct {
		name string
		pq   bool
		edit func(h *header) byte
		want error
	}
	for _, c := range []tc{
		{"KEM key in a classic session", false, func(h *header) byte {
			h.flags, h.kemID, h.obj = flagEK, 1, make([]byte, KEMObjectSize)
			return kindLong
		}, ErrProtocol},
		{"MIXED in a classic session", false, func(h *header) byte { h.flags = flagMixed; return kindShort }, ErrProtocol},
		{"MIXED without an outstanding ciphertext", true, func(h *header) byte { h.flags = flagMixed; return kindShort }, ErrProtocol},
		{"invalid ML-KEM key (coefficient >= q)", true, func(h *header) byte {
			h.flags, h.kemID, h.obj = flagEK, 99, bytes.Repeat([]byte{0xff}, KEMObjectSize)
			return kindLong
		}, ErrProtocol},
		{"low-order ratchet key", true, func(h *header) byte { h.dh = [32]byte{}; return kindShort }, ErrProtocol},
		{"ratchet key changed in-chain", true, func(h *header) byte { h.dh[0] ^= 1; return kindShort }, ErrProtocol},
		{"short header whose flags claim a KEM object", true, func(h *header) byte {
			h.flags, h.kemID = flagCT, rawFlagsOnly
			return kindShort
		}, ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := newPair(t, Config{PQ: c.pq})
			// Bob -> Alice first, so that "in-chain" and "ratchet" paths
			// both exist: Alice holds Bob's initial chain as HKr.
			var m []byte
			if c.name == "ratchet key changed in-chain" {
				m = forge(t, b, c.edit) // Bob's initial chain: HKr path at Alice
			} else {
				mustDecrypt(t, b, mustEncrypt(t, a, "hi"), "hi") // Bob ratchets
				m = forge(t, b, c.edit)                          // Bob's new chain: NHKr path at Alice
			}
			if err := mustReject(t, a, m); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			mustDecrypt(t, a, mustEncrypt(t, b, "genuine"), "genuine")
		})
	}
}

// TestUnmarshalRejects: the state decoder's strict rules, one by one.
func TestUnmarshalRejects(t *testing.T) {
	a, b := newPair(t, Config{PQ: true})
	// Give b skipped keys in two chains and pending KEM state.
	mustDecrypt(t, b, mustEncrypt(t, a, "0"), "0")
	mustEncrypt(t, a, "skipped")
	mustDecrypt(t, b, mustEncrypt(t, a, "2"), "2")
	mustDecrypt(t, a, mustEncrypt(t, b, "r"), "r")
	mustEncrypt(t, a, "skipped too")
	mustDecrypt(t, b, mustEncrypt(t, a, "4"), "4")
	good := snapshot(t, b)
	if _, err := Unmarshal(good); err != nil {
		t.Fatal(err)
	}
	classic, _ := newPair(t, Config{})
	goodClassic := snapshot(t, classic)

	// Offsets in the fixed part.
	const (
		offVersion = 4
		offFlags   = 5
		offMaxSkip = 7
		offPQInt   = 19
		offADLen   = 20
	)
	adEnd := offADLen + 2 + len(testAD)
	offDHr := adEnd + 32
	offCKr := offDHr + 32 + 2*32
	set := func(src []byte, off int, v ...byte) []byte {
		b := bytes.Clone(src)
		copy(b[off:], v)
		return b
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", set(good, 0, 'x')},
		{"version 2", set(good, offVersion, 2)},
		{"unknown flag", set(good, offFlags, 0x80, 0x00)},
		{"MaxSkip 0", set(good, offMaxSkip, u32(0)...)},
		{"MaxSkip huge", set(good, offMaxSkip, u32(limitMaxSkip+1)...)},
		{"AD too long", set(good, offADLen, 0xff, 0xff)},
		{"PQInterval 0", set(good, offPQInt, 0)},
		{"PQInterval huge", set(good, offPQInt, limitPQInterval+1)},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"classic with PQ state", set(goodClassic, offFlags+1, sfPQ|sfSendMixed)},
		{"absent CKr not zero", func() []byte {
			// The fresh classic responder has no receiving chain.
			_, r := newPair(t, Config{})
			return set(snapshot(t, r), offCKr, 1)
		}()},
		{"receiving chain flags inconsistent", func() []byte {
			st := bytes.Clone(good)
			st[offFlags+1] &^= sfHasHKr
			return st
		}()},
	} {
		if _, err := Unmarshal(tc.data); !errors.Is(err, ErrBadState) {
			t.Errorf("%s: %v, want ErrBadState", tc.name, err)
		}
	}
	// Every truncation fails cleanly.
	for n := range len(good) {
		if _, err := Unmarshal(good[:n]); !errors.Is(err, ErrBadState) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Every single-byte change either fails or re-encodes identically
	// (canonical form) — never panics or silently alters the state.
	for i := range len(good) {
		bad := set(good, i, good[i]^0x01)
		if s, err := Unmarshal(bad); err == nil {
			again, _ := s.MarshalBinary()
			if !bytes.Equal(again, bad) {
				t.Fatalf("flip at %d accepted but re-encodes differently", i)
			}
		}
	}
}
