package handshake

import (
	"bytes"
	"errors"
	"testing"
)

// TestPreparedEphemeralsReproduceVectors: keys made ahead of time by Prepare
// from the vectors' randomness streams give exactly the recorded messages and
// outputs, so preparing changes nothing on the wire (PROTOCOL.md §2.8).
func TestPreparedEphemeralsReproduceVectors(t *testing.T) {
	vf, unhex := readVectors(t)
	for _, v := range vf.Vectors {
		t.Run(v.Level, func(t *testing.T) {
			level, err := ParseLevel(v.Level)
			if err != nil {
				t.Fatal(err)
			}
			idI, idR := vectorIdentities(t, unhex(v.InitiatorIdentity), unhex(v.ResponderIdentity))
			ri, rr := detRand(v.InitiatorRandom), detRand(v.ResponderRandom)
			ei, err := Prepare(ri, Initiator, level)
			if err != nil {
				t.Fatal(err)
			}
			er, err := Prepare(rr, Responder, level)
			if err != nil {
				t.Fatal(err)
			}
			ca := Config{Role: Initiator, Signer: idI,
				LocalBlob: unhex(v.InitiatorBlob), PeerBlob: unhex(v.ResponderBlob),
				LocalInfo: unhex(v.InitiatorInfo), PeerInfo: unhex(v.ResponderInfo),
				LocalDTLSFingerprint: unhex(v.InitiatorDTLS), PeerDTLSFingerprint: unhex(v.ResponderDTLS),
				Exporter: unhex(v.Exporter), Ephemerals: ei}
			cb := Config{Role: Responder, Signer: idR,
				LocalBlob: ca.PeerBlob, PeerBlob: ca.LocalBlob, LocalInfo: ca.PeerInfo, PeerInfo: ca.LocalInfo,
				LocalDTLSFingerprint: ca.PeerDTLSFingerprint, PeerDTLSFingerprint: ca.LocalDTLSFingerprint,
				Exporter: ca.Exporter, Ephemerals: er}
			// The rest of each stream (nonce, signing, encapsulation) as in
			// the vectors; both sides sign in New.
			d := newDriverRand(t, ca, cb, ri, rr)
			if _, err := d.run(nil); err != nil {
				t.Fatal(err)
			}
			if len(d.msgs) != len(v.Messages) {
				t.Fatalf("%d messages, want %d", len(d.msgs), len(v.Messages))
			}
			for i, m := range d.msgs {
				if !bytes.Equal(m, unhex(v.Messages[i])) {
					t.Fatalf("message %d differs from the vector", i)
				}
			}
			res, _ := d.hr.Result()
			if h(res.SessionSecret) != v.SessionSecret || h(res.ResponderRatchetPublic.Bytes()) != v.ResponderRatchet {
				t.Fatal("outputs differ from the vector")
			}
			// Both handshakes ended: their keys are gone from the state
			// machines and from the Ephemerals.
			for _, hs := range []*Handshake{d.hi, d.hr} {
				if hs.eph != nil || hs.kem != nil || hs.ratchet != nil {
					t.Fatalf("%v kept its ephemeral keys after the handshake", hs.cfg.Role)
				}
			}
			for _, e := range []*Ephemerals{ei, er} {
				if e.eph != nil || e.kem != nil || e.ratchet != nil || !e.gone {
					t.Fatalf("%v's Ephemerals still hold keys", e.role)
				}
			}
		})
	}
}

