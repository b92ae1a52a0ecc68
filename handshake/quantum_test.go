package handshake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/mlkem"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/rtcchat/rtcchat/handshake/falcon"
	xdh "github.com/rtcchat/rtcchat/internal/x25519"
)

// classicalLeak is everything a "quantum attacker" learns about a recorded
// session by breaking X25519 and Ed25519: every X25519 and Ed25519 secret of
// both sides. It does not learn ML-KEM or FALCON-1024 secrets.
type classicalLeak struct {
	edSeedI, edSeedR []byte // Ed25519 identity seeds (hence the static X25519 secrets)
	ephI, ephR       []byte // ephemeral X25519 secrets
	ratchetR         []byte // responder's initial ratchet secret
	msgs             [][]byte
	prefix           []byte // T0 = ProtocolName || level || blobs hash || binding hash (public)
}

// recordSession runs a handshake step by step, capturing the classical
// secrets (the attacker's knowledge) and, separately, the ML-KEM shared
// secrets (an oracle the test uses only to check its model of the key
// schedule, never as attacker knowledge).
func recordSession(t *testing.T, p *testPair) (leak *classicalLeak, kemSS [][]byte, ri, rr *Result) {
	t.Helper()
	d := newDriver(t, p.ca, p.cb)
	leak = &classicalLeak{edSeedI: p.a.id.edSeed[:], edSeedR: p.b.id.edSeed[:]}
	leak.prefix = bytes.Clone(d.hi.transcript)
	init, err := d.hi.Start()
	if err != nil {
		t.Fatal(err)
	}
	leak.ephI = d.hi.eph.Bytes()
	resp, _, err := d.hr.Handle(init)
	if err != nil {
		t.Fatal(err)
	}
	leak.ephR = d.hr.eph.Bytes()
	leak.ratchetR = d.hr.ratchet.Bytes()
	fin, _, err := d.hi.Handle(resp)
	if err != nil {
		t.Fatal(err)
	}
	kemSS = [][]byte{bytes.Clone(d.hi.ssToInit), bytes.Clone(d.hi.ssToResp)}
	conf, _, err := d.hr.Handle(fin)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.hi.Handle(conf); err != nil {
		t.Fatal(err)
	}
	leak.msgs = [][]byte{init, resp, fin, conf}
	ri, _ = d.hi.Result()
	rr, _ = d.hr.Result()
	return leak, kemSS, ri, rr
}

