package handshake

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
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
	return r.signedLen, r.signedLen + EdSignatureSize + 2 + 20, f.th3Len, f.th3Len + EdSignatureSize + 2 + 20
}

// Field offsets (PROTOCOL.md §2.4, version 2).
const (
	initEphOff  = headerLen + 1 + 2*hashSize      // Init: header, level, BH, CB, then EK_I
	initKEMOff  = initEphOff + x25519Size         // then PQ_I (level ≥ enhanced)
	finXBOff    = headerLen + hashSize            // Finish: header, th2, then XB
	finIDOff    = finXBOff + hashSize             // then ID_I
	finCTOff    = finIDOff + PublicIdentitySize   // then CT_I (level ≥ enhanced)
	idEdOff     = 2                               // public identity: version, kind, then the Ed25519 key
	idFalconOff = idEdOff + ed25519.PublicKeySize // then the FALCON-1024 key
	// Response: header, level, th1, ID_R, EK_R, RK_R, C_R, PQ_R, then CT_R.
	respIDOff  = headerLen + 1 + hashSize
	respEphOff = respIDOff + PublicIdentitySize
	respCTOff  = respEphOff + 3*x25519Size + kemEKSize
)

// lowOrderEd is an Ed25519 public key encoding that is refused (u = 1).
var lowOrderEd = append([]byte{1}, make([]byte, 31)...)

// setInitiatorSigner makes d's initiator present s (whose identity need not
// match its blob): Init, which names no identity, stays the same, and σ_I is
// made again by s over th_I with s's identity, so that the Finish is
// consistent and only the checks of that identity can refuse it.
func (d *driver) setInitiatorSigner(t *testing.T, s Signer) {
	t.Helper()
	// Wait for the signing started in New (it reads the Signer).
	if sg := <-d.hi.presig; sg.err != nil {
		t.Fatal(sg.err)
	}
	d.hi.cfg.Signer, d.hi.self = s, s.Public()
	if err := d.hi.prepareInit(); err != nil {
		t.Fatal(err)
	}
}

// setResponderSigner makes d's responder present s (whose identity need not
// match its blob): the responder's part of Response is made again, with s's
// identity, and σ_R by s over that th_R, so that the Response is consistent
// and only the checks of that identity can refuse it.
func (d *driver) setResponderSigner(t *testing.T, s Signer) {
	t.Helper()
	// Wait for the signing started in New (it reads the Signer).
	if sg := <-d.hr.presig; sg.err != nil {
		t.Fatal(sg.err)
	}
	d.hr.cfg.Signer, d.hr.self = s, s.Public()
	if err := d.hr.prepareResponse(); err != nil {
		t.Fatal(err)
	}
}

