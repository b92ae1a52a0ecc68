package handshake

import (
	"bytes"
	"errors"
	"testing"
)

// Message indices in a driver run.
const (
	mInit = iota
	mResponse
	mFinish
	mConfirm
)

// at returns a tamper function that applies f to message i only.
func at(i int, f func(m []byte) []byte) func(int, []byte) []byte {
	return func(j int, m []byte) []byte {
		if j == i {
			return f(bytes.Clone(m))
		}
		return m
	}
}

func flip(off int) func([]byte) []byte {
	return func(m []byte) []byte {
		if off < 0 {
			off += len(m)
		}
		m[off] ^= 0x01
		return m
	}
}

// expectFail runs a handshake with tamper and checks that side fails with
// want and that neither side produced a result.
func expectFail(t *testing.T, d *driver, tamper func(int, []byte) []byte, side Role, want error) {
	t.Helper()
	role, err := d.run(tamper)
	if !errors.Is(err, want) {
		t.Fatalf("got %v (from %v), want %v", err, role, want)
	}
	if role != side {
		t.Fatalf("failure raised by %v, want %v", role, side)
	}
	// The failing side never has a result. The responder completes when it
	// sends Confirm, so it has one when only Confirm was damaged: the
	// initiator then fails and sends no chat message under that session.
	if r, _ := d.hi.Result(); r != nil {
		t.Fatal("initiator produced a result")
	}
	if r, _ := d.hr.Result(); r != nil && side == Responder {
		t.Fatal("responder produced a result")
	}
	// A failed state machine refuses further input.
	h := d.hi
	if side == Responder {
		h = d.hr
	}
	if _, _, err := h.Handle(d.msgs[len(d.msgs)-1]); !errors.Is(err, ErrState) {
		t.Fatalf("failed handshake accepted more input: %v", err)
	}
}

// offsets of the signature fields, found by parsing an honest run.
func sigOffsets(t *testing.T, p *testPair, level Level) (respEd, respFalcon, finEd, finFalcon int) {
	t.Helper()
	d := newDriver(t, p.ca, p.cb)
	if _, err := d.run(nil); err != nil {
		t.Fatal(err)
	}
	r, err := parseResponse(d.msgs[mResponse], level)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFinish(d.msgs[mFinish], level)
	if err != nil {
		t.Fatal(err)
	}
	return r.signedLen, r.signedLen + EdSignatureSize + 2 + 20, f.signedLen, f.signedLen + EdSignatureSize + 2 + 20
}

func TestSignatureFailures(t *testing.T) {
	p := newTestPair(t, LevelQuantum, "sigs")
	re, rf, fe, ff := sigOffsets(t, p, LevelQuantum)
	for _, tc := range []struct {
		name string
		msg  int
		off  int
		side Role
		want error
	}{
		{"Response: bad Ed25519, good FALCON-1024", mResponse, re, Initiator, ErrEd25519Signature},
		{"Response: good Ed25519, bad FALCON-1024", mResponse, rf, Initiator, ErrFalconSignature},
		{"Finish: bad Ed25519, good FALCON-1024", mFinish, fe, Responder, ErrEd25519Signature},
		{"Finish: good Ed25519, bad FALCON-1024", mFinish, ff, Responder, ErrFalconSignature},
		{"Response: signed ephemeral changed", mResponse, 3 + hashSize + PublicIdentitySize + 5, Initiator, ErrEd25519Signature},
		{"Response: signed prefix hash changed", mResponse, 10, Initiator, ErrTranscript},
		{"Finish: MAC", mFinish, -1, Responder, ErrKeyConfirmation},
		{"Confirm: MAC", mConfirm, -1, Initiator, ErrKeyConfirmation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectFail(t, newDriver(t, p.ca, p.cb), at(tc.msg, flip(tc.off)), tc.side, tc.want)
		})
	}
}

// A responder that changes its nonce after committing to it (to grind the
// session code) is caught even though its MAC is right.
func TestNonceCommitment(t *testing.T) {
	p := newTestPair(t, LevelStandard, "nonce")
	d := newDriver(t, p.ca, p.cb)
	expectFail(t, d, func(i int, m []byte) []byte {
		if i == mFinish {
			d.hr.nonce[0] ^= 1 // before the responder builds Confirm
		}
		return m
	}, Initiator, ErrNonceCommitment)
}