// attackerKey recomputes the session secret from public data, the leaked
// classical secrets and the given ML-KEM secrets, following PROTOCOL.md §2.5.
func attackerKey(t *testing.T, leak *classicalLeak, level Level, kem []byte) []byte {
	t.Helper()
	in, err := parseInit(leak.msgs[mInit], level)
	if err != nil {
		t.Fatal(err)
	}
	re, err := parseResponse(leak.msgs[mResponse], level)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := parseFinish(leak.msgs[mFinish], level)
	if err != nil {
		t.Fatal(err)
	}
	staticI := sha512.Sum512(leak.edSeedI)
	xI, _ := ecdh.X25519().NewPrivateKey(staticI[:32])
	ephI, _ := ecdh.X25519().NewPrivateKey(leak.ephI)
	pubR, _ := ParsePublicIdentity(re.identity)
	dh := func(k *ecdh.PrivateKey, pub []byte) []byte {
		p, err := ecdh.X25519().NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		s, err := k.ECDH(p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_ = in // Init is covered through the transcript hash
	// th3 covers Finish up to σ_I, so XB and ID_I too (version 2).
	if !bytes.Equal(fi.identity[idEdOff:idFalconOff], ed25519.NewKeyFromSeed(leak.edSeedI).Public().(ed25519.PublicKey)) {
		t.Fatal("Finish does not carry the initiator's identity")
	}
	ikm := bytes.Repeat([]byte{0xff}, 32)
	ikm = append(ikm, dh(xI, re.ephemeral)...)   // DH1 = DH(IK_I, EK_R)
	ikm = append(ikm, dh(ephI, pubR.xpub)...)    // DH2 = DH(EK_I, IK_R)
	ikm = append(ikm, dh(ephI, re.ephemeral)...) // DH3 = DH(EK_I, EK_R)
	ikm = append(ikm, kem...)
	h := sha256.New()
	h.Write(leak.prefix)
	h.Write(leak.msgs[mInit])
	h.Write(leak.msgs[mResponse])
	h.Write(leak.msgs[mFinish][:fi.th3Len])
	th3 := h.Sum(nil)
	h.Write(leak.msgs[mFinish][fi.th3Len:])
	h.Write(leak.msgs[mConfirm])
	th5 := h.Sum(nil)
	prk, _ := hkdf.Extract(sha256.New, ikm, th3)
	out, _ := hkdf.Expand(sha256.New, prk, labelSessionSecret+"\x00"+string(th5), SessionSecretSize)
	return out
}

func TestQuantumAttackerCannotDeriveKey(t *testing.T) {
	for _, level := range []Level{LevelEnhanced, LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			p := newTestPair(t, level, "quantum-attacker")
			leak, kemSS, ri, rr := recordSession(t, p)
			if !bytes.Equal(ri.SessionSecret, rr.SessionSecret) {
				t.Fatal("honest run disagrees")
			}
			// The test's model of the key schedule is right: with the ML-KEM
			// secrets added, the classical secrets give the real key.
			withKEM := attackerKey(t, leak, level, append(bytes.Clone(kemSS[0]), kemSS[1]...))
			if !bytes.Equal(withKEM, ri.SessionSecret) {
				t.Fatal("model of the key schedule is wrong: the attack below would prove nothing")
			}
			// Without them, every classical secret of the session is not enough.
			guesses := map[string][]byte{
				"no KEM secrets":          nil,
				"zero KEM secrets":        make([]byte, 64),
				"only the R→I KEM secret": kemSS[0],
				"only the I→R KEM secret": kemSS[1],
			}
			for name, g := range guesses {
				if bytes.Equal(attackerKey(t, leak, level, g), ri.SessionSecret) {
					t.Fatalf("%s: classical secrets alone give the session key", name)
				}
			}
		})
	}
	// At the standard level there is no ML-KEM: the same attacker succeeds,
	// which shows the test's attacker really holds all classical secrets.
	p := newTestPair(t, LevelStandard, "quantum-attacker")
	leak, _, ri, _ := recordSession(t, p)
	if !bytes.Equal(attackerKey(t, leak, LevelStandard, nil), ri.SessionSecret) {
		t.Fatal("classical attacker model cannot break even the standard level")
	}
}

// forger impersonates an identity whose Ed25519 seed it stole: it presents
// the victim's public identity, signs with the victim's Ed25519 key and does
// the victim's X25519 exchanges, but has to sign with a FALCON-1024 key of
// its own.
type forger struct {
	victim *PublicIdentity
	edSeed []byte
	falcon *falcon.PrivateKey
}

func (f *forger) Public() *PublicIdentity { return f.victim }

func (f *forger) modelsAttacker() {} // sends its forged signatures unchecked

func (f *forger) SignBundle(th []byte, level Level) ([]byte, []byte, error) {
	msg := signedMessage(th)
	ed := ed25519.Sign(ed25519.NewKeyFromSeed(f.edSeed), msg)
	if level < LevelQuantum {
		return ed, nil, nil
	}
	fs, err := f.falcon.Sign(detRand("forger"), msg)
	return ed, fs, err
}

func (f *forger) IdentityDH(peer []byte) ([]byte, error) {
	h := sha512.Sum512(f.edSeed)
	k, _ := xdh.NewKey(h[:32])
	return x25519(k, peer)
}