// reFinish rebuilds the Finish m that d's initiator has just sent, with
// change applied to its fields, and recomputes th3, the key schedule and
// MAC_I exactly as the initiator does, from the initiator's own key
// material (its DH outputs and ML-KEM secrets; ssToResp, if not nil,
// replaces the secret of the encapsulation to the responder). The result
// is what an attacker who knew those secrets, but not the initiator's
// signing keys, could send: only the checks that need no secret can refuse
// it. Call it from a tamper function at mFinish.
func reFinish(t *testing.T, d *driver, m []byte, change func(f *finishMsg), ssToResp []byte) []byte {
	t.Helper()
	hi := d.hi
	f, err := parseFinish(m, hi.level)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(f)
	}
	prefix := hi.transcript[:len(hi.transcript)-len(m)] // T0 ‖ Init ‖ Response
	if ssToResp == nil {
		ssToResp = hi.ssToResp
	}
	th := func(parts ...[]byte) []byte {
		h := sha256.New()
		h.Write(prefix)
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	ikm := append(append(bytes.Clone(hi.dh), hi.ssToInit...), ssToResp...)
	prk, err := hkdf.Extract(sha256.New, ikm, th(f.marshalHead()))
	if err != nil {
		t.Fatal(err)
	}
	key, err := hkdf.Expand(sha256.New, prk, labelInitiatorMAC+"\x00", 32)
	if err != nil {
		t.Fatal(err)
	}
	maced := f.marshalMACed(hi.level)
	mac := hmac.New(sha256.New, key)
	mac.Write(th(maced))
	return mac.Sum(maced)
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
		// σ_R covers th_R: T0 and R's own fields ID_R, EK_R, RK_R, C_R, PQ_R.
		{"Response: signed ephemeral changed", mResponse, respEphOff + 5, Initiator, ErrEd25519Signature},
		{"Response: signed ratchet key changed", mResponse, respEphOff + x25519Size + 5, Initiator, ErrEd25519Signature},
		{"Response: signed nonce commitment changed", mResponse, respEphOff + 2*x25519Size + 5, Initiator, ErrEd25519Signature},
		{"Response: signed PQ_R changed", mResponse, respEphOff + 3*x25519Size + 100, Initiator, ErrEd25519Signature},
		// th1 and CT_R are not signed (σ_R is made before Init exists):
		// the initiator compares th1 with its own, and a changed CT_R,
		// which the initiator accepts, is caught by the responder on th2
		// (and, with th2 rewritten, on MAC_I: TestQuantumAttackerCannotReplaceCiphertexts).
		{"Response: th1 changed (not signed, compared)", mResponse, headerLen + 1 + 5, Initiator, ErrTranscript},
		{"Response: CT_R changed (not signed)", mResponse, respCTOff + 100, Responder, ErrTranscript},
		{"Finish: th2 changed", mFinish, headerLen + 5, Responder, ErrTranscript},
		{"Finish: XB changed", mFinish, finXBOff + 5, Responder, ErrChannelBinding},
		// σ_I does not cover CT_I (it is made before Response): the ML-KEM
		// secret in the key schedule, hence MAC_I, catches the change.
		{"Finish: CT_I changed", mFinish, finCTOff + 100, Responder, ErrKeyConfirmation},
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
	// Init names no identity: the responder answers it and refuses the
	// initiator's identity on Finish, before it sends anything more.
	failsOnFinish := func(t *testing.T, d *driver) {
		t.Helper()
		if len(d.msgs) != mFinish+1 {
			t.Fatalf("failed after %d messages, want the responder to refuse Finish", len(d.msgs))
		}
	}
	t.Run("initiator is not who its blob names", func(t *testing.T) {
		d := newDriver(t, p.ca, p.cb)
		d.setInitiatorSigner(t, impostor)
		expectFail(t, d, nil, Responder, ErrCommitment)
		failsOnFinish(t, d)
	})
	t.Run("initiator's identity replaced in Finish", func(t *testing.T) {
		// An attacker with every session secret puts another identity, with
		// that identity's own valid σ_I, into the initiator's Finish.
		d := newDriver(t, p.ca, p.cb)
		expectFail(t, d, func(i int, m []byte) []byte {
			if i != mFinish {
				return m
			}
			return reFinish(t, d, m, func(f *finishMsg) {
				f.identity = impostor.Public().Bytes()
				th := initiatorSigHash(d.hr.level, d.hr.cfg.PeerBlob, f.identity, d.hr.initKeys)
				var err error
				if f.edSig, f.falconSig, err = impostor.SignBundle(th, d.hi.level); err != nil {
					t.Fatal(err)
				}
			}, nil)
		}, Responder, ErrCommitment)
		failsOnFinish(t, d)
	})
	// Version 3: σ_I covers the initiator's own offer blob, identity and
	// Init keys at the level. A genuine σ_I of the same initiator and keys
	// made for another offer, or for another level, is refused.
	for _, tc := range []struct {
		name  string
		level func(l Level) Level
		blob  func(b []byte) []byte
	}{
		{"initiator's σ_I made for another offer", func(l Level) Level { return l },
			func(b []byte) []byte { return append(bytes.Clone(b), 'x') }},
		{"initiator's σ_I made for another level", func(l Level) Level { return l - 1 },
			func(b []byte) []byte { return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, p.ca, p.cb)
			expectFail(t, d, func(i int, m []byte) []byte {
				if i != mFinish {
					return m
				}
				return reFinish(t, d, m, func(f *finishMsg) {
					th := initiatorSigHash(tc.level(d.hi.level), tc.blob(d.hi.cfg.LocalBlob), f.identity, d.hi.initKeys)
					var err error
					// The shape of level's signatures (FALCON-1024 too).
					if f.edSig, f.falconSig, err = p.ca.Signer.SignBundle(th, d.hi.level); err != nil {
						t.Fatal(err)
					}
				}, nil)
			}, Responder, ErrEd25519Signature)
			failsOnFinish(t, d)
		})
	}
	t.Run("responder is not who its blob names", func(t *testing.T) {
		d := newDriver(t, p.ca, p.cb)
		d.setResponderSigner(t, impostor)
		expectFail(t, d, nil, Initiator, ErrCommitment)
	})
	t.Run("initiator's pinned contact changed identity", func(t *testing.T) {
		ca := p.ca
		ca.PinnedPeer = impostor.Public()
		expectFail(t, newDriver(t, ca, p.cb), nil, Initiator, ErrPinMismatch)
	})
	t.Run("responder's pinned contact changed identity", func(t *testing.T) {
		cb := p.cb
		cb.PinnedPeer = impostor.Public()
		d := newDriver(t, p.ca, cb)
		expectFail(t, d, nil, Responder, ErrPinMismatch)
		failsOnFinish(t, d)
	})
	t.Run("pinned contact matches", func(t *testing.T) {
		ca, cb := p.ca, p.cb
		ca.PinnedPeer, cb.PinnedPeer = p.b.id.Public(), p.a.id.Public()
		if _, err := newDriver(t, ca, cb).run(nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFinishFieldsUnderAttack rebuilds Finish with a valid MAC_I (reFinish:
// an attacker who knows every session secret of the initiator but not its
// signing keys) and checks that σ_I, which covers th_I (the initiator's
// offer blob, identity and Init keys) only, and the XB check still refuse
// what they must.
func TestFinishFieldsUnderAttack(t *testing.T) {
	p := newTestPair(t, LevelQuantum, "finish-attack")
	// An earlier session with the very same blobs and certificates: its σ_I
	// is a valid signature of the initiator, over another Init.
	old := newDriver(t, p.ca, p.cb)
	if _, err := old.run(nil); err != nil {
		t.Fatal(err)
	}
	oldFin, err := parseFinish(old.msgs[mFinish], LevelQuantum)
	if err != nil {
		t.Fatal(err)
	}
	// A second handshake the initiator has started (New signs th_I at once)
	// but not sent: its σ_I is fresh and covers that other Init's keys.
	other, err := New(p.ca)
	if err != nil {
		t.Fatal(err)
	}
	otherSig := <-other.presig
	if otherSig.err != nil {
		t.Fatal(otherSig.err)
	}
	xb := hashParts(labelExporter, []byte("the attacker's inner TLS session"))
	for _, tc := range []struct {
		name   string
		change func(f *finishMsg)
		want   error // nil: accepted
	}{
		{"unchanged (the attacker model gives the honest Finish)", nil, nil},
		{"σ_I of an earlier session replayed", func(f *finishMsg) { f.edSig, f.falconSig = oldFin.edSig, oldFin.falconSig }, ErrEd25519Signature},
		{"FALCON-1024 σ_I of an earlier session", func(f *finishMsg) { f.falconSig = oldFin.falconSig }, ErrFalconSignature},
		{"σ_I made for another Init of the initiator", func(f *finishMsg) { f.edSig, f.falconSig = otherSig.ed, otherSig.falcon }, ErrEd25519Signature},
		{"FALCON-1024 σ_I missing", func(f *finishMsg) { f.falconSig = nil }, ErrMessageFormat},
		{"XB of another inner TLS session", func(f *finishMsg) { f.exporter = xb }, ErrChannelBinding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, p.ca, p.cb)
			var honest, forged []byte
			tamper := func(i int, m []byte) []byte {
				if i != mFinish {
					return m
				}
				honest, forged = bytes.Clone(m), reFinish(t, d, m, tc.change, nil)
				return forged
			}
			if tc.want == nil {
				if _, err := d.run(tamper); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(honest, forged) {
					t.Fatal("reFinish does not reproduce the honest Finish: the cases below would prove nothing")
				}
				return
			}
			expectFail(t, d, tamper, Responder, tc.want)
		})
	}
}

// TestResponseFromParallelSession: σ_I does not cover Response, so the
// initiator's Finish for one Response is signed just as well for any other.
// An attacker who forwards Init to two responder sessions (same blobs) and
// gives the initiator the second Response is caught by th2 and, when it
// rewrites th2, by MAC_I: the two sessions' keys differ.
func TestResponseFromParallelSession(t *testing.T) {
	for _, level := range []Level{LevelStandard, LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			p := newTestPair(t, level, "parallel")
			for _, rewrite := range []bool{false, true} {
				hi, err := New(p.ca)
				if err != nil {
					t.Fatal(err)
				}
				hr, err := New(p.cb)
				if err != nil {
					t.Fatal(err)
				}
				hr2, err := New(p.cb)
				if err != nil {
					t.Fatal(err)
				}
				init, err := hi.Start()
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := hr.Handle(init); err != nil {
					t.Fatal(err)
				}
				resp2, _, err := hr2.Handle(init)
				if err != nil {
					t.Fatal(err)
				}
				// The second Response is genuine and answers this Init: the
				// initiator accepts it.
				fin, _, err := hi.Handle(resp2)
				if err != nil {
					t.Fatal(err)
				}
				want := ErrTranscript
				if rewrite {
					fin = bytes.Clone(fin)
					copy(fin[headerLen:], hr.transcriptHash()) // th2 as hr expects it
					want = ErrKeyConfirmation                  // σ_I verifies; the keys differ
				}
				_, _, err = hr.Handle(fin)
				if !errors.Is(err, want) {
					t.Fatalf("rewritten th2 %v: got %v, want %v", rewrite, err, want)
				}
				if r, _ := hr.Result(); r != nil {
					t.Fatal("responder completed")
				}
				// The second responder session completes with the initiator
				// and is the only session that does.
				conf, done, err := hr2.Handle(fin)
				if rewrite {
					if !errors.Is(err, ErrTranscript) {
						t.Fatalf("second responder on a rewritten th2: %v", err)
					}
					continue
				}
				if err != nil || !done {
					t.Fatalf("second responder: %v", err)
				}
				if _, done, err := hi.Handle(conf); err != nil || !done {
					t.Fatalf("initiator with the second responder: %v", err)
				}
			}
		})
	}
}

