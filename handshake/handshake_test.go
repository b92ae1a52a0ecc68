package handshake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// pipe is an in-memory Transport pair.
type pipe struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   *sync.Once
	// sent records every message this end sent.
	mu   sync.Mutex
	sent [][]byte
}

func newPipe() (*pipe, *pipe) {
	a2b, b2a := make(chan []byte, 16), make(chan []byte, 16)
	closed := make(chan struct{})
	once := &sync.Once{}
	return &pipe{in: b2a, out: a2b, closed: closed, once: once},
		&pipe{in: a2b, out: b2a, closed: closed, once: once}
}

func (p *pipe) Send(m []byte) error {
	c := bytes.Clone(m)
	p.mu.Lock()
	p.sent = append(p.sent, c)
	p.mu.Unlock()
	select {
	case p.out <- c:
		return nil
	case <-p.closed:
		return io.ErrClosedPipe
	}
}

func (p *pipe) Recv(ctx context.Context) ([]byte, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.closed:
		return nil, io.EOF
	}
}

func (p *pipe) Close() { p.once.Do(func() { close(p.closed) }) }

// peerSetup describes one side of a test session.
type peerSetup struct {
	id       *Identity
	min, max Level
	blob     []byte
	info     []byte
	fp       []byte
}

func newPeerSetup(t testing.TB, id *Identity, min, max Level, session string) *peerSetup {
	t.Helper()
	info, err := EncodeBlobInfo(BlobInfo{MinLevel: min, MaxLevel: max, Commitment: id.Public().Commitment()})
	if err != nil {
		t.Fatal(err)
	}
	fp := make([]byte, 32)
	detRand("dtls " + session + string(id.Public().ed)).Read(fp)
	// A stand-in for an rtc blob: some transport bytes plus the app field.
	blob := append([]byte("rtc blob "+session+" "), fp...)
	blob = append(blob, info...)
	return &peerSetup{id: id, min: min, max: max, blob: blob, info: info, fp: fp}
}

// configs returns the initiator's and the responder's Config for a session
// between a (initiator) and b (responder), each seeing the other's blob
// unchanged.
func configs(a, b *peerSetup) (Config, Config) {
	ca := Config{
		Role: Initiator, Signer: a.id,
		LocalBlob: a.blob, PeerBlob: b.blob, LocalInfo: a.info, PeerInfo: b.info,
		LocalDTLSFingerprint: a.fp, PeerDTLSFingerprint: b.fp,
	}
	cb := Config{
		Role: Responder, Signer: b.id,
		LocalBlob: b.blob, PeerBlob: a.blob, LocalInfo: b.info, PeerInfo: a.info,
		LocalDTLSFingerprint: b.fp, PeerDTLSFingerprint: a.fp,
	}
	return ca, cb
}

type testPair struct {
	a, b   *peerSetup
	ca, cb Config
}

func newTestPair(t testing.TB, level Level, session string) *testPair {
	t.Helper()
	a := newPeerSetup(t, testIdentity(t, 0), level, MaxSupportedLevel, session+"a")
	b := newPeerSetup(t, testIdentity(t, 1), LevelStandard, level, session+"b")
	if level >= LevelQuantum {
		requireFalconSign(t, a.id)
	}
	ca, cb := configs(a, b)
	return &testPair{a: a, b: b, ca: ca, cb: cb}
}

// runPair runs both sides concurrently over an in-memory pipe.
func runPair(t testing.TB, ca, cb Config) (ra, rb *Result, ea, eb error) {
	t.Helper()
	pa, pb := newPipe()
	defer pa.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	ctx := context.Background()
	go func() { defer wg.Done(); ra, ea = Run(ctx, ca, pa) }()
	go func() { defer wg.Done(); rb, eb = Run(ctx, cb, pb) }()
	wg.Wait()
	return
}

