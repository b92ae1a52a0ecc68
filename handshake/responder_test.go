package handshake

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"
)

// Tests of the responder's signature in handshake version 2 (PROTOCOL.md
// §2.5): σ_R signs th_R = SHA-256(T0 ‖ label ‖ ID_R ‖ EK_R ‖ RK_R ‖ C_R
// [‖ PQ_R]) and is made in New, before Init exists; th1 and CT_R are not
// signed (TestSignatureFailures, TestQuantumAttackerCannotReplaceCiphertexts).

// TestResponseTh1FromAnotherInit: σ_R does not cover th1, so rewriting th1
// leaves the signatures valid. The initiator's own comparison refuses a
// Response whose th1 names another Init; given to the initiator of that other
// Init, the Response passes th1 and σ_R, and the responder, which answered
// the first Init, refuses that initiator's Finish (th2, and with th2
// rewritten σ_I, whose th_I covers the other Init's keys).
func TestResponseTh1FromAnotherInit(t *testing.T) {
	for _, level := range []Level{LevelStandard, LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			p := newTestPair(t, level, "th1")
			for _, tc := range []struct {
				name string
				to   int // 0: the initiator of the answered Init; 1: of the other Init
				th2  bool
				side Role
				want error
			}{
				{"to the initiator of the answered Init", 0, false, Initiator, ErrTranscript},
				{"to the initiator the new th1 names", 1, false, Responder, ErrTranscript},
				// σ_I covers the other Init's keys (th_I), not those R answered.
				{"to the initiator the new th1 names, th2 rewritten", 1, true, Responder, ErrEd25519Signature},
			} {
				t.Run(tc.name, func(t *testing.T) {
					// Two initiator sessions with the same blobs; R answers the first.
					hi := []*Handshake{mustNew(t, p.ca), mustNew(t, p.ca)}
					hr := mustNew(t, p.cb)
					init, err := hi[0].Start()
					if err != nil {
						t.Fatal(err)
					}
					if _, err := hi[1].Start(); err != nil {
						t.Fatal(err)
					}
					resp, _, err := hr.Handle(init)
					if err != nil {
						t.Fatal(err)
					}
					// th1 := th(T0 ‖ other Init), as the other initiator has it.
					resp = bytes.Clone(resp)
					copy(resp[headerLen+1:], hi[1].transcriptHash())
					fin, _, err := hi[tc.to].Handle(resp)
					if tc.side == Initiator {
						if !errors.Is(err, tc.want) {
							t.Fatalf("got %v, want %v", err, tc.want)
						}
						if fin != nil {
							t.Fatal("the initiator answered a Response to another Init")
						}
						return
					}
					// The rewritten th1 matches this initiator and σ_R does not
					// cover it: the Response is accepted, and only the
					// responder can refuse what follows.
					if err != nil {
						t.Fatalf("Response with th1 of this Init refused: %v", err)
					}
					if tc.th2 {
						copy(fin[headerLen:], hr.transcriptHash())
					}
					if _, _, err := hr.Handle(fin); !errors.Is(err, tc.want) {
						t.Fatalf("responder: got %v, want %v", err, tc.want)
					}
					for _, h := range append(hi, hr) {
						if r, _ := h.Result(); r != nil {
							t.Fatalf("%v completed", h.cfg.Role)
						}
					}
				})
			}
		})
	}
}

