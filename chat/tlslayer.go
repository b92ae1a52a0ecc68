package chat

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"
)

// The inner TLS 1.3 layer (docs/PROTOCOL.md §6.1) runs inside the data
// channel at the enhanced and quantum levels. It uses ephemeral certificates
// that nobody verifies: TLS here only hides the handshake (and so the
// identity keys) from a passive adversary who can later break DTLS's
// classical key exchange. Authentication comes from the rtcchat handshake,
// whose transcript covers the TLS exporter value, so a machine in the middle
// (two different TLS sessions) makes the handshake fail.
const (
	// tlsExporterLabel is the RFC 8446 §7.5 exporter label for channel binding.
	tlsExporterLabel = "EXPORTER-rtcchat-inner-tls-v1"
	tlsExporterSize  = 32
	// maxTLSMessage bounds one length-prefixed message inside the TLS stream.
	maxTLSMessage = 1 << 20
)

// TLSInfo describes what the inner TLS layer negotiated.
type TLSInfo struct {
	Version     uint16
	CipherSuite uint16
	Group       tls.CurveID
	Exporter    []byte // channel binding value for the handshake transcript
}

func (i TLSInfo) String() string {
	return fmt.Sprintf("%s, %s, %s", tls.VersionName(i.Version), tls.CipherSuiteName(i.CipherSuite), i.Group)
}

// tlsConn is a MessageConn carried inside TLS 1.3 over another MessageConn.
// Each message is written as a 4-byte big-endian length and the bytes.
type tlsConn struct {
	tc    *tls.Conn
	under MessageConn
	wmu   sync.Mutex
	rmu   sync.Mutex
	wbuf  []byte // a message being written, kept for the next (guarded by wmu)
	rbuf  []byte // received bytes, unread from roff on (guarded by rmu)
	roff  int
	info  TLSInfo
}

// newEphemeralCert makes a fresh self-signed Ed25519 certificate.
func newEphemeralCert() (tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "rtcchat"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}

// wipeCert overwrites the private key of an ephemeral certificate (nil: no-op).
func wipeCert(c *tls.Certificate) {
	if c == nil {
		return
	}
	if k, ok := c.PrivateKey.(ed25519.PrivateKey); ok {
		clear(k)
	}
	c.PrivateKey = nil
}

// innerTLSConfig returns the TLS 1.3-only configuration of both sides.
func innerTLSConfig(cert *tls.Certificate) *tls.Config {
	c := &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		// Only the hybrid post-quantum group: the layer exists to keep the
		// handshake (and the identities in it) confidential against a later
		// quantum break, so a classical fallback would defeat it.
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768},
		// The server's certificate is ephemeral and unauthenticated by
		// design (see above); the client presents none, since nobody would
		// verify it either.
		InsecureSkipVerify:     true,
		ClientAuth:             tls.NoClientCert,
		SessionTicketsDisabled: true,
		ServerName:             "rtcchat",
		// Full-size records from the start: crypto/tls otherwise cuts the
		// first records of a connection to about one TCP segment, and every
		// record is a data-channel message of its own (the handshake's
		// Response would travel as five messages instead of one).
		DynamicRecordSizingDisabled: true,
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// wrapTLS runs a TLS 1.3 handshake over mc (client on the answering side) and
// returns a MessageConn that carries messages inside it. cert, for the
// server only, is a certificate from newEphemeralCert made ahead of time, or
// nil to make one now; wrapTLS owns it and wipes its key once the handshake
// is over. The client presents no certificate.
func wrapTLS(ctx context.Context, mc MessageConn, client bool, cert *tls.Certificate) (*tlsConn, error) {
	preferChaCha20()
	if client {
		wipeCert(cert)
		cert = nil
	} else if cert == nil {
		c, err := newEphemeralCert()
		if err != nil {
			return nil, fmt.Errorf("chat: inner TLS certificate: %w", err)
		}
		cert = &c
	}
	// TLS 1.3 signs with the certificate key only during the handshake.
	defer wipeCert(cert)
	sc := newStreamConn(mc)
	var tc *tls.Conn
	if client {
		tc = tls.Client(sc, innerTLSConfig(nil))
	} else {
		tc = tls.Server(sc, innerTLSConfig(cert))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("chat: inner TLS 1.3 handshake failed: %w", err)
	}
	st := tc.ConnectionState()
	if st.Version != tls.VersionTLS13 || st.CurveID != tls.X25519MLKEM768 {
		tc.Close()
		return nil, fmt.Errorf("chat: inner TLS negotiated %s with %v; only TLS 1.3 with X25519MLKEM768 is accepted", tls.VersionName(st.Version), st.CurveID)
	}
	exp, err := st.ExportKeyingMaterial(tlsExporterLabel, nil, tlsExporterSize)
	if err != nil {
		return nil, fmt.Errorf("chat: inner TLS exporter: %w", err)
	}
	return &tlsConn{tc: tc, under: mc, info: TLSInfo{
		Version: st.Version, CipherSuite: st.CipherSuite, Group: st.CurveID, Exporter: exp,
	}}, nil
}