func TestHandshakeLevels(t *testing.T) {
	for _, level := range []Level{LevelStandard, LevelEnhanced, LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			p := newTestPair(t, level, "levels")
			ra, rb, ea, eb := runPair(t, p.ca, p.cb)
			if ea != nil || eb != nil {
				t.Fatalf("initiator: %v, responder: %v", ea, eb)
			}
			if ra.Level != level || rb.Level != level {
				t.Fatalf("levels %v %v, want %v", ra.Level, rb.Level, level)
			}
			if !bytes.Equal(ra.SessionSecret, rb.SessionSecret) || len(ra.SessionSecret) != SessionSecretSize {
				t.Fatal("session secrets differ")
			}
			if ra.TranscriptHash != rb.TranscriptHash || !bytes.Equal(ra.AD, rb.AD) {
				t.Fatal("transcripts differ")
			}
			if !ra.Peer.Equal(p.b.id.Public()) || !rb.Peer.Equal(p.a.id.Public()) {
				t.Fatal("wrong peer identity")
			}
			if ra.ResponderRatchetPrivate != nil || rb.ResponderRatchetPrivate == nil ||
				!ra.ResponderRatchetPublic.Equal(rb.ResponderRatchetPrivate.PublicKey()) ||
				!rb.ResponderRatchetPublic.Equal(ra.ResponderRatchetPublic) {
				t.Fatal("ratchet keys")
			}
			if ra.SessionCode() != rb.SessionCode() {
				t.Fatal("session codes differ")
			}
			lo, hi := wireSize(level)
			if ra.WireBytes != rb.WireBytes || ra.WireBytes < lo || ra.WireBytes > hi {
				t.Fatalf("wire bytes %d %d, want %d..%d", ra.WireBytes, rb.WireBytes, lo, hi)
			}
			if ra.PQRatchet() != (level == LevelQuantum) {
				t.Fatal("PQRatchet")
			}
			// A second session between the same identities gives fresh keys.
			q := newTestPair(t, level, "levels-2")
			ra2, _, ea, eb := runPair(t, q.ca, q.cb)
			if ea != nil || eb != nil {
				t.Fatal(ea, eb)
			}
			if bytes.Equal(ra2.SessionSecret, ra.SessionSecret) || ra2.TranscriptHash == ra.TranscriptHash {
				t.Fatal("two sessions share keys")
			}
		})
	}
}

// wireSize is the number of handshake bytes (all four messages) at a level,
// from the formats in PROTOCOL.md §2.4 (version 2: Init carries no identity,
// Finish carries XB and the initiator's identity). FALCON-1024 signatures
// vary in length, so the quantum level gives a range.
func wireSize(level Level) (lo, hi int) {
	const (
		initStd     = 2 + 1 + 32 + 32 + 32                  // header, level, BH, CB, EK_I = 99
		responseStd = 2 + 1 + 32 + 1827 + 32 + 32 + 32 + 64 // header, level, th1, ID_R, EK_R, RK_R, C_R, σ_R Ed25519 = 2022
		finishStd   = 2 + 32 + 32 + 1827 + 64 + 32          // header, th2, XB, ID_I, σ_I Ed25519, MAC_I = 1989
		confirmStd  = 2 + 32 + 32 + 32                      // header, th4, N_R, MAC_R = 98
		standard    = initStd + responseStd + finishStd + confirmStd
		kem         = 1568 + 2*1568 + 1568 // PQ_I in Init; PQ_R + CT_R in Response; CT_I in Finish
	)
	switch level {
	case LevelStandard:
		return standard, standard
	case LevelEnhanced:
		return standard + kem, standard + kem
	}
	// Two FALCON-1024 signatures with their 2-byte lengths; a signature is
	// 41 bytes of header and nonce plus at least a few hundred bytes of s2.
	return standard + kem + 2*(2+600), standard + kem + 2*(2+1462)
}