// TestPreparedEphemeralsSessions: handshakes with prepared keys (crypto/rand)
// on one or both sides give agreeing sessions at every level, and the
// prepared keys are the ones on the wire.
func TestPreparedEphemeralsSessions(t *testing.T) {
	for _, level := range []Level{LevelStandard, LevelEnhanced, LevelQuantum} {
		for _, sides := range []string{"both", "initiator", "responder"} {
			t.Run(level.String()+"/"+sides, func(t *testing.T) {
				p := newTestPair(t, level, "prepared")
				var wantEK []byte
				if sides != "responder" {
					e, err := Prepare(nil, Initiator, MaxSupportedLevel)
					if err != nil {
						t.Fatal(err)
					}
					wantEK = e.eph.PublicKey()
					p.ca.Ephemerals = e
				}
				if sides != "initiator" {
					e, err := Prepare(nil, Responder, level)
					if err != nil {
						t.Fatal(err)
					}
					p.cb.Ephemerals = e
				}
				d := newDriver(t, p.ca, p.cb)
				if _, err := d.run(nil); err != nil {
					t.Fatal(err)
				}
				ri, _ := d.hi.Result()
				rr, _ := d.hr.Result()
				if !bytes.Equal(ri.SessionSecret, rr.SessionSecret) || ri.Level != level {
					t.Fatal("sessions disagree")
				}
				if wantEK != nil {
					init, err := parseInit(d.msgs[0], level)
					if err != nil || !bytes.Equal(init.ephemeral, wantEK) {
						t.Fatalf("Init does not carry the prepared key: %v", err)
					}
				}
			})
		}
	}
}

// TestPreparedEphemeralsSingleUse: a second handshake, or one after
// Destroy, is refused with ErrEphemeralsUsed; keys for the wrong role or too
// low a level are refused with ErrConfig and stay usable.
func TestPreparedEphemeralsSingleUse(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "single-use")
	e, err := Prepare(nil, Initiator, LevelEnhanced)
	if err != nil {
		t.Fatal(err)
	}
	// Wrong role: refused, not consumed.
	cb := p.cb
	cb.Ephemerals = e
	if _, err := New(cb); !errors.Is(err, ErrConfig) {
		t.Fatalf("initiator keys on the responder: %v", err)
	}
	// Too low a level: refused, not consumed.
	low, err := Prepare(nil, Initiator, LevelStandard)
	if err != nil {
		t.Fatal(err)
	}
	ca := p.ca
	ca.Ephemerals = low
	if _, err := New(ca); !errors.Is(err, ErrConfig) {
		t.Fatalf("standard-level keys at level enhanced: %v", err)
	}
	low.Destroy()
	if _, err := New(ca); !errors.Is(err, ErrEphemeralsUsed) {
		t.Fatalf("after Destroy: %v", err)
	}
	// A configuration refused for another reason does not consume them.
	bad := p.ca
	bad.Ephemerals = e
	bad.LocalBlob = nil
	if _, err := New(bad); !errors.Is(err, ErrConfig) || e.Spent() {
		t.Fatalf("bad config: %v (consumed: %v)", err, e.Spent())
	}
	ca.Ephemerals = e
	h1, err := New(ca)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Spent() {
		t.Fatal("taken keys not marked spent")
	}
	if _, err := New(ca); !errors.Is(err, ErrEphemeralsUsed) {
		t.Fatalf("second use: %v", err)
	}
	// The first handshake still works, and a failure drops its keys.
	if _, err := h1.Start(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h1.Handle([]byte{0x01, 0x09}); err == nil {
		t.Fatal("garbage accepted")
	}
	if h1.eph != nil || h1.kem != nil {
		t.Fatal("failed handshake kept its prepared keys")
	}
	e.Destroy() // after use: a no-op
	var nilE *Ephemerals
	nilE.Destroy()
	if _, err := Prepare(nil, Role(9), LevelStandard); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown role: %v", err)
	}
	if _, err := Prepare(nil, Initiator, Level(9)); !errors.Is(err, ErrUnknownLevel) {
		t.Fatalf("unknown level: %v", err)
	}
	if _, err := Prepare(bytes.NewReader(make([]byte, 40)), Initiator, LevelQuantum); err == nil {
		t.Fatal("short randomness accepted")
	}
}

func TestIdentityPrecompute(t *testing.T) {
	id := testIdentity(t, 2)
	if err := id.Precompute(); err != nil {
		t.Fatal(err)
	}
	var _ Precomputer = id
	msg := make([]byte, 32)
	ed, fs, err := id.SignBundle(msg, LevelQuantum)
	if err != nil || id.Public().VerifyBundle(msg, ed, fs, LevelQuantum) != nil {
		t.Fatalf("signing after Precompute: %v", err)
	}
	id.Destroy()
	if err := id.Precompute(); !errors.Is(err, ErrIdentityDestroyed) {
		t.Fatalf("Precompute after Destroy: %v", err)
	}
}

