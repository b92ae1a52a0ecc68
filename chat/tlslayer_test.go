package chat

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func tlsPair(t *testing.T) (*tlsConn, *tlsConn) {
	t.Helper()
	a, b := newMsgPipe()
	return tlsPairOver(t, a, b, nil)
}

// tlsPairOver runs inner TLS over a (client) and b (server, with serverCert
// if not nil) and returns both ends.
func tlsPairOver(t *testing.T, a, b MessageConn, serverCert *tls.Certificate) (*tlsConn, *tlsConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		c   *tlsConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := wrapTLS(ctx, b, false, serverCert)
		ch <- res{c, err}
	}()
	ca, err := wrapTLS(ctx, a, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { ca.Close(); r.c.Close() })
	return ca, r.c
}

func TestInnerTLS(t *testing.T) {
	ca, cb := tlsPair(t)
	for _, c := range []*tlsConn{ca, cb} {
		if c.info.Version != tls.VersionTLS13 {
			t.Fatalf("version %x, want TLS 1.3", c.info.Version)
		}
		if c.info.CipherSuite != tls.TLS_CHACHA20_POLY1305_SHA256 {
			t.Fatalf("cipher suite %s, want TLS_CHACHA20_POLY1305_SHA256", tls.CipherSuiteName(c.info.CipherSuite))
		}
		if c.info.Group != tls.X25519MLKEM768 {
			t.Fatalf("group %s, want X25519MLKEM768", c.info.Group)
		}
	}
	if !bytes.Equal(ca.info.Exporter, cb.info.Exporter) || len(ca.info.Exporter) != tlsExporterSize {
		t.Fatal("exporter values differ between the two ends")
	}
	ctx := context.Background()
	msgs := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{7}, 100_000)}
	for _, m := range msgs {
		if err := ca.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		got, err := cb.Recv(ctx)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes (%v), want %d", len(got), err, len(want))
		}
	}
	// Recv honours its context and the connection stays usable afterwards.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := cb.Recv(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv after deadline: %v", err)
	}
	if err := ca.Send([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if got, err := cb.Recv(ctx); err != nil || string(got) != "after" {
		t.Fatalf("after a timed-out Recv: %q, %v", got, err)
	}
}

// Two TLS sessions relayed by a machine in the middle have different exporters:
// the handshake transcript, which covers the exporter, then differs.
func TestInnerTLSRelayChangesExporter(t *testing.T) {
	a1, _ := tlsPair(t)
	a2, _ := tlsPair(t)
	if bytes.Equal(a1.info.Exporter, a2.info.Exporter) {
		t.Fatal("two TLS sessions share an exporter value")
	}
}

// A peer that offers only a classical group is refused: the layer accepts
// nothing but the hybrid X25519MLKEM768 key exchange.
func TestInnerTLSRefusesClassicalGroup(t *testing.T) {
	a, b := newMsgPipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 1)
	go func() {
		_, err := wrapTLS(ctx, b, false, nil)
		errs <- err
	}()
	cfg := innerTLSConfig(nil) // a client, as the answering side runs it
	cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	tc := tls.Client(newStreamConn(a), cfg)
	if err := tc.HandshakeContext(ctx); err == nil {
		t.Fatal("a classical-only client completed the inner TLS handshake")
	}
	if err := <-errs; err == nil {
		t.Fatal("the server accepted a classical-only client")
	}
}

// sendCounter counts the messages sent through a MessageConn.
type sendCounter struct {
	MessageConn
	sent atomic.Int64
}

func (c *sendCounter) Send(m []byte) error {
	c.sent.Add(1)
	return c.MessageConn.Send(m)
}

// A certificate made ahead of time is the one the peer sees, and its key is
// wiped once the handshake is over; records are full-size from the first
// one, so a handshake message of several KiB is one data-channel message.
func TestInnerTLSPreparedCertAndFullRecords(t *testing.T) {
	pa, pb := newMsgPipe()
	a := &sendCounter{MessageConn: pa}
	cert, err := newEphemeralCert()
	if err != nil {
		t.Fatal(err)
	}
	key := cert.PrivateKey.(ed25519.PrivateKey)
	ca, cb := tlsPairOver(t, a, pb, &cert)
	if cert.PrivateKey != nil || !bytes.Equal(key, make([]byte, len(key))) {
		t.Fatal("the prepared certificate's key was not wiped after the handshake")
	}
	peer := ca.tc.ConnectionState().PeerCertificates
	if len(peer) != 1 || !bytes.Equal(peer[0].Raw, cert.Certificate[0]) {
		t.Fatal("the client did not see the prepared certificate")
	}
	if got := cb.tc.ConnectionState().PeerCertificates; len(got) != 0 {
		t.Fatalf("the client presented %d certificates, want none", len(got))
	}
	for _, size := range []int{5200, 12000} { // a Response, a bit below a full record
		before := a.sent.Load()
		if err := ca.Send(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if n := a.sent.Load() - before; n != 1 {
			t.Fatalf("a %d-byte message took %d data-channel messages, want 1", size, n)
		}
		if got, err := cb.Recv(context.Background()); err != nil || len(got) != size {
			t.Fatalf("received %d bytes, %v", len(got), err)
		}
	}
}

// The warm-up completes a whole inner TLS handshake in memory (both sides
// agree on TLS 1.3 with X25519MLKEM768, as wrapTLS checks) and ends both
// sides.
func TestWarmUpTLS(t *testing.T) {
	if err := warmUpTLS(); err != nil {
		t.Fatal(err)
	}
}