// TestMessageSizes checks each message's size against PROTOCOL.md §2.4
// (version 2): Init 99 / 1667, Response 2022 / 5158 / 5160 + σ, Finish
// 1989 / 3557 / 3559 + σ, Confirm 98.
func TestMessageSizes(t *testing.T) {
	for _, tc := range []struct {
		level Level
		sizes [4]int // without the FALCON-1024 signatures
	}{
		{LevelStandard, [4]int{99, 2022, 1989, 98}},
		{LevelEnhanced, [4]int{1667, 5158, 3557, 98}},
		{LevelQuantum, [4]int{1667, 5160, 3559, 98}},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			p := newTestPair(t, tc.level, "sizes")
			d := newDriver(t, p.ca, p.cb)
			if _, err := d.run(nil); err != nil {
				t.Fatal(err)
			}
			var falconLen [4]int
			if tc.level == LevelQuantum {
				r, err := parseResponse(d.msgs[mResponse], tc.level)
				if err != nil {
					t.Fatal(err)
				}
				f, err := parseFinish(d.msgs[mFinish], tc.level)
				if err != nil {
					t.Fatal(err)
				}
				falconLen[mResponse], falconLen[mFinish] = len(r.falconSig), len(f.falconSig)
				if falconLen[mResponse] == 0 || falconLen[mFinish] == 0 {
					t.Fatal("no FALCON-1024 signature at quantum")
				}
			}
			for i, m := range d.msgs {
				if want := tc.sizes[i] + falconLen[i]; len(m) != want {
					t.Errorf("message %d: %d bytes, want %d", i, len(m), want)
				}
			}
		})
	}
}

// driver runs the two state machines in lock step with hooks to tamper with
// each message; it returns the error of the side that failed.
type driver struct {
	hi, hr *Handshake
	msgs   [][]byte // messages as sent, in order
}

func newDriver(t testing.TB, ca, cb Config) *driver {
	t.Helper()
	return newDriverRand(t, ca, cb, nil, nil)
}

// newDriverRand is newDriver with each side's randomness source (nil:
// crypto/rand). The initiator makes its keys and σ_I in New, so a
// deterministic source must be given here, not set afterwards.
func newDriverRand(t testing.TB, ca, cb Config, ri, rr io.Reader) *driver {
	t.Helper()
	hi, err := newHandshake(ca, ri)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := newHandshake(cb, rr)
	if err != nil {
		t.Fatal(err)
	}
	return &driver{hi: hi, hr: hr}
}

// run executes the handshake; tamper(i, msg) may replace message i (0 =
// Init ... 3 = Confirm) before delivery. It returns the first error and which
// side (Initiator or Responder) raised it.
func (d *driver) run(tamper func(i int, m []byte) []byte) (Role, error) {
	m, err := d.hi.Start()
	if err != nil {
		return Initiator, err
	}
	sides := []*Handshake{d.hr, d.hi}
	for i := 0; ; i++ {
		d.msgs = append(d.msgs, bytes.Clone(m))
		if tamper != nil {
			m = tamper(i, m)
		}
		h := sides[i%2]
		reply, done, err := h.Handle(m)
		if err != nil {
			return h.cfg.Role, err
		}
		if reply == nil {
			if !done {
				return h.cfg.Role, errors.New("no reply but not done")
			}
			return 0, nil
		}
		m = reply
	}
}

func TestHandshakeDriverAgrees(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "driver")
	d := newDriver(t, p.ca, p.cb)
	if _, err := d.run(nil); err != nil {
		t.Fatal(err)
	}
	ri, _ := d.hi.Result()
	rr, _ := d.hr.Result()
	if ri == nil || rr == nil || !bytes.Equal(ri.SessionSecret, rr.SessionSecret) {
		t.Fatal("driver handshake did not agree")
	}
	// Ended state machines refuse further input.
	if _, _, err := d.hi.Handle(d.msgs[3]); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
}