func (c *tlsConn) Send(msg []byte) error {
	if len(msg) > maxTLSMessage {
		return fmt.Errorf("chat: message of %d bytes exceeds %d", len(msg), maxTLSMessage)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// One write (one record for up to 16 KiB) from a buffer kept between
	// messages; a large one is not kept.
	buf := append(binary.BigEndian.AppendUint32(c.wbuf[:0], uint32(len(msg))), msg...)
	_, err := c.tc.Write(buf)
	clear(buf)
	if cap(buf) <= 64<<10 {
		c.wbuf = buf[:0]
	}
	return err
}

func (c *tlsConn) Recv(ctx context.Context) ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.tc.SetReadDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				c.tc.SetReadDeadline(time.Time{})
			}
		}()
	}
	// Bytes read so far stay in c.rbuf (from c.roff on), so a Recv cut
	// short by its context never loses the framing. One TLS record often
	// holds many messages (the session writes them in batches).
	for {
		if avail := c.rbuf[c.roff:]; len(avail) >= 4 {
			size := binary.BigEndian.Uint32(avail)
			if size > maxTLSMessage {
				return nil, fmt.Errorf("chat: inner TLS message of %d bytes exceeds %d", size, maxTLSMessage)
			}
			if total := 4 + int(size); len(avail) >= total {
				msg := append([]byte(nil), avail[4:total]...)
				c.roff += total
				return msg, nil
			}
		}
		// Keep the unread tail at the front, then read more after it.
		n := copy(c.rbuf, c.rbuf[c.roff:])
		c.rbuf, c.roff = c.rbuf[:n], 0
		if cap(c.rbuf)-n < tlsReadChunk {
			grown := make([]byte, n, max(2*cap(c.rbuf), n+2*tlsReadChunk))
			copy(grown, c.rbuf)
			c.rbuf = grown
		}
		m, err := c.tc.Read(c.rbuf[n : n+tlsReadChunk])
		c.rbuf = c.rbuf[:n+m]
		if err != nil {
			return nil, c.readErr(ctx, err)
		}
	}
}

// tlsReadChunk is how much one Recv asks crypto/tls for at a time (a whole
// record's plaintext).
const tlsReadChunk = 16 << 10

func (c *tlsConn) readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return ErrClosed
	}
	return err
}

func (c *tlsConn) Close() error {
	c.tc.Close()
	return c.under.Close()
}

// streamConn presents a MessageConn as a net.Conn byte stream for crypto/tls.
// Deadlines only bound reads, which is all crypto/tls needs here.
type streamConn struct {
	mc     MessageConn
	buf    []byte
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

func newStreamConn(mc MessageConn) *streamConn {
	s := &streamConn{mc: mc}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

func (s *streamConn) Read(p []byte) (int, error) {
	if len(s.buf) == 0 {
		s.mu.Lock()
		ctx := s.ctx
		s.mu.Unlock()
		msg, err := s.mc.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return 0, timeoutError{}
			}
			return 0, err
		}
		s.buf = msg
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// maxRecordChunk keeps each message below the data channel's size limit.
const maxRecordChunk = 16 << 10

func (s *streamConn) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += maxRecordChunk {
		end := min(off+maxRecordChunk, len(p))
		// MessageConn.Send does not keep the slice, so crypto/tls's record
		// buffer goes down without a copy.
		if err := s.mc.Send(p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

func (s *streamConn) Close() error {
	s.cancel()
	return s.mc.Close()
}

func (s *streamConn) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.ctx.Err() != nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	if !t.IsZero() {
		cancel := s.cancel
		s.timer = time.AfterFunc(time.Until(t), cancel)
	}
	return nil
}

func (s *streamConn) SetDeadline(t time.Time) error    { return s.SetReadDeadline(t) }
func (s *streamConn) SetWriteDeadline(time.Time) error { return nil }
func (s *streamConn) LocalAddr() net.Addr              { return msgAddr{} }
func (s *streamConn) RemoteAddr() net.Addr             { return msgAddr{} }

type msgAddr struct{}

func (msgAddr) Network() string { return "rtcchat" }
func (msgAddr) String() string  { return "data-channel" }

type timeoutError struct{}

func (timeoutError) Error() string   { return "chat: read deadline exceeded" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// warmUpTLS runs one inner TLS handshake in memory, both sides in this
// process, with a throwaway certificate, and discards it. The first TLS 1.3
// handshake of a process runs code (X25519MLKEM768, the key schedule,
// certificate parsing) for the first time and is about 0.3 ms slower on each
// side; the chat layer does this while the people exchange blobs
// (PROTOCOL.md §2.8) so that the connection's own handshake is not the first.
// Nothing of it is kept or sent anywhere.
func warmUpTLS() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, b := newMsgPipe()
	var clientErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		var c *tlsConn
		if c, clientErr = wrapTLS(ctx, a, true, nil); clientErr == nil {
			c.tc.Close()
		}
	}()
	c, err := wrapTLS(ctx, b, false, nil)
	if err == nil {
		c.tc.Close()
	}
	b.Close() // ends the client too if the server gave up
	<-done
	return errors.Join(err, clientErr)
}