func mustNew(t *testing.T, cfg Config) *Handshake {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestResponderSignatureFromAnotherSession: the responder's fields (its
// keys, ratchet key, nonce commitment, with the secrets behind them) and its
// σ_R are taken from a session with other blobs and DTLS fingerprints (same
// identities), so the Response and every key and MAC are consistent; only
// T0 in th_R differs. The initiator refuses the signatures and sends
// nothing. The model check re-signs the same fields for this session's T0,
// and the handshake completes: T0 in th_R is what refuses the replay.
func TestResponderSignatureFromAnotherSession(t *testing.T) {
	level := LevelQuantum
	p := newTestPair(t, level, "sigma-r")
	other := newTestPair(t, level, "sigma-r-other")
	if bytes.Equal(p.a.blob, other.a.blob) || bytes.Equal(p.b.fp, other.b.fp) {
		t.Fatal("the sessions share blobs")
	}
	for _, tc := range []struct {
		name string
		sig  func(old, fresh signature) signature
		want error // nil: accepted
	}{
		{"σ_R of the other session", func(old, _ signature) signature { return old }, ErrEd25519Signature},
		{"FALCON-1024 σ_R of the other session", func(old, fresh signature) signature {
			return signature{ed: fresh.ed, falcon: old.falcon}
		}, ErrFalconSignature},
		{"Ed25519 σ_R of the other session", func(old, fresh signature) signature {
			return signature{ed: old.ed, falcon: fresh.falcon}
		}, ErrEd25519Signature},
		{"model check: the same fields signed for this session", func(_, fresh signature) signature { return fresh }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := mustNew(t, other.cb)
			oldSig := <-old.presig
			if oldSig.err != nil {
				t.Fatal(oldSig.err)
			}
			d := newDriver(t, p.ca, p.cb)
			if sg := <-d.hr.presig; sg.err != nil {
				t.Fatal(sg.err)
			}
			// This session's responder takes the other session's part of
			// Response and the secrets behind it.
			hr := d.hr
			hr.eph, hr.kem, hr.ratchet, hr.nonce, hr.respMsg = old.eph, old.kem, old.ratchet, old.nonce, old.respMsg
			var fresh signature
			fresh.ed, fresh.falcon, fresh.err = p.b.id.SignBundle(hr.responderSigHash(hr.respMsg), level)
			if fresh.err != nil {
				t.Fatal(fresh.err)
			}
			hr.presig = signed(tc.sig(oldSig, fresh))
			if tc.want == nil {
				if _, err := d.run(nil); err != nil {
					t.Fatalf("model check: %v", err)
				}
				return
			}
			expectFail(t, d, nil, Initiator, tc.want)
			if len(d.msgs) != mResponse+1 {
				t.Fatalf("%d messages, want the initiator to refuse Response", len(d.msgs))
			}
		})
	}
}

// gateSigner wraps an identity, counts its SignBundle calls and records
// what they signed; with a gate, each call reports on started and blocks
// until the gate is closed.
type gateSigner struct {
	*Identity
	gate    chan struct{}
	started chan struct{}

	mu       sync.Mutex
	calls    int
	finished int
	th       [][]byte
	ed       [][]byte
}

func newGateSigner(id *Identity, gated bool) *gateSigner {
	s := &gateSigner{Identity: id, started: make(chan struct{}, 16)}
	if gated {
		s.gate = make(chan struct{})
	}
	return s
}

func (s *gateSigner) SignBundle(th []byte, level Level) ([]byte, []byte, error) {
	s.mu.Lock()
	s.calls++
	s.th = append(s.th, bytes.Clone(th))
	s.mu.Unlock()
	s.started <- struct{}{}
	if s.gate != nil {
		<-s.gate
	}
	ed, fs, err := s.Identity.SignBundle(th, level)
	s.mu.Lock()
	s.finished++
	s.ed = append(s.ed, ed)
	s.mu.Unlock()
	return ed, fs, err
}

func (s *gateSigner) counts() (calls, finished int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.finished
}

// waitStarted waits for a SignBundle call to begin. The bound only stops a
// broken build from hanging; an honest call starts at once.
func waitStarted(t *testing.T, s *gateSigner, what string) {
	t.Helper()
	select {
	case <-s.started:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no signing started", what)
	}
}