func TestQuantumAttackerCannotImpersonate(t *testing.T) {
	for _, level := range []Level{LevelStandard, LevelEnhanced, LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			p := newTestPair(t, level, "forge")
			attackerFalcon := testFalconKey(t, 3)
			// Impersonate the responder to the initiator: refused on Response.
			cb := p.cb
			cb.Signer = &forger{victim: p.b.id.Public(), edSeed: p.b.id.edSeed[:], falcon: attackerFalcon}
			dR := newDriver(t, p.ca, cb)
			roleR, errR := dR.run(nil)
			// Impersonate the initiator to the responder: σ_I is made in
			// New and refused on Finish.
			ca := p.ca
			ca.Signer = &forger{victim: p.a.id.Public(), edSeed: p.a.id.edSeed[:], falcon: attackerFalcon}
			dI := newDriver(t, ca, p.cb)
			roleI, errI := dI.run(nil)
			if level < LevelQuantum {
				// Below quantum, Ed25519 is the only authentication: a
				// quantum attacker succeeds, so the forger is a real one.
				if errR != nil || errI != nil {
					t.Fatalf("forger failed below quantum: %v / %v", errR, errI)
				}
				return
			}
			if !errors.Is(errR, ErrFalconSignature) || !errors.Is(errI, ErrFalconSignature) {
				t.Fatalf("forged bundles with valid Ed25519 accepted or wrong error: %v / %v", errR, errI)
			}
			if roleR != Initiator || len(dR.msgs) != mResponse+1 {
				t.Fatalf("forged responder refused by %v after %d messages, want the initiator on Response", roleR, len(dR.msgs))
			}
			if roleI != Responder || len(dI.msgs) != mFinish+1 {
				t.Fatalf("forged initiator refused by %v after %d messages, want the responder on Finish", roleI, len(dI.msgs))
			}
		})
	}
}