func TestChannelBinding(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "binding")
	mitm := make([]byte, 32)
	detRand("mitm dtls").Read(mitm)
	for _, tc := range []struct {
		name string
		mod  func(ca, cb *Config)
		at   int // the message the responder refuses
		want error
	}{
		// A relay terminates DTLS on both sides: each peer sees the relay's
		// certificate instead of the other peer's. CB (in Init) covers the
		// DTLS fingerprints only.
		{"relayed DTLS", func(ca, cb *Config) { ca.PeerDTLSFingerprint, cb.PeerDTLSFingerprint = mitm, mitm }, mInit, ErrChannelBinding},
		{"relayed DTLS one side", func(ca, cb *Config) { cb.PeerDTLSFingerprint = mitm }, mInit, ErrChannelBinding},
		// The inner TLS exporter is bound by XB in Finish.
		{"different inner TLS exporter", func(ca, cb *Config) { ca.Exporter, cb.Exporter = []byte("exporter A"), []byte("exporter B") }, mFinish, ErrChannelBinding},
		{"exporter on the initiator only", func(ca, cb *Config) { ca.Exporter = []byte("exporter A") }, mFinish, ErrChannelBinding},
		{"exporter on the responder only", func(ca, cb *Config) { cb.Exporter = []byte("exporter B") }, mFinish, ErrChannelBinding},
		{"changed blob (transport bytes)", func(ca, cb *Config) {
			cb.PeerBlob = append(bytes.Clone(cb.PeerBlob[:5]), 'X')
		}, mInit, ErrBlobMismatch},
		{"changed own blob view", func(ca, cb *Config) {
			cb.LocalBlob = append(bytes.Clone(cb.LocalBlob), 0)
		}, mInit, ErrBlobMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, cb := p.ca, p.cb
			tc.mod(&ca, &cb)
			d := newDriver(t, ca, cb)
			expectFail(t, d, nil, Responder, tc.want)
			if len(d.msgs) != tc.at+1 {
				t.Fatalf("refused after %d messages, want message %d", len(d.msgs), tc.at)
			}
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

// TestSetExporter: the chat layer creates the handshakes (and sends Init)
// before the inner TLS session exists and sets its exporter later; the
// result is the same as with Config.Exporter, a difference fails on Finish,
// and a late or invalid call is refused without harm.
func TestSetExporter(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "set-exporter")
	x, y := []byte("inner TLS exporter x"), []byte("inner TLS exporter y")
	// late runs a deterministic handshake in which the initiator sets ei
	// once Init is sent and the responder sets er once it sent Response
	// (nil: no call).
	late := func(t *testing.T, ca, cb Config, ei, er []byte) (*driver, error) {
		t.Helper()
		d := newDriverRand(t, ca, cb, detRand("set-exporter i"), detRand("set-exporter r"))
		_, err := d.run(func(i int, m []byte) []byte {
			var err error
			if i == mInit && ei != nil {
				err = d.hi.SetExporter(ei)
			}
			if i == mResponse && er != nil {
				err = d.hr.SetExporter(er)
			}
			if err != nil {
				t.Fatalf("SetExporter before use: %v", err)
			}
			return m
		})
		return d, err
	}
	transcript := func(t *testing.T, d *driver) [32]byte {
		t.Helper()
		ri, _ := d.hi.Result()
		rr, _ := d.hr.Result()
		if ri == nil || rr == nil || !bytes.Equal(ri.SessionSecret, rr.SessionSecret) {
			t.Fatal("handshake did not complete with one key")
		}
		return ri.TranscriptHash
	}
	t.Run("set late equals Config.Exporter", func(t *testing.T) {
		d, err := late(t, p.ca, p.cb, x, x)
		if err != nil {
			t.Fatal(err)
		}
		ca, cb := p.ca, p.cb
		ca.Exporter, cb.Exporter = x, x
		d2, err := late(t, ca, cb, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		d3, err := late(t, p.ca, p.cb, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if transcript(t, d) != transcript(t, d2) {
			t.Fatal("SetExporter gives another handshake than Config.Exporter")
		}
		if transcript(t, d) == transcript(t, d3) {
			t.Fatal("the exporter does not enter the transcript")
		}
	})
	t.Run("set late replaces Config.Exporter", func(t *testing.T) {
		ca, cb := p.ca, p.cb
		ca.Exporter, cb.Exporter = y, y
		d, err := late(t, ca, cb, x, x)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := late(t, p.ca, p.cb, x, x)
		if err != nil {
			t.Fatal(err)
		}
		if transcript(t, d) != transcript(t, d2) {
			t.Fatal("SetExporter did not replace Config.Exporter")
		}
	})
	for _, tc := range []struct {
		name   string
		ei, er []byte
	}{
		{"different values", x, y},
		{"initiator only", x, nil},
		{"responder only", nil, x},
	} {
		t.Run("set late, "+tc.name, func(t *testing.T) {
			d, err := late(t, p.ca, p.cb, tc.ei, tc.er)
			if !errors.Is(err, ErrChannelBinding) || len(d.msgs) != mFinish+1 {
				t.Fatalf("got %v after %d messages, want ErrChannelBinding on Finish", err, len(d.msgs))
			}
			if r, _ := d.hr.Result(); r != nil {
				t.Fatal("responder completed")
			}
		})
	}
	t.Run("too long", func(t *testing.T) {
		d := newDriver(t, p.ca, p.cb)
		for _, h := range []*Handshake{d.hi, d.hr} {
			if err := h.SetExporter(make([]byte, maxExporterLen+1)); !errors.Is(err, ErrConfig) {
				t.Fatalf("%v: %v", h.cfg.Role, err)
			}
		}
		// Refused without effect: the handshake goes on.
		if _, err := d.run(nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("after use", func(t *testing.T) {
		d := newDriver(t, p.ca, p.cb)
		var errI, errR error
		if _, err := d.run(func(i int, m []byte) []byte {
			switch i {
			case mFinish: // the initiator put XB into Finish
				errI = d.hi.SetExporter(x)
			case mConfirm: // the responder checked XB and is done
				errR = d.hr.SetExporter(x)
			}
			return m
		}); err != nil {
			t.Fatalf("a refused SetExporter broke the handshake: %v", err)
		}
		if !errors.Is(errI, ErrState) || !errors.Is(errR, ErrState) {
			t.Fatalf("initiator %v, responder %v, want ErrState", errI, errR)
		}
		if err := d.hi.SetExporter(x); !errors.Is(err, ErrState) {
			t.Fatalf("after the end: %v", err)
		}
	})
	t.Run("after failure", func(t *testing.T) {
		d := newDriver(t, p.ca, p.cb)
		expectFail(t, d, at(mInit, flip(initEphOff-1)), Responder, ErrChannelBinding)
		if err := d.hr.SetExporter(x); !errors.Is(err, ErrState) {
			t.Fatalf("responder: %v", err)
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
	// σ_R covers T0 and R's own fields, not th1: with the very same blobs
	// and certificates, an old Response whose th1 is rewritten passes the
	// initiator's checks. The attacker cannot finish: MAC_R needs the old
	// responder's secrets (EK_R, and at enhanced SS_I, encapsulated to the
	// old PQ_R), so the old Confirm with th4 rewritten fails and the
	// initiator accepts nothing.
	t.Run("old Response with th1 rewritten, then old Confirm with th4 rewritten (same blobs)", func(t *testing.T) {
		hi, err := New(old.ca)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hi.Start(); err != nil {
			t.Fatal(err)
		}
		resp := bytes.Clone(rec[mResponse])
		copy(resp[headerLen+1:], hi.transcriptHash())
		if _, _, err := hi.Handle(resp); err != nil {
			t.Fatalf("old Response with this th1 refused: %v", err)
		}
		conf := bytes.Clone(rec[mConfirm])
		copy(conf[headerLen:], hi.transcriptHash())
		if _, _, err := hi.Handle(conf); !errors.Is(err, ErrKeyConfirmation) {
			t.Fatalf("got %v, want %v", err, ErrKeyConfirmation)
		}
		if r, _ := hi.Result(); r != nil {
			t.Fatal("initiator completed")
		}
	})
	// Init names no identity and carries no freshness of the responder, so
	// a responder with the same blobs answers an old Init; the attacker
	// cannot finish: the old Finish fails on th2 and, with th2 rewritten,
	// on MAC_I (the old σ_I is valid for that Init, the keys are new).
	for _, rewrite := range []bool{false, true} {
		name, want := "old Init and old Finish (same blobs)", ErrTranscript
		if rewrite {
			name, want = name+", th2 rewritten", ErrKeyConfirmation
		}
		t.Run(name, func(t *testing.T) {
			hr, err := New(old.cb)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := hr.Handle(rec[mInit]); err != nil {
				t.Fatalf("Init refused: %v", err)
			}
			fin := bytes.Clone(rec[mFinish])
			if rewrite {
				copy(fin[headerLen:], hr.transcriptHash())
			}
			if _, _, err := hr.Handle(fin); !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
			if r, _ := hr.Result(); r != nil {
				t.Fatal("responder completed")
			}
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
			{"version 1", func(m []byte) []byte { m[0] = 1; return m }, ErrMessageVersion},
			{"unknown version", func(m []byte) []byte { m[0] = Version + 1; return m }, ErrMessageVersion},
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
	for _, tc := range []struct {
		name string
		msg  int
		f    func([]byte) []byte
		want error
	}{
		{"Init: all-zero ephemeral", mInit, func(m []byte) []byte { copy(m[initEphOff:], make([]byte, 32)); return m }, ErrLowOrderPoint},
		{"Init: low-order ephemeral (u=1)", mInit, func(m []byte) []byte {
			copy(m[initEphOff:], append([]byte{1}, make([]byte, 31)...))
			return m
		}, ErrLowOrderPoint},
		{"Init: ML-KEM key with coefficients >= q", mInit, func(m []byte) []byte {
			for i := initKEMOff; i < initKEMOff+384; i++ {
				m[i] = 0xff
			}
			return m
		}, ErrMLKEMKey},
		// The initiator's identity travels in Finish (version 2).
		{"Finish: identity with an invalid FALCON-1024 key", mFinish, func(m []byte) []byte {
			m[finIDOff+idFalconOff] = 0x09
			return m
		}, ErrFalconPublicKey},
		{"Finish: identity with an invalid Ed25519 key", mFinish, func(m []byte) []byte {
			copy(m[finIDOff+idEdOff:], lowOrderEd)
			return m
		}, ErrEd25519PublicKey},
		{"Finish: identity of another kind", mFinish, func(m []byte) []byte {
			m[finIDOff+1] = kindPrivate
			return m
		}, ErrIdentityEncoding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectFail(t, newDriver(t, p.ca, p.cb), at(tc.msg, tc.f), Responder, tc.want)
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
	case 4: // a fault in the Ed25519 signature: caught by our own check
		ed = bytes.Clone(ed)
		ed[5] ^= 1
	case 5: // a fault in the FALCON-1024 signature (level quantum)
		fs = bytes.Clone(fs)
		fs[len(fs)/2] ^= 4
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
	pq := newTestPair(t, LevelQuantum, "signer")
	for mode := range 6 {
		p := p
		if mode == 5 {
			p = pq
		}
		cb := p.cb
		cb.Signer = brokenSigner{Identity: p.b.id, mode: mode}
		expectFail(t, newDriver(t, p.ca, cb), nil, Responder, ErrSigner)
		// The initiator signs in New (in the background): a failure there
		// is reported when it handles Response, and it sends no Finish.
		ca := p.ca
		ca.Signer = brokenSigner{Identity: p.a.id, mode: mode}
		d := newDriver(t, ca, p.cb)
		expectFail(t, d, nil, Initiator, ErrSigner)
		if len(d.msgs) != mResponse+1 {
			t.Fatalf("mode %d: initiator failed after %d messages", mode, len(d.msgs))
		}
	}
	// A working Signer that is not an *Identity (the vault's key process)
	// goes through the same checks and succeeds on either side.
	ca, cb := p.ca, p.cb
	ca.Signer = brokenSigner{Identity: p.a.id, mode: 99}
	cb.Signer = brokenSigner{Identity: p.b.id, mode: 99}
	if _, err := newDriver(t, ca, cb).run(nil); err != nil {
		t.Fatal(err)
	}
}
