package rtc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
)

const closeFlush = 2 * time.Second

// Path is the candidate pair ICE selected.
type Path struct {
	Local, Remote Candidate
}

// Relayed reports whether the path goes through a TURN relay.
func (p Path) Relayed() bool {
	return p.Local.Type == CandidateRelay || p.Remote.Type == CandidateRelay
}

func (p Path) String() string {
	kind := "direct"
	if p.Relayed() {
		kind = "relay"
	}
	return fmt.Sprintf("%s (%v <-> %v)", kind, p.Local, p.Remote)
}

// Conn is an open, ordered and reliable message channel to the peer (a WebRTC
// data channel: SCTP over DTLS over ICE). Messages keep their boundaries and
// are at most MaxMessageSize bytes. Send may be called from any goroutine;
// Recv from one at a time.
type Conn struct {
	p        *peer
	rw       datachannel.ReadWriteCloserDeadliner
	remoteFP [FingerprintSize]byte
	path     Path
	cipher   string

	sendMu sync.Mutex
	low    chan struct{}
	rbuf   []byte

	mu        sync.Mutex
	state     State
	err       error
	done      chan struct{}
	closeOnce sync.Once
	lost      *time.Timer
}

func newConn(p *peer, rw datachannel.ReadWriteCloserDeadliner) (*Conn, error) {
	c := &Conn{
		p:     p,
		rw:    rw,
		low:   make(chan struct{}, 1),
		rbuf:  make([]byte, MaxMessageSize),
		state: StateConnected,
		done:  make(chan struct{}),
	}
	dt := p.pc.SCTP().Transport()
	c.remoteFP = sha256.Sum256(dt.GetRemoteCertificate())
	if c.remoteFP != p.remote.Fingerprint {
		// pion checks this too; a mismatch here means the check was bypassed.
		return nil, fmt.Errorf("rtc: %w: the peer's certificate does not match its blob", ErrDTLS)
	}
	if pair, err := dt.ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
		c.path = Path{Local: fromICE(pair.Local), Remote: fromICE(pair.Remote)}
	}
	for _, st := range p.pc.GetStats() {
		if ts, ok := st.(webrtc.TransportStats); ok && ts.DTLSCipher != "" {
			c.cipher = ts.DTLSCipher
		}
	}
	p.dc.OnBufferedAmountLow(func() {
		select {
		case c.low <- struct{}{}:
		default:
		}
	})
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	p.emit(StateConnected)
	return c, nil
}

func fromICE(ic *webrtc.ICECandidate) Candidate {
	var c Candidate
	if ic == nil {
		return c
	}
	a, _ := netip.ParseAddr(ic.Address)
	c.Addr = netip.AddrPortFrom(a.Unmap(), ic.Port)
	switch ic.Typ {
	case webrtc.ICECandidateTypeSrflx:
		c.Type = CandidateSrflx
	case webrtc.ICECandidateTypePrflx:
		c.Type = CandidatePrflx
	case webrtc.ICECandidateTypeRelay:
		c.Type = CandidateRelay
	}
	if ic.Protocol == webrtc.ICEProtocolTCP {
		c.TCP = true
		c.TCPType = map[string]TCPType{"active": TCPTypeActive, "passive": TCPTypePassive, "so": TCPTypeSO}[ic.TCPType]
	}
	return c
}

// Send sends one message. It blocks while more than about 1 MiB waits to be
// sent, so a fast sender cannot fill memory.
func (c *Conn) Send(msg []byte) error {
	if len(msg) > MaxMessageSize {
		return fmt.Errorf("rtc: %w: %d bytes, at most %d", ErrMessageTooLarge, len(msg), MaxMessageSize)
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for c.p.dc.BufferedAmount() > bufferedHigh {
		select {
		case <-c.low:
		case <-c.done:
			return c.closedErr()
		}
	}
	if _, err := c.rw.Write(msg); err != nil {
		if e := c.closedErr(); e != nil {
			return e
		}
		return fmt.Errorf("rtc: send: %w", err)
	}
	return nil
}

// Recv returns the next message. After the peer closes the channel it
// returns io.EOF; after a failure, the reason (see Err).
func (c *Conn) Recv() ([]byte, error) {
	return c.RecvContext(context.Background())
}

// RecvContext is Recv that also returns ctx's error once ctx is done. A
// receive cut short this way loses nothing (a message is taken whole or
// not at all) and leaves the connection open.
func (c *Conn) RecvContext(ctx context.Context) ([]byte, error) {
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(fired)
			c.rw.SetReadDeadline(time.Unix(1, 0))
		})
		defer func() {
			if !stop() {
				// The deadline was set (or is being set): clear it for
				// the next receive once the setter is done.
				<-fired
				c.rw.SetReadDeadline(time.Time{})
			}
		}()
	}
	n, err := c.rw.Read(c.rbuf)
	if err != nil && ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, io.ErrShortBuffer) {
			c.fail(fmt.Errorf("rtc: %w: the peer sent more than %d bytes in one message", ErrMessageTooLarge, MaxMessageSize))
			return nil, c.closedErr()
		}
		if e := c.closedErr(); e != nil {
			return nil, e
		}
		c.finish(StateClosed, nil, false)
		return nil, io.EOF
	}
	return append([]byte(nil), c.rbuf[:n]...), nil
}

