package handshake

// Handshakes over real rtc.Conn data channels (pion, loopback only). The
// handshake package itself knows nothing of rtc; only this test imports it.

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/rtc"
)

// connTransport adapts an rtc.Conn (blocking Recv) to Transport.
type connTransport struct {
	c    *rtc.Conn
	msgs chan []byte
	errs chan error
}

func newConnTransport(c *rtc.Conn) *connTransport {
	t := &connTransport{c: c, msgs: make(chan []byte, 8), errs: make(chan error, 1)}
	go func() {
		for {
			m, err := c.Recv()
			if err != nil {
				t.errs <- err
				return
			}
			t.msgs <- m
		}
	}()
	return t
}

func (t *connTransport) Send(m []byte) error { return t.c.Send(m) }

func (t *connTransport) Recv(ctx context.Context) ([]byte, error) {
	select {
	case m := <-t.msgs:
		return m, nil
	case err := <-t.errs:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// rtcPair connects an offerer and an answerer on loopback, each with its own
// application field, and returns both Conns.
func rtcPair(t *testing.T, offerApp, answerApp []byte) (off, ans *rtc.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := rtc.LoopbackConfig()
	o, err := rtc.NewOfferer(ctx, cfg, offerApp)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	a, err := rtc.NewAnswerer(ctx, cfg, o.Blob(), answerApp)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() { defer wg.Done(); ans, werr = a.Wait(ctx) }()
	off, err = o.Accept(ctx, a.Blob())
	wg.Wait()
	if err != nil || werr != nil {
		t.Fatalf("rtc connect: accept %v, wait %v", err, werr)
	}
	t.Cleanup(func() { off.Close(); ans.Close() })
	return off, ans
}

// rtcConfig builds a handshake Config from a real connection.
func rtcConfig(c *rtc.Conn, id *Identity, localInfo []byte) Config {
	role := Responder
	if c.IsOfferer() {
		role = Initiator
	}
	lfp, rfp := c.LocalFingerprint(), c.RemoteFingerprint()
	return Config{
		Role: role, Signer: id,
		LocalBlob: c.LocalBlob(), PeerBlob: c.RemoteBlob(),
		LocalInfo: localInfo, PeerInfo: c.RemoteApp(),
		LocalDTLSFingerprint: lfp[:], PeerDTLSFingerprint: rfp[:],
		Timeout: 20 * time.Second,
	}
}

func info(t *testing.T, id *Identity, min Level) []byte {
	t.Helper()
	b, err := EncodeBlobInfo(NewBlobInfo(id.Public(), min))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandshakeOverRTC(t *testing.T) {
	alice, bob := testIdentity(t, 0), testIdentity(t, 1)
	requireFalconSign(t, alice)
	ia, ib := info(t, alice, LevelQuantum), info(t, bob, LevelStandard)
	off, ans := rtcPair(t, ia, ib)
	ta, tb := newConnTransport(off), newConnTransport(ans)
	var wg sync.WaitGroup
	var ra, rb *Result
	var ea, eb error
	wg.Add(2)
	go func() { defer wg.Done(); ra, ea = Run(context.Background(), rtcConfig(off, alice, ia), ta) }()
	go func() { defer wg.Done(); rb, eb = Run(context.Background(), rtcConfig(ans, bob, ib), tb) }()
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatalf("offerer: %v, answerer: %v", ea, eb)
	}
	if ra.Level != LevelQuantum || !bytes.Equal(ra.SessionSecret, rb.SessionSecret) || ra.TranscriptHash != rb.TranscriptHash {
		t.Fatal("sides disagree")
	}
	if !ra.Peer.Equal(bob.Public()) || !rb.Peer.Equal(alice.Public()) {
		t.Fatal("wrong peers")
	}
	// The channel still carries data after the handshake.
	if err := off.Send([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if m, err := tb.Recv(context.Background()); err != nil || string(m) != "after" {
		t.Fatalf("%q %v", m, err)
	}
}

// TestRelayedDTLS puts a relay between Alice and Bob that terminates DTLS on
// both sides and forwards every handshake message unchanged. It passes each
// side the other's application field (commitment and levels), as a
// man in the middle who rewrote the blobs would have to. The handshake must
// fail: the two sides see different blobs and DTLS certificates.
func TestRelayedDTLS(t *testing.T) {
	alice, bob := testIdentity(t, 0), testIdentity(t, 1)
	ia, ib := info(t, alice, LevelStandard), info(t, bob, LevelStandard)
	// Alice (offerer) ↔ relay (answerer, showing Bob's app field).
	aOff, rAns := rtcPair(t, ia, ib)
	// relay (offerer, showing Alice's app field) ↔ Bob (answerer).
	rOff, bAns := rtcPair(t, ia, ib)
	ta, tb := newConnTransport(aOff), newConnTransport(bAns)
	tra, trb := newConnTransport(rAns), newConnTransport(rOff)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	forward := func(from, to *connTransport) {
		for {
			m, err := from.Recv(ctx)
			if err != nil {
				return
			}
			if to.Send(m) != nil {
				return
			}
		}
	}
	go forward(tra, trb)
	go forward(trb, tra)
	var wg sync.WaitGroup
	var ea, eb error
	wg.Add(2)
	go func() { defer wg.Done(); _, ea = Run(ctx, rtcConfig(aOff, alice, ia), ta) }()
	go func() { defer wg.Done(); _, eb = Run(ctx, rtcConfig(bAns, bob, ib), tb) }()
	wg.Wait()
	if !errors.Is(eb, ErrBlobMismatch) && !errors.Is(eb, ErrChannelBinding) {
		t.Fatalf("Bob accepted a relayed handshake: %v", eb)
	}
	if !errors.Is(ea, ErrPeerAborted) {
		t.Fatalf("Alice: %v", ea)
	}
	// With the blobs forced equal (a relay that could copy them byte for
	// byte), the DTLS certificates still differ.
	cfgB := rtcConfig(bAns, bob, ib)
	cfgA := rtcConfig(aOff, alice, ia)
	cfgB.LocalBlob, cfgB.PeerBlob = cfgA.PeerBlob, cfgA.LocalBlob
	d := newDriver(t, cfgA, cfgB)
	if _, err := d.run(nil); !errors.Is(err, ErrChannelBinding) {
		t.Fatalf("relay with equal blobs: %v", err)
	}
}