// TestQuantumAttackerCannotReplaceCiphertexts: σ_I is made before Response
// exists and σ_R before Init exists, so neither covers a ciphertext (CT_I,
// CT_R). A quantum attacker on the path (every X25519 secret, the Ed25519
// keys, but no ML-KEM or FALCON-1024 secret) that replaces a ciphertext by
// its own encapsulation is refused by the key confirmation, because it lacks
// the other direction's ML-KEM secret, and no side accepts the session.
func TestQuantumAttackerCannotReplaceCiphertexts(t *testing.T) {
	t.Run("CT_I in Finish", func(t *testing.T) {
		for _, level := range []Level{LevelEnhanced, LevelQuantum} {
			t.Run(level.String(), func(t *testing.T) {
				p := newTestPair(t, level, "replace-ct-i")
				// With the oracle secret ss_R→I the forged Finish is accepted,
				// which shows that nothing but that secret protects CT_I:
				// the attacker model below is exact.
				for _, oracle := range []bool{true, false} {
					d := newDriver(t, p.ca, p.cb)
					tamper := func(i int, m []byte) []byte {
						if i != mFinish {
							return m
						}
						resp, err := parseResponse(d.msgs[mResponse], level)
						if err != nil {
							t.Fatal(err)
						}
						ss, ct := attackerEncapsulate(t, resp.kemKey) // to PQ_R
						if !oracle {
							// The attacker's best guess of ss_R→I; what reFinish
							// takes from the initiator otherwise.
							saved := d.hi.ssToInit
							d.hi.ssToInit = make([]byte, len(saved))
							defer func() { d.hi.ssToInit = saved }()
						}
						return reFinish(t, d, m, func(f *finishMsg) { f.kemCT = ct }, ss)
					}
					if oracle {
						// The responder accepts the Finish and completes; only
						// the initiator, whose own Finish differs, refuses
						// Confirm.
						role, err := d.run(tamper)
						if r, _ := d.hr.Result(); r == nil || role != Initiator || !errors.Is(err, ErrTranscript) {
							t.Fatalf("model check: responder result %v, %v from %v", r != nil, err, role)
						}
						continue
					}
					expectFail(t, d, tamper, Responder, ErrKeyConfirmation)
				}
			})
		}
	})
	t.Run("CT_R in Response", func(t *testing.T) {
		// σ_R is made before Init exists, so it does not cover CT_R: the
		// attacker replaces CT_R by its own encapsulation to PQ_I (at either
		// level, with no key of the responder), and the initiator accepts
		// the Response and decapsulates the attacker's secret SS_A. The
		// responder refuses the Finish: th2 names another Response, and with
		// th2 rewritten or MAC_I remade from the attacker's knowledge MAC_I
		// fails, since its key needs SS_R (encapsulated to PQ_I, which only
		// the initiator can open) and SS_I (encapsulated to PQ_R, which σ_R
		// authenticates). Nor can the attacker complete the initiator: MAC_R
		// needs SS_I too. The model checks give the attacker those two
		// secrets (an oracle) and show that then each forgery is accepted,
		// so nothing but them protects the replaced CT_R.
		for _, level := range []Level{LevelEnhanced, LevelQuantum} {
			t.Run(level.String(), func(t *testing.T) {
				p := newTestPair(t, level, "replace-ct-r")
				const (
					forward    = iota // Finish as the initiator sent it
					rewriteTh2        // th2 set to the responder's view
					forgeMAC          // th2 and MAC_I remade by the attacker
					oracleMAC         // model check: with the oracle SS_R and SS_I
				)
				for _, tc := range []struct {
					name   string
					finish int
					want   error // of the responder on Finish; nil: it accepts
				}{
					{"Finish forwarded", forward, ErrTranscript},
					{"th2 rewritten", rewriteTh2, ErrKeyConfirmation},
					{"th2 and MAC_I remade with the attacker's secrets", forgeMAC, ErrKeyConfirmation},
					{"model check: MAC_I remade with the oracle SS_R and SS_I", oracleMAC, nil},
				} {
					t.Run(tc.name, func(t *testing.T) {
						d := newDriver(t, p.ca, p.cb)
						var ssA []byte // the attacker's SS_R
						tamper := func(i int, m []byte) []byte {
							switch i {
							case mResponse:
								var out []byte
								ssA, out = replaceCTR(t, d, m, level)
								return out
							case mFinish:
								// The initiator accepted the Response and
								// took the attacker's secret.
								if !bytes.Equal(d.hi.ssToInit, ssA) {
									t.Fatal("the initiator did not decapsulate the attacker's CT_R")
								}
								switch tc.finish {
								case rewriteTh2:
									copy(m[headerLen:], d.hr.transcriptHash())
								case forgeMAC:
									// The attacker's best values of SS_R and SS_I.
									return forgeFinishForResponder(t, d, m, ssA, make([]byte, len(ssA)))
								case oracleMAC:
									return forgeFinishForResponder(t, d, m, d.hr.ssToInit, d.hi.ssToResp)
								}
							}
							return m
						}
						if tc.want == nil {
							// The responder accepts and confirms; the
							// initiator, whose transcript holds the
							// attacker's Response, refuses Confirm.
							role, err := d.run(tamper)
							if r, _ := d.hr.Result(); r == nil || role != Initiator || !errors.Is(err, ErrTranscript) {
								t.Fatalf("model check: responder result %v, %v from %v", r != nil, err, role)
							}
							return
						}
						expectFail(t, d, tamper, Responder, tc.want)
						// The initiator waits for Confirm: the attacker's
						// Confirm, made with all it knows (SS_A, every X25519
						// secret) but not SS_I or N_R, is refused on MAC_R.
						conf := forgeConfirmForInitiator(t, d, make([]byte, len(ssA)), make([]byte, nonceSize))
						if _, _, err := d.hi.Handle(conf); !errors.Is(err, ErrKeyConfirmation) {
							t.Fatalf("initiator on the attacker's Confirm: %v", err)
						}
						if r, _ := d.hi.Result(); r != nil {
							t.Fatal("initiator completed")
						}
						if r, _ := d.hr.Result(); r != nil {
							t.Fatal("responder completed")
						}
					})
				}
				// Model check of that Confirm: with the oracle SS_I and N_R
				// the initiator accepts it, so only SS_I protects it.
				t.Run("model check: Confirm with the oracle SS_I and N_R", func(t *testing.T) {
					d := newDriver(t, p.ca, p.cb)
					nonce := bytes.Clone(d.hr.nonce)
					_, err := d.run(func(i int, m []byte) []byte {
						if i == mResponse {
							_, out := replaceCTR(t, d, m, level)
							return out
						}
						return m
					})
					if !errors.Is(err, ErrTranscript) {
						t.Fatalf("responder on the forwarded Finish: %v", err)
					}
					conf := forgeConfirmForInitiator(t, d, d.hi.ssToResp, nonce)
					if _, done, err := d.hi.Handle(conf); err != nil || !done {
						t.Fatalf("model check: initiator refused the oracle Confirm: %v", err)
					}
				})
			})
		}
	})
}