// Close closes the channel and the peer connection. It first waits (up to
// closeFlush) until the peer has acknowledged every message sent, so that
// the last messages are not lost.
func (c *Conn) Close() error {
	deadline := time.Now().Add(closeFlush)
	for c.p.dc.BufferedAmount() > 0 && time.Now().Before(deadline) {
		select {
		case <-c.done:
			deadline = time.Now()
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.finish(StateClosed, nil, false)
	return nil
}

// Done is closed when the connection has ended (closed or failed).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection failed, nil while it is open or after a
// normal close.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// State returns the current state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Path returns the candidate pair in use (direct or relayed).
func (c *Conn) Path() Path { return c.path }

// DTLSCipherSuite names the cipher suite DTLS negotiated (pion speaks DTLS 1.2).
func (c *Conn) DTLSCipherSuite() string { return c.cipher }

// LocalFingerprint is the SHA-256 fingerprint of our DTLS certificate.
func (c *Conn) LocalFingerprint() [FingerprintSize]byte { return c.p.localFP }

// RemoteFingerprint is the SHA-256 fingerprint of the certificate the peer
// used in the DTLS handshake (equal to the one in its blob).
func (c *Conn) RemoteFingerprint() [FingerprintSize]byte { return c.remoteFP }

// LocalBlob and RemoteBlob return the exact binary blobs (the checked bytes
// behind the text, docs/PROTOCOL.md §1.2) this side sent and received; the
// handshake binds to them.
func (c *Conn) LocalBlob() []byte  { return append([]byte(nil), c.p.localRaw...) }
func (c *Conn) RemoteBlob() []byte { return append([]byte(nil), c.p.remoteRaw...) }

// RemoteApp returns the application field of the peer's blob.
func (c *Conn) RemoteApp() []byte { return append([]byte(nil), c.p.remote.App...) }

// IsOfferer reports whether this side wrote the offer.
func (c *Conn) IsOfferer() bool { return c.p.local.Kind == KindOffer }

func (c *Conn) closedErr() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

func (c *Conn) fail(err error) { c.finish(StateFailed, err, true) }

// finish ends the connection once. async closes the peer connection in the
// background, for callers inside pion's callbacks.
func (c *Conn) finish(s State, err error, async bool) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.state, c.err = s, err
		if c.lost != nil {
			c.lost.Stop()
		}
		c.mu.Unlock()
		close(c.done)
		_ = c.rw.Close()
		if async {
			go c.p.close()
		} else {
			_ = c.p.close()
		}
		c.p.emit(s)
	})
}

// iceState follows ICE after the channel opened: a peer that stops
// answering is reported as disconnected, and as failed after FailedTimeout.
func (c *Conn) iceState(s webrtc.ICEConnectionState) {
	c.mu.Lock()
	if c.state == StateClosed || c.state == StateFailed {
		c.mu.Unlock()
		return
	}
	var emit State = -1
	switch s {
	case webrtc.ICEConnectionStateDisconnected:
		if c.state != StateDisconnected {
			c.state, emit = StateDisconnected, StateDisconnected
			t := c.p.cfg.FailedTimeout
			c.lost = time.AfterFunc(t, func() {
				c.fail(fmt.Errorf("rtc: %w: no answer from the peer for %v", ErrPeerLost, t))
			})
		}
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		if c.state == StateDisconnected {
			c.state, emit = StateConnected, StateConnected
			c.lost.Stop()
		}
	case webrtc.ICEConnectionStateFailed:
		c.mu.Unlock()
		c.fail(fmt.Errorf("rtc: %w: ICE failed", ErrPeerLost))
		return
	case webrtc.ICEConnectionStateClosed:
		c.mu.Unlock()
		c.finish(StateClosed, nil, true)
		return
	}
	c.mu.Unlock()
	if emit >= 0 {
		c.p.emit(emit)
	}
}