// TestResponderSignsInNew: New on the responder starts σ_R at once and
// returns without waiting for it (the Signer is held inside SignBundle while
// New returns); σ_R is complete before any Init exists; handling Init does
// not sign again, and the Response carries exactly that signature, over th_R.
// Each side calls SignBundle once per handshake.
func TestResponderSignsInNew(t *testing.T) {
	for _, level := range []Level{LevelStandard, LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			p := newTestPair(t, level, "sign-in-new")
			si, sr := newGateSigner(p.a.id, false), newGateSigner(p.b.id, true)
			ca, cb := p.ca, p.cb
			ca.Signer, cb.Signer = si, sr
			// New returns while SignBundle is held at the gate.
			type made struct {
				h   *Handshake
				err error
			}
			newDone := make(chan made, 1)
			go func() {
				h, err := New(cb)
				newDone <- made{h, err}
			}()
			waitStarted(t, sr, "responder New")
			var hr *Handshake
			select {
			case m := <-newDone:
				if m.err != nil {
					t.Fatal(m.err)
				}
				hr = m.h
			case <-time.After(30 * time.Second):
				close(sr.gate)
				t.Fatal("New waits for σ_R")
			}
			if calls, fin := sr.counts(); calls != 1 || fin != 0 {
				t.Fatalf("after New: %d calls, %d finished; want 1 call held at the gate", calls, fin)
			}
			close(sr.gate)
			// σ_R completes with no Init anywhere (the initiator does not
			// exist yet).
			sg := <-hr.presig
			if sg.err != nil {
				t.Fatal(sg.err)
			}
			hr.presig = signed(sg)
			if calls, fin := sr.counts(); calls != 1 || fin != 1 {
				t.Fatalf("before Init: %d calls, %d finished", calls, fin)
			}
			hi, err := New(ca)
			if err != nil {
				t.Fatal(err)
			}
			d := &driver{hi: hi, hr: hr}
			if _, err := d.run(nil); err != nil {
				t.Fatal(err)
			}
			for _, s := range []*gateSigner{si, sr} {
				if calls, fin := s.counts(); calls != 1 || fin != 1 {
					t.Fatalf("%d SignBundle calls (%d finished) in one handshake, want 1", calls, fin)
				}
			}
			r, err := parseResponse(d.msgs[mResponse], level)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.edSig, sr.ed[0]) || !bytes.Equal(r.edSig, sg.ed) || !bytes.Equal(r.falconSig, sg.falcon) {
				t.Fatal("Response does not carry the signature made in New")
			}
			// What was signed is th_R of the Response's own fields, with
			// this session's T0, computed here without the state machine.
			thR := sha256Of(hr.transcript[:hr.transcript0Len()], []byte("rtcchat hs v2 responder identity\x00"),
				d.msgs[mResponse][respIDOff:respCTOff-kemEKSize], r.kemKey)
			if !bytes.Equal(sr.th[0], thR) {
				t.Fatal("σ_R does not sign th_R")
			}
			if err := p.b.id.Public().VerifyBundle(thR, r.edSig, r.falconSig, level); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Run (both sides concurrently over a pipe) signs once per side too.
	p := newTestPair(t, LevelQuantum, "sign-once-run")
	si, sr := newGateSigner(p.a.id, false), newGateSigner(p.b.id, false)
	ca, cb := p.ca, p.cb
	ca.Signer, cb.Signer = si, sr
	if _, _, ea, eb := runPair(t, ca, cb); ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	for _, s := range []*gateSigner{si, sr} {
		if calls, _ := s.counts(); calls != 1 {
			t.Fatalf("%d SignBundle calls in one Run, want 1", calls)
		}
	}
}

// A responder closed right after New, while σ_R is still being made, waits
// for it: the identity may be destroyed right after Close (run with -race;
// the signing goroutine reads the identity's keys).
func TestCloseWaitsForResponderSignature(t *testing.T) {
	p := newTestPair(t, LevelQuantum, "close-sign-r")
	closeRightAfterNew(t, p.cb, testIdentity(t, 1))

	// The same with the signing held: Close does not return before the
	// Signer's call has.
	s := newGateSigner(testIdentity(t, 1), true)
	cb := p.cb
	cb.Signer = s
	h, err := New(cb)
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, s, "responder New")
	closed := make(chan struct{})
	go func() {
		h.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while σ_R was being made")
	case <-time.After(50 * time.Millisecond):
	}
	close(s.gate)
	<-closed
	if _, fin := s.counts(); fin != 1 {
		t.Fatal("Close returned before the Signer's call")
	}
	s.Identity.Destroy()
	if _, _, err := h.Handle(nil); !errors.Is(err, ErrState) {
		t.Fatalf("Handle after Close: %v", err)
	}
}