func TestHandshakeDeterministic(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "det")
	run := func() *Result {
		d := newDriverRand(t, p.ca, p.cb, detRand("i"), detRand("r"))
		if _, err := d.run(nil); err != nil {
			t.Fatal(err)
		}
		r, _ := d.hi.Result()
		return r
	}
	a, b := run(), run()
	if a.TranscriptHash != b.TranscriptHash || !bytes.Equal(a.SessionSecret, b.SessionSecret) {
		t.Fatal("fixed randomness gave different handshakes")
	}
	// Only the randomness makes them equal: another initiator stream (read
	// in New) gives another handshake.
	d := newDriverRand(t, p.ca, p.cb, detRand("i2"), detRand("r"))
	if _, err := d.run(nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := d.hi.Result(); c.TranscriptHash == a.TranscriptHash {
		t.Fatal("different initiator randomness gave the same handshake")
	}
	// Likewise the responder's stream, read in New (its keys, nonce, σ_R).
	d = newDriverRand(t, p.ca, p.cb, detRand("i"), detRand("r2"))
	if _, err := d.run(nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := d.hi.Result(); c.TranscriptHash == a.TranscriptHash {
		t.Fatal("different responder randomness gave the same handshake")
	}
}

func TestTimeout(t *testing.T) {
	p := newTestPair(t, LevelStandard, "timeout")
	for _, role := range []Role{Initiator, Responder} {
		cfg := p.ca
		if role == Responder {
			cfg = p.cb
		}
		cfg.Timeout = 50 * time.Millisecond
		pa, pb := newPipe()
		start := time.Now()
		_, err := Run(context.Background(), cfg, pa)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("%v: got %v, want ErrTimeout", role, err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("timeout took %v", el)
		}
		// The silent peer is told why.
		if role == Initiator {
			<-pb.in // Init
		}
		ab, _ := pb.Recv(context.Background())
		if _, err := messageType(ab); !errors.Is(err, ErrPeerAborted) {
			t.Fatalf("%v: no abort sent: %v", role, err)
		}
		pa.Close()
	}
	// A peer that stalls after the first message also trips the timeout.
	cfg := p.ca
	cfg.Timeout = 100 * time.Millisecond
	pa, pb := newPipe()
	defer pa.Close()
	go func() {
		h, _ := New(p.cb)
		m, _ := pb.Recv(context.Background())
		h.Handle(m) // computes the Response but never sends it
	}()
	if _, err := Run(context.Background(), cfg, pa); !errors.Is(err, ErrTimeout) {
		t.Fatalf("stalled responder: %v", err)
	}
}

func TestPeerAbortIsReported(t *testing.T) {
	p := newTestPair(t, LevelStandard, "abort")
	// The responder pins a different identity: it rejects, and the initiator
	// learns why instead of waiting for its timeout.
	p.cb.PinnedPeer = testIdentity(t, 2).Public()
	_, _, ea, eb := runPair(t, p.ca, p.cb)
	if !errors.Is(eb, ErrPinMismatch) {
		t.Fatalf("responder: %v", eb)
	}
	if !errors.Is(ea, ErrPeerAborted) {
		t.Fatalf("initiator: %v", ea)
	}
}

func TestConfigRejects(t *testing.T) {
	p := newTestPair(t, LevelStandard, "config")
	other := testIdentity(t, 3)
	for _, tc := range []struct {
		name string
		mod  func(c *Config)
		want error
	}{
		{"no role", func(c *Config) { c.Role = 0 }, ErrConfig},
		{"no signer", func(c *Config) { c.Signer = nil }, ErrConfig},
		{"empty blob", func(c *Config) { c.PeerBlob = nil }, ErrConfig},
		{"huge blob", func(c *Config) { c.LocalBlob = make([]byte, 2000) }, ErrConfig},
		{"no fingerprint", func(c *Config) { c.PeerDTLSFingerprint = nil }, ErrConfig},
		{"huge exporter", func(c *Config) { c.Exporter = make([]byte, 65) }, ErrConfig},
		{"own info for another identity", func(c *Config) { c.Signer = other }, ErrConfig},
		{"peer info missing", func(c *Config) { c.PeerInfo = nil }, ErrBlobInfo},
		{"peer info bad", func(c *Config) { c.PeerInfo = []byte{1, 3, 1} }, ErrBlobInfo},
	} {
		cfg := p.ca
		tc.mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, err, tc.want)
		}
	}
	// Misuse of the state machine.
	hr, _ := New(p.cb)
	if _, err := hr.Start(); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	hi, _ := New(p.ca)
	if _, _, err := hi.Handle([]byte{1, 2}); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
	if _, err := hi.Result(); !errors.Is(err, ErrState) {
		t.Fatal(err)
	}
}