func TestCommitmentAndPin(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "commit")
	impostor := testIdentity(t, 3)
	t.Run("initiator is not who its blob names", func(t *testing.T) {
		d := newDriver(t, p.ca, p.cb)
		d.hi.cfg.Signer, d.hi.self = impostor, impostor.Public()
		expectFail(t, d, nil, Responder, ErrCommitment)
	})
	t.Run("responder is not who its blob names", func(t *testing.T) {
		d := newDriver(t, p.ca, p.cb)
		d.hr.cfg.Signer, d.hr.self = impostor, impostor.Public()
		expectFail(t, d, nil, Initiator, ErrCommitment)
	})
	t.Run("pinned contact changed identity", func(t *testing.T) {
		ca := p.ca
		ca.PinnedPeer = impostor.Public()
		expectFail(t, newDriver(t, ca, p.cb), nil, Initiator, ErrPinMismatch)
	})
	t.Run("pinned contact matches", func(t *testing.T) {
		ca, cb := p.ca, p.cb
		ca.PinnedPeer, cb.PinnedPeer = p.b.id.Public(), p.a.id.Public()
		if _, err := newDriver(t, ca, cb).run(nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestChannelBinding(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "binding")
	mitm := make([]byte, 32)
	detRand("mitm dtls").Read(mitm)
	for _, tc := range []struct {
		name string
		mod  func(ca, cb *Config)
		want error
	}{
		// A relay terminates DTLS on both sides: each peer sees the relay's
		// certificate instead of the other peer's.
		{"relayed DTLS", func(ca, cb *Config) { ca.PeerDTLSFingerprint, cb.PeerDTLSFingerprint = mitm, mitm }, ErrChannelBinding},
		{"relayed DTLS one side", func(ca, cb *Config) { cb.PeerDTLSFingerprint = mitm }, ErrChannelBinding},
		{"different inner TLS exporter", func(ca, cb *Config) { ca.Exporter, cb.Exporter = []byte("exporter A"), []byte("exporter B") }, ErrChannelBinding},
		{"exporter on one side only", func(ca, cb *Config) { ca.Exporter = []byte("exporter A") }, ErrChannelBinding},
		{"changed blob (transport bytes)", func(ca, cb *Config) {
			cb.PeerBlob = append(bytes.Clone(cb.PeerBlob[:5]), 'X')
		}, ErrBlobMismatch},
		{"changed own blob view", func(ca, cb *Config) {
			cb.LocalBlob = append(bytes.Clone(cb.LocalBlob), 0)
		}, ErrBlobMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, cb := p.ca, p.cb
			tc.mod(&ca, &cb)
			expectFail(t, newDriver(t, ca, cb), nil, Responder, tc.want)
		})
	}
	t.Run("same exporter on both sides", func(t *testing.T) {
		ca, cb := p.ca, p.cb
		ca.Exporter, cb.Exporter = []byte("same exporter"), []byte("same exporter")
		if _, err := newDriver(t, ca, cb).run(nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDowngrade(t *testing.T) {
	p := newTestPair(t, LevelQuantum, "downgrade")
	t.Run("Init level byte lowered", func(t *testing.T) {
		expectFail(t, newDriver(t, p.ca, p.cb), at(mInit, func(m []byte) []byte {
			m[2] = byte(LevelEnhanced)
			return m
		}), Responder, ErrDowngrade)
	})
	t.Run("Init lowered to standard with the KEM key stripped", func(t *testing.T) {
		expectFail(t, newDriver(t, p.ca, p.cb), at(mInit, func(m []byte) []byte {
			m[2] = byte(LevelStandard)
			return m[:len(m)-kemEKSize]
		}), Responder, ErrDowngrade)
	})
	t.Run("Response level byte lowered", func(t *testing.T) {
		expectFail(t, newDriver(t, p.ca, p.cb), at(mResponse, func(m []byte) []byte {
			m[2] = byte(LevelStandard)
			return m
		}), Initiator, ErrDowngrade)
	})
	t.Run("offered levels stripped from the initiator's blob", func(t *testing.T) {
		// The attacker rewrites A's blob so that B believes A only speaks
		// standard: B computes a lower level than A and refuses.
		ca, cb := p.ca, p.cb
		bi, _ := ParseBlobInfo(cb.PeerInfo)
		bi.MinLevel, bi.MaxLevel = LevelStandard, LevelStandard
		cb.PeerInfo, _ = EncodeBlobInfo(bi)
		cb.PeerBlob = append(bytes.Clone(cb.PeerBlob[:len(cb.PeerBlob)-BlobInfoSize]), cb.PeerInfo...)
		expectFail(t, newDriver(t, ca, cb), nil, Responder, ErrDowngrade)
	})
	t.Run("responder's blob lowered, initiator's view changed", func(t *testing.T) {
		a := newPeerSetup(t, p.a.id, LevelStandard, LevelQuantum, "downgrade-a2")
		ca, cb := configs(a, p.b)
		bi, _ := ParseBlobInfo(ca.PeerInfo)
		bi.MaxLevel = LevelEnhanced
		ca.PeerInfo, _ = EncodeBlobInfo(bi)
		ca.PeerBlob = append(bytes.Clone(ca.PeerBlob[:len(ca.PeerBlob)-BlobInfoSize]), ca.PeerInfo...)
		expectFail(t, newDriver(t, ca, cb), nil, Responder, ErrDowngrade)
	})
	t.Run("minimum above the peer's maximum", func(t *testing.T) {
		ca := p.ca
		bi, _ := ParseBlobInfo(ca.PeerInfo)
		bi.MinLevel, bi.MaxLevel = LevelStandard, LevelEnhanced
		ca.PeerInfo, _ = EncodeBlobInfo(bi)
		if _, err := New(ca); !errors.Is(err, ErrNoCommonLevel) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestReplayFromEarlierSession(t *testing.T) {
	old := newTestPair(t, LevelEnhanced, "replay-1")
	d1 := newDriver(t, old.ca, old.cb)
	if _, err := d1.run(nil); err != nil {
		t.Fatal(err)
	}
	rec := d1.msgs
	// A new session has new blobs and new DTLS certificates.
	p := newTestPair(t, LevelEnhanced, "replay-2")
	t.Run("old Init to a new responder", func(t *testing.T) {
		expectFail(t, newDriver(t, p.ca, p.cb), at(mInit, func([]byte) []byte { return bytes.Clone(rec[mInit]) }), Responder, ErrBlobMismatch)
	})
	// Even in the worst case of the very same blobs and certificates, the
	// fresh ephemerals of the new run make every old message fail.
	for _, tc := range []struct {
		name string
		msg  int
		side Role
	}{
		{"old Response to a new initiator", mResponse, Initiator},
		{"old Finish to a new responder", mFinish, Responder},
		{"old Confirm to a new initiator", mConfirm, Initiator},
	} {
		t.Run(tc.name+" (same blobs)", func(t *testing.T) {
			expectFail(t, newDriver(t, old.ca, old.cb), at(tc.msg, func([]byte) []byte { return bytes.Clone(rec[tc.msg]) }), tc.side, ErrTranscript)
		})
	}
}

func TestMalformedMessages(t *testing.T) {
	p := newTestPair(t, LevelQuantum, "malformed")
	for i, name := range []string{"Init", "Response", "Finish", "Confirm"} {
		side := Responder
		if i%2 == 1 {
			side = Initiator
		}
		for _, tc := range []struct {
			name string
			f    func([]byte) []byte
			want error
		}{
			{"truncated by one", func(m []byte) []byte { return m[:len(m)-1] }, ErrMessageFormat},
			{"header only", func(m []byte) []byte { return m[:2] }, ErrMessageFormat},
			{"one byte", func(m []byte) []byte { return m[:1] }, ErrMessageFormat},
			{"empty", func(m []byte) []byte { return nil }, ErrMessageFormat},
			{"trailing byte", func(m []byte) []byte { return append(m, 0) }, ErrMessageFormat},
			{"oversized", func(m []byte) []byte { return append(m, make([]byte, MaxMessageSize)...) }, ErrMessageTooLarge},
			{"unknown version", func(m []byte) []byte { m[0] = 2; return m }, ErrMessageVersion},
			{"unknown type", func(m []byte) []byte { m[1] = 0x55; return m }, ErrMessageFormat},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				expectFail(t, newDriver(t, p.ca, p.cb), at(i, tc.f), side, tc.want)
			})
		}
	}
	t.Run("FALCON-1024 signature length zero", func(t *testing.T) {
		_, rf, _, _ := sigOffsets(t, p, LevelQuantum)
		expectFail(t, newDriver(t, p.ca, p.cb), at(mResponse, func(m []byte) []byte {
			off := rf - 20 - 2
			return append(m[:off], 0, 0)
		}), Initiator, ErrMessageFormat)
	})
	t.Run("FALCON-1024 signature length above the maximum", func(t *testing.T) {
		_, rf, _, _ := sigOffsets(t, p, LevelQuantum)
		expectFail(t, newDriver(t, p.ca, p.cb), at(mResponse, func(m []byte) []byte {
			off := rf - 20 - 2
			m[off], m[off+1] = 0x05, 0xB7 // 1463
			return m
		}), Initiator, ErrMessageFormat)
	})
}

func TestWrongOrder(t *testing.T) {
	p := newTestPair(t, LevelStandard, "order")
	d0 := newDriver(t, p.ca, p.cb)
	if _, err := d0.run(nil); err != nil {
		t.Fatal(err)
	}
	rec := d0.msgs
	for _, tc := range []struct {
		name string
		at   int
		msg  int
		side Role
	}{
		{"Finish instead of Init", mInit, mFinish, Responder},
		{"Confirm instead of Init", mInit, mConfirm, Responder},
		{"Init instead of Response", mResponse, mInit, Initiator},
		{"Confirm instead of Response", mResponse, mConfirm, Initiator},
		{"Init again instead of Finish", mFinish, mInit, Responder},
		{"Response instead of Confirm", mConfirm, mResponse, Initiator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectFail(t, newDriver(t, p.ca, p.cb), at(tc.at, func([]byte) []byte { return bytes.Clone(rec[tc.msg]) }), tc.side, ErrUnexpectedMessage)
		})
	}
	t.Run("abort message", func(t *testing.T) {
		expectFail(t, newDriver(t, p.ca, p.cb), at(mResponse, func([]byte) []byte { return abortMessage(AbortSignature) }), Initiator, ErrPeerAborted)
	})
}

func TestKeyValidation(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "keys")
	// Offsets in Init: header 2, level 1, two hashes, identity, ephemeral, KEM key.
	ephOff := 3 + 2*hashSize + PublicIdentitySize
	kemOff := ephOff + x25519Size
	for _, tc := range []struct {
		name string
		f    func([]byte) []byte
		want error
	}{
		{"all-zero ephemeral", func(m []byte) []byte { copy(m[ephOff:], make([]byte, 32)); return m }, ErrLowOrderPoint},
		{"low-order ephemeral (u=1)", func(m []byte) []byte {
			copy(m[ephOff:], append([]byte{1}, make([]byte, 31)...))
			return m
		}, ErrLowOrderPoint},
		{"ML-KEM key with coefficients >= q", func(m []byte) []byte {
			for i := kemOff; i < kemOff+384; i++ {
				m[i] = 0xff
			}
			return m
		}, ErrMLKEMKey},
		{"identity: invalid FALCON-1024 key", func(m []byte) []byte {
			m[3+2*hashSize+2+32] = 0x09
			return m
		}, ErrFalconPublicKey},
		{"identity: invalid Ed25519 key", func(m []byte) []byte {
			off := 3 + 2*hashSize + 2
			copy(m[off:], append([]byte{1}, make([]byte, 31)...))
			return m
		}, ErrEd25519PublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectFail(t, newDriver(t, p.ca, p.cb), at(mInit, tc.f), Responder, tc.want)
		})
	}
}

// brokenSigner wraps an identity and misbehaves in one way.
type brokenSigner struct {
	*Identity
	mode int
}

func (s brokenSigner) SignBundle(th []byte, level Level) ([]byte, []byte, error) {
	ed, fs, err := s.Identity.SignBundle(th, level)
	switch s.mode {
	case 0:
		return nil, nil, errors.New("key process went away")
	case 1:
		return ed[:10], fs, err
	case 2:
		return ed, []byte{0x3a}, err // a FALCON-1024 signature below quantum
	}
	return ed, fs, err
}

func (s brokenSigner) IdentityDH(peer []byte) ([]byte, error) {
	if s.mode == 3 {
		return nil, errors.New("key process went away")
	}
	return s.Identity.IdentityDH(peer)
}

func TestBrokenSigner(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "signer")
	for mode := range 4 {
		cb := p.cb
		cb.Signer = brokenSigner{Identity: p.b.id, mode: mode}
		expectFail(t, newDriver(t, p.ca, cb), nil, Responder, ErrSigner)
	}
	// A working Signer that is not an *Identity (the vault's key process)
	// goes through the same checks and succeeds.
	cb := p.cb
	cb.Signer = brokenSigner{Identity: p.b.id, mode: 99}
	if _, err := newDriver(t, p.ca, cb).run(nil); err != nil {
		t.Fatal(err)
	}
}