// keyedMAC is HMAC-SHA256(HKDF-Expand(HKDF-Extract(salt, ikm), label ||
// 0x00, 32), msg): MAC_I and MAC_R of PROTOCOL.md §2.5, from the given key
// material (an attacker's knowledge, or an oracle's).
func keyedMAC(t *testing.T, ikm, salt []byte, label string, msg []byte) []byte {
	t.Helper()
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hkdf.Expand(sha256.New, prk, label+"\x00", 32)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// forgeFinishForResponder remakes the initiator's Finish m for d's responder
// (its transcript T0 ‖ Init ‖ its own Response): th2 as the responder
// expects it, and MAC_I keyed from the X25519 outputs (known to a quantum
// attacker) and the given SS_R and SS_I.
func forgeFinishForResponder(t *testing.T, d *driver, m, ssR, ssI []byte) []byte {
	t.Helper()
	level := d.hr.level
	f, err := parseFinish(m, level)
	if err != nil {
		t.Fatal(err)
	}
	prefix := d.hr.transcript
	copy(f.prevHash[:], d.hr.transcriptHash())
	th := func(part []byte) []byte { return sha256Of(prefix, part) }
	ikm := append(append(bytes.Clone(d.hi.dh), ssR...), ssI...)
	maced := f.marshalMACed(level)
	return append(maced, keyedMAC(t, ikm, th(f.marshalHead()), labelInitiatorMAC, th(maced))...)
}

// forgeConfirmForInitiator makes a Confirm for d's initiator, which has sent
// Finish: th4 as the initiator expects it, nonce as N_R, and MAC_R keyed
// from the X25519 outputs, the SS_R the initiator decapsulated and ssI.
func forgeConfirmForInitiator(t *testing.T, d *driver, ssI, nonce []byte) []byte {
	t.Helper()
	hi := d.hi
	fin := d.msgs[mFinish]
	f, err := parseFinish(fin, hi.level)
	if err != nil {
		t.Fatal(err)
	}
	beforeFinish := hi.transcript[:len(hi.transcript)-len(fin)]
	salt := sha256Of(beforeFinish, fin[:f.th3Len])
	c := &confirmMsg{}
	copy(c.prevHash[:], sha256Of(hi.transcript))
	copy(c.nonce[:], nonce)
	maced := c.marshalMACed()
	ikm := append(append(bytes.Clone(hi.dh), hi.ssToInit...), ssI...)
	return append(maced, keyedMAC(t, ikm, salt, labelResponderMAC, sha256Of(hi.transcript, maced))...)
}

func sha256Of(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// replaceCTR is the attacker's Response: CT_R replaced by its own
// encapsulation to the PQ_I of the Init d sent, σ_R unchanged. It returns
// the attacker's secret SS_A and the message.
func replaceCTR(t *testing.T, d *driver, resp []byte, level Level) (ssA, out []byte) {
	t.Helper()
	in, err := parseInit(d.msgs[mInit], level)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseResponse(resp, level)
	if err != nil {
		t.Fatal(err)
	}
	ssA, r.kemCT = attackerEncapsulate(t, in.kemKey) // to PQ_I
	return ssA, r.marshal()
}

// attackerEncapsulate is the attacker's own encapsulation to a key taken
// from a message (crypto/mlkem, independent of the code under test).
func attackerEncapsulate(t *testing.T, ek []byte) (ss, ct []byte) {
	t.Helper()
	k, err := mlkem.NewEncapsulationKey1024(ek)
	if err != nil {
		t.Fatal(err)
	}
	return k.Encapsulate()
}