// BenchmarkPrepare is the work Prepare moves off the critical path, per side.
func BenchmarkPrepare(b *testing.B) {
	for _, role := range []Role{Initiator, Responder} {
		b.Run(role.String(), func(b *testing.B) {
			for b.Loop() {
				e, err := Prepare(nil, role, LevelQuantum)
				if err != nil {
					b.Fatal(err)
				}
				e.Destroy()
			}
		})
	}
}

// Each side signs beside its checks of the peer's message; with several
// faults in one message the error is still the first in the order of §2.5,
// and the failing side sends nothing.
func TestParallelSigningKeepsErrorOrder(t *testing.T) {
	p := newTestPair(t, LevelQuantum, "error-order")
	badKEM := func(off int) func([]byte) []byte {
		return func(m []byte) []byte {
			for i := off; i < off+384; i++ {
				m[i] = 0xff // coefficients >= q
			}
			return m
		}
	}
	respKEM := headerLen + 1 + hashSize + PublicIdentitySize + 3*x25519Size
	badEd := func(m []byte) []byte {
		copy(m[finIDOff+idEdOff:], lowOrderEd) // the initiator's identity in Finish
		return m
	}
	badSig := func(m []byte) []byte {
		m[finCTOff+kemCTSize] ^= 1 // σ_I Ed25519
		return m
	}
	for _, tc := range []struct {
		name  string
		msg   int
		f     func([]byte) []byte
		side  Role
		want  error
		avoid error
	}{
		{"Init: bad ML-KEM key and bad ephemeral", mInit, func(m []byte) []byte {
			copy(m[initEphOff:], make([]byte, x25519Size))
			return badKEM(initKEMOff)(m)
		}, Responder, ErrMLKEMKey, ErrLowOrderPoint},
		{"Init: bad ML-KEM key only", mInit, badKEM(initKEMOff), Responder, ErrMLKEMKey, nil},
		{"Finish: bad identity and bad σ_I", mFinish, func(m []byte) []byte { return badSig(badEd(m)) }, Responder, ErrEd25519PublicKey, ErrEd25519Signature},
		{"Finish: bad identity only", mFinish, badEd, Responder, ErrEd25519PublicKey, nil},
		{"Finish: bad XB and bad identity", mFinish, func(m []byte) []byte {
			m[finXBOff] ^= 1
			return badEd(m)
		}, Responder, ErrChannelBinding, ErrEd25519PublicKey},
		{"Finish: bad σ_I and bad MAC", mFinish, func(m []byte) []byte {
			m[len(m)-1] ^= 1
			return badSig(m)
		}, Responder, ErrEd25519Signature, ErrKeyConfirmation},
		{"Response: bad ML-KEM key (so bad signatures)", mResponse, badKEM(respKEM), Initiator, ErrEd25519Signature, ErrMLKEMKey},
		// th1 is not signed (σ_R is made before Init): its check still
		// comes first, then the identity, then the signatures, then the keys.
		{"Response: bad th1 and bad σ_R", mResponse, func(m []byte) []byte {
			m[headerLen+1] ^= 1
			m[respCTOff+kemCTSize] ^= 1 // σ_R Ed25519
			return m
		}, Initiator, ErrTranscript, ErrEd25519Signature},
		{"Response: bad identity and bad σ_R", mResponse, func(m []byte) []byte {
			copy(m[respIDOff+idEdOff:], lowOrderEd)
			m[respCTOff+kemCTSize] ^= 1
			return m
		}, Initiator, ErrEd25519PublicKey, ErrEd25519Signature},
		{"Response: low-order EK_R (so bad signatures)", mResponse, func(m []byte) []byte {
			copy(m[respEphOff:], make([]byte, x25519Size))
			return m
		}, Initiator, ErrEd25519Signature, ErrLowOrderPoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, p.ca, p.cb)
			expectFail(t, d, at(tc.msg, tc.f), tc.side, tc.want)
			if tc.avoid != nil {
				_, err := newDriver(t, p.ca, p.cb).run(at(tc.msg, tc.f))
				if errors.Is(err, tc.avoid) {
					t.Fatalf("error %v also names %v", err, tc.avoid)
				}
			}
			if len(d.msgs) != tc.msg+1 {
				t.Fatalf("%d messages sent, want %d (no reply from the failing side)", len(d.msgs), tc.msg+1)
			}
		})
	}
}