func TestSessionSecretDiffersByRole(t *testing.T) {
	// Both roles of one identity pair, swapped: different transcripts.
	p := newTestPair(t, LevelStandard, "swap")
	ra, _, ea, eb := runPair(t, p.ca, p.cb)
	if ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	cb, ca := configs(p.b, p.a)
	cb.Role, ca.Role = Initiator, Responder
	rb, _, ea, eb := runPair(t, cb, ca)
	if ea != nil || eb != nil {
		t.Fatal(ea, eb)
	}
	if ra.TranscriptHash == rb.TranscriptHash {
		t.Fatal("swapped roles gave the same transcript")
	}
}

func ExampleRun() {
	// Each side builds a Config from its rtc.Conn (blobs, DTLS fingerprints)
	// and its identity, then:
	//
	//	res, err := handshake.Run(ctx, cfg, conn)
	//	s, err := ratchet.NewInitiator(ratchet.Config{PQ: res.PQRatchet()},
	//		res.SessionSecret, res.AD, res.ResponderRatchetPublic)
	fmt.Println(len(SessionCode([32]byte{})))
	// Output: 11
}

// TestClose: a handshake given up before it completed (the connection failed
// first) drops its keys and refuses further input; Close after the end
// keeps the result. Matches compares this side's view of the connection.
func TestClose(t *testing.T) {
	p := newTestPair(t, LevelEnhanced, "close")
	hi, err := New(p.ca)
	if err != nil {
		t.Fatal(err)
	}
	if !hi.Matches(p.ca.LocalBlob, p.ca.PeerBlob, p.ca.LocalDTLSFingerprint, p.ca.PeerDTLSFingerprint) {
		t.Fatal("Matches refuses the handshake's own view")
	}
	if hi.Matches(p.ca.LocalBlob, p.ca.PeerBlob, p.ca.PeerDTLSFingerprint, p.ca.LocalDTLSFingerprint) {
		t.Fatal("Matches accepts swapped fingerprints")
	}
	hi.Close()
	if hi.eph != nil || hi.kem != nil {
		t.Fatal("closed handshake kept its keys")
	}
	if _, err := hi.Start(); !errors.Is(err, ErrState) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := hi.SetExporter(nil); !errors.Is(err, ErrState) {
		t.Fatalf("SetExporter after Close: %v", err)
	}
	// A responder closed while waiting for Finish.
	d := newDriver(t, p.ca, p.cb)
	init, err := d.hi.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.hr.Handle(init); err != nil {
		t.Fatal(err)
	}
	d.hr.Close()
	if d.hr.eph != nil || d.hr.ratchet != nil {
		t.Fatal("closed responder kept its keys")
	}
	if _, _, err := d.hr.Handle(init); !errors.Is(err, ErrState) {
		t.Fatalf("Handle after Close: %v", err)
	}
	// Close after the end is a no-op.
	d = newDriver(t, p.ca, p.cb)
	if _, err := d.run(nil); err != nil {
		t.Fatal(err)
	}
	d.hi.Close()
	d.hr.Close()
	for _, h := range []*Handshake{d.hi, d.hr} {
		if r, err := h.Result(); err != nil || len(r.SessionSecret) != SessionSecretSize {
			t.Fatalf("%v: result after Close: %v", h.cfg.Role, err)
		}
	}
	var nilH *Handshake
	nilH.Close()
}

// An initiator closed while the signature New started is still being made
// waits for it: the identity may be destroyed right after Close (run with
// -race; the signing goroutine reads the identity's keys).
func TestCloseWaitsForInitiatorSignature(t *testing.T) {
	p := newTestPair(t, LevelQuantum, "close-sign")
	closeRightAfterNew(t, p.ca, testIdentity(t, 0))
}

// closeRightAfterNew makes a handshake for cfg signed by id, closes it at
// once (its signature started in New is still being made) and destroys id:
// Close must have waited for the signature.
func closeRightAfterNew(t *testing.T, cfg Config, id *Identity) {
	t.Helper()
	cfg.Signer = id
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if h.presig != nil {
		t.Fatal("Close left the signature pending")
	}
	id.Destroy()
}
