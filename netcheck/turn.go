package netcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

// TURNResult is the outcome of a TURN allocation probe.
type TURNResult struct {
	Server  string         // the URL, password removed
	Addr    netip.AddrPort // the server address the requests went to
	Relayed netip.AddrPort // the relay address the server allocated
	RTT     time.Duration  // from the first request to the allocation
	// DataChecked is true when a test datagram was relayed both ways between
	// the allocation and a second local socket (UDP transport only); DataErr
	// says why that check failed.
	DataChecked bool
	DataErr     error
	// AuthRejected is true when the server refused the credentials
	// (401 Unauthorized after the long-term credential exchange, RFC 8489 §9.2).
	AuthRejected bool
	Err          error // nil when the allocation was granted
}

// TURN asks the server named by rawURL for a UDP relay allocation with the
// long-term credentials username/password (taken from the URL when empty),
// then releases it. For UDP it also relays one datagram in each direction
// between the allocation and a second local socket. It never takes longer
// than the prober's timeout.
func (p *Prober) TURN(ctx context.Context, rawURL, username, password string) TURNResult {
	res := TURNResult{Server: redact(rawURL)}
	srv, err := ParseURL(rawURL)
	if err != nil {
		res.Err = err
		return res
	}
	res.Server = srv.URL
	if !srv.IsTURN() {
		res.Err = fmt.Errorf("%s is not a turn: or turns: URL", srv.URL)
		return res
	}
	if username == "" && password == "" {
		username, password = srv.Username, srv.Password
	}
	if username == "" {
		res.Err = errors.New("no TURN credentials: give them as turn:USER:PASS@HOST:PORT or with --turn-user/--turn-pass")
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()

	done := make(chan TURNResult, 1)
	var closers closerList
	go func() { done <- p.turnProbe(ctx, srv, username, password, res, &closers) }()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		// Unblock whatever pion is waiting for; the goroutine then ends.
		closers.closeAll()
		select {
		case r := <-done:
			if r.Err == nil && r.DataErr == nil {
				return r
			}
		case <-time.After(100 * time.Millisecond):
		}
		res.Err = fmt.Errorf("%w from %s within %v", ErrTimeout, srv.Address(), p.timeout())
		return res
	}
}

type closerList struct {
	mu     sync.Mutex
	closed bool
	list   []io.Closer
}

func (c *closerList) add(x io.Closer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		x.Close()
		return false
	}
	c.list = append(c.list, x)
	return true
}

func (c *closerList) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for i := len(c.list) - 1; i >= 0; i-- {
		c.list[i].Close()
	}
	c.list = nil
}

type closeFunc func()

func (f closeFunc) Close() error { f(); return nil }

func (p *Prober) turnProbe(ctx context.Context, srv Server, username, password string, res TURNResult, closers *closerList) TURNResult {
	defer closers.closeAll()
	addr, err := p.resolve(ctx, srv.Host, srv.Port, false)
	if err != nil {
		res.Err = err
		return res
	}
	res.Addr = addr
	local := p.LocalAddr
	if local == "" {
		local = "0.0.0.0:0"
	}

	var conn net.PacketConn
	switch {
	case srv.Scheme == "turn" && srv.Transport == "udp":
		lc := net.ListenConfig{}
		pc, err := lc.ListenPacket(ctx, "udp4", local)
		if err != nil {
			res.Err = fmt.Errorf("open a UDP socket on %s: %w", local, err)
			return res
		}
		conn = pc
	default: // turn over TCP, turns over TLS
		d := net.Dialer{}
		if la, err := net.ResolveTCPAddr("tcp4", local); err == nil && !la.IP.IsUnspecified() {
			d.LocalAddr = la
		}
		var c net.Conn
		if srv.Scheme == "turns" {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12}
			if p.TLSConfig != nil {
				cfg = p.TLSConfig.Clone()
			}
			if cfg.ServerName == "" {
				cfg.ServerName = srv.Host
			}
			td := tls.Dialer{NetDialer: &d, Config: cfg}
			c, err = td.DialContext(ctx, "tcp", addr.String())
		} else {
			c, err = d.DialContext(ctx, "tcp", addr.String())
		}
		if err != nil {
			res.Err = fmt.Errorf("connect to %s: %w", addr, err)
			return res
		}
		conn = turn.NewSTUNConn(c)
	}
	if !closers.add(conn) {
		res.Err = ErrTimeout
		return res
	}

	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr.String(),
		TURNServerAddr: addr.String(),
		Username:       username,
		Password:       password,
		Software:       "rtcchat doctor",
		Conn:           conn,
		LoggerFactory:  quietLogger(),
	})
	if err != nil {
		res.Err = fmt.Errorf("TURN client: %w", err)
		return res
	}
	if !closers.add(closeFunc(client.Close)) {
		res.Err = ErrTimeout
		return res
	}
	if err := client.Listen(); err != nil {
		res.Err = fmt.Errorf("TURN client: %w", err)
		return res
	}
	start := time.Now()
	relayConn, err := client.AllocateWithContext(ctx)
	if err != nil {
		res.Err, res.AuthRejected = classifyTURNError(err, ctx)
		return res
	}
	res.RTT = time.Since(start)
	if !closers.add(relayConn) {
		res.Err = ErrTimeout
		return res
	}
	if ua, ok := relayConn.LocalAddr().(*net.UDPAddr); ok {
		res.Relayed = ua.AddrPort()
	}
	if srv.Transport == "udp" && srv.Scheme == "turn" {
		res.DataErr = p.relayRoundTrip(ctx, client, relayConn, addr, local, closers)
		res.DataChecked = res.DataErr == nil
	}
	return res
}