// TestPresign: σ_I made by Ephemerals.Presign when the offer exists is the
// one Finish carries when the handshake runs at that level, with that offer
// blob and that identity; made for another level, blob or identity it is
// not used (th_I differs) and the handshake signs again. Either way the
// responder accepts Finish.
func TestPresign(t *testing.T) {
	other := testIdentity(t, 1)
	for _, tc := range []struct {
		name   string
		level  Level  // Presign's level (the handshake runs at quantum)
		blob   []byte // Presign's blob (nil: the initiator's own)
		signer Signer // Presign's signer (nil: the initiator's own)
		used   bool
	}{
		{"same offer", LevelQuantum, nil, nil, true},
		{"other level", LevelEnhanced, nil, nil, false},
		{"other blob", LevelQuantum, []byte("another offer"), nil, false},
		{"other identity", LevelQuantum, nil, other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPair(t, LevelQuantum, "presign")
			e, err := Prepare(nil, Initiator, MaxSupportedLevel)
			if err != nil {
				t.Fatal(err)
			}
			blob, signer := tc.blob, tc.signer
			if blob == nil {
				blob = p.ca.LocalBlob
			}
			if signer == nil {
				signer = p.ca.Signer
			}
			if err := e.Presign(signer, tc.level, blob); err != nil {
				t.Fatal(err)
			}
			pre := e.presig.sig
			p.ca.Ephemerals = e
			d := newDriver(t, p.ca, p.cb)
			if _, err := d.run(nil); err != nil {
				t.Fatal(err)
			}
			f, err := parseFinish(d.msgs[2], LevelQuantum)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Equal(f.falconSig, pre.falcon) && bytes.Equal(f.edSig, pre.ed); got != tc.used {
				t.Fatalf("Finish carries the presigned σ_I: %v, want %v", got, tc.used)
			}
			if len(f.falconSig) == 0 {
				t.Fatal("Finish has no FALCON-1024 signature at quantum")
			}
		})
	}
}

// TestPresignRefused: Presign signs nothing for the responder's keys, above
// the level the keys were prepared for, for an empty or oversized blob, with
// a signer whose signature does not verify (ErrSigner), or once a handshake
// took the keys (ErrEphemeralsUsed).
func TestPresignRefused(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "presign-refused")
	er, err := Prepare(nil, Responder, LevelEnhanced)
	if err != nil {
		t.Fatal(err)
	}
	if err := er.Presign(p.cb.Signer, LevelEnhanced, p.cb.PeerBlob); !errors.Is(err, ErrConfig) {
		t.Fatalf("responder keys: %v", err)
	}
	ei, err := Prepare(nil, Initiator, LevelEnhanced)
	if err != nil {
		t.Fatal(err)
	}
	if err := ei.Presign(p.ca.Signer, LevelQuantum, p.ca.LocalBlob); !errors.Is(err, ErrConfig) {
		t.Fatalf("above the prepared level: %v", err)
	}
	for _, blob := range [][]byte{nil, make([]byte, maxBlobLen+1)} {
		if err := ei.Presign(p.ca.Signer, LevelEnhanced, blob); !errors.Is(err, ErrConfig) {
			t.Fatalf("blob of %d bytes: %v", len(blob), err)
		}
	}
	// A signer whose signature does not verify (a fault): ErrSigner.
	if err := ei.Presign(brokenSigner{Identity: p.a.id, mode: 4}, LevelEnhanced, p.ca.LocalBlob); !errors.Is(err, ErrSigner) {
		t.Fatalf("faulty signer: %v", err)
	}
	if ei.presig != nil {
		t.Fatal("a refused Presign left a signature")
	}
	p.ca.Ephemerals = ei
	if _, err := newDriver(t, p.ca, p.cb).run(nil); err != nil {
		t.Fatal(err)
	}
	if err := ei.Presign(p.ca.Signer, LevelEnhanced, p.ca.LocalBlob); !errors.Is(err, ErrEphemeralsUsed) {
		t.Fatalf("after the handshake took the keys: %v", err)
	}
}