// relayRoundTrip checks that the allocation carries data: a second local
// socket learns its public endpoint from the TURN server (Binding), the
// allocation gets a permission for it (RFC 8656 §9), the socket sends a
// datagram to the relay address and the allocation answers it back. The
// socket sends first so that its own NAT lets the answer in whatever its
// filtering behaviour.
func (p *Prober) relayRoundTrip(ctx context.Context, client *turn.Client, relayConn net.PacketConn, server netip.AddrPort, local string, closers *closerList) error {
	lc := net.ListenConfig{}
	pc, err := lc.ListenPacket(ctx, "udp4", local)
	if err != nil {
		return fmt.Errorf("open a second UDP socket: %w", err)
	}
	if !closers.add(pc) {
		return ErrTimeout
	}
	sock := newSocket(pc)
	sock.data = make(chan []byte, 4)
	go sock.readLoop()
	peer, _, err := sock.binding(ctx, server)
	if err != nil {
		return fmt.Errorf("learn the test socket's public endpoint from the TURN server: %w", err)
	}
	if err := client.CreatePermission(net.UDPAddrFromAddrPort(peer)); err != nil {
		return fmt.Errorf("CreatePermission for %s: %w", peer, err)
	}
	ping := make([]byte, 16)
	if _, err := rand.Read(ping); err != nil {
		return err
	}
	relayed := relayConn.LocalAddr()

	// Allocation side: echo the first datagram that carries ping.
	echoed := make(chan error, 1)
	go func() {
		buf := make([]byte, maxPacket)
		for {
			n, from, err := relayConn.ReadFrom(buf)
			if err != nil {
				echoed <- err
				return
			}
			if bytes.Equal(buf[:n], ping) {
				_, err = relayConn.WriteTo(append([]byte("echo:"), ping...), from)
				echoed <- err
				return
			}
		}
	}()
	want := append([]byte("echo:"), ping...)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	send := func() error { _, err := pc.WriteTo(ping, relayed); return err }
	if err := send(); err != nil {
		return fmt.Errorf("send to the relay address %s: %w", relayed, err)
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no datagram came back through the relay address %s", relayed)
		case err := <-echoed:
			if err != nil {
				return fmt.Errorf("relay: %w", err)
			}
			echoed = nil
		case d := <-sock.data:
			if bytes.Equal(d, want) {
				return nil
			}
		case <-tick.C:
			_ = send()
		}
	}
}

func classifyTURNError(err error, ctx context.Context) (error, bool) {
	var te *stun.TurnError
	if errors.As(err, &te) {
		switch te.ErrorCodeAttr.Code {
		case stun.CodeUnauthorized:
			return fmt.Errorf("credentials rejected (%d %s)", te.ErrorCodeAttr.Code, te.ErrorCodeAttr.Reason), true
		case stun.CodeAllocQuotaReached:
			return fmt.Errorf("allocation quota reached (%d %s)", te.ErrorCodeAttr.Code, te.ErrorCodeAttr.Reason), false
		}
		return fmt.Errorf("allocation refused (%d %s)", te.ErrorCodeAttr.Code, te.ErrorCodeAttr.Reason), false
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %v", ErrTimeout, err), false
	}
	return fmt.Errorf("allocation failed: %w", err), false
}

func quietLogger() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	f.Writer = io.Discard
	return f
}
