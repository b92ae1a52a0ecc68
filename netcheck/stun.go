// Package netcheck probes the parts of the network that rtcchat depends on:
// whether STUN servers answer and which public endpoint they see (RFC 8489
// Binding), how the NAT maps one local socket towards two different servers
// (the mapping test of RFC 5780 §4.3, done with two ordinary STUN servers),
// and whether a TURN server grants a relay allocation (RFC 8656 §7).
//
// Every probe has a deadline and all probes run in parallel, so a server that
// never answers costs at most its timeout and nothing hangs.
package netcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pion/stun/v4"
)

// DefaultTimeout is the time one server gets to answer.
const DefaultTimeout = 3 * time.Second

// initialRTO is the first retransmission timeout of a Binding request. RFC 8489
// §6.2.1 recommends 500 ms; requests are resent at 0, 0.5, 1.5, 3.5 s, ...
// (doubling) until the probe's deadline.
const initialRTO = 500 * time.Millisecond

// maxPacket bounds the datagrams read from the probe socket.
const maxPacket = 1500

// Prober runs the probes. The zero value is usable.
type Prober struct {
	// Timeout per server (name resolution included). Zero means DefaultTimeout.
	Timeout time.Duration
	// LocalAddr is the address of the one UDP socket every STUN probe uses
	// ("0.0.0.0:0" by default). Tests use "127.0.0.1:0".
	LocalAddr string
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// IPv6 makes STUN probe over IPv6 (AAAA records, a udp6 socket on
	// "[::]:0" unless LocalAddr says otherwise) instead of IPv4.
	IPv6 bool
	// TLSConfig, if set, is used for turns: servers (for a private CA);
	// ServerName defaults to the URL's host.
	TLSConfig *tls.Config
}

func (p *Prober) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

// STUNResult is what one STUN server answered.
type STUNResult struct {
	Server string         // the URL as configured
	Addr   netip.AddrPort // the server address the request went to
	Mapped netip.AddrPort // XOR-MAPPED-ADDRESS: our endpoint as the server saw it
	RTT    time.Duration  // from the first request to the answer
	Err    error          // nil when the server answered with a mapped address
}

// STUNReport is the result of STUN probing from one local socket.
type STUNReport struct {
	Local   netip.AddrPort // the probe socket's local address
	Results []STUNResult   // one per configured server, in order
	Mapping MappingResult  // the NAT's mapping behaviour, from the results
}

// ErrTimeout is returned for a server that did not answer before its deadline.
var ErrTimeout = errors.New("no answer")

// STUN sends a Binding request to every server from one local UDP socket, in
// parallel, and classifies the NAT's mapping behaviour from the answers.
// A server that cannot be parsed, resolved or reached gets an error in its
// result; STUN itself fails only when the local socket cannot be opened.
func (p *Prober) STUN(ctx context.Context, servers []string) (*STUNReport, error) {
	local, network := p.LocalAddr, "udp4"
	if p.IPv6 {
		network = "udp6"
	}
	if local == "" {
		local = "0.0.0.0:0"
		if p.IPv6 {
			local = "[::]:0"
		}
	}
	lc := net.ListenConfig{}
	pc, err := lc.ListenPacket(ctx, network, local)
	if err != nil {
		return nil, fmt.Errorf("open a %s socket for the STUN probes on %s: %w", network, local, err)
	}
	defer pc.Close()
	sock := newSocket(pc)
	go sock.readLoop()

	rep := &STUNReport{Results: make([]STUNResult, len(servers))}
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
		rep.Local = ua.AddrPort()
	}
	var wg sync.WaitGroup
	for i, raw := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Results[i] = p.probeOne(ctx, sock, raw)
		}()
	}
	wg.Wait()
	rep.Mapping = ClassifyMapping(rep.Local, localIPs(rep.Local), rep.Results)
	return rep, nil
}

func (p *Prober) probeOne(ctx context.Context, sock *socket, raw string) STUNResult {
	res := STUNResult{Server: raw}
	srv, err := ParseURL(raw)
	if err != nil {
		res.Err = err
		return res
	}
	res.Server = srv.URL
	if srv.Transport != "udp" || srv.Scheme == "stuns" || srv.Scheme == "turns" {
		res.Err = fmt.Errorf("only UDP STUN is probed (got %s over %s)", srv.Scheme, srv.Transport)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	addr, err := p.resolve(ctx, srv.Host, srv.Port, p.IPv6)
	if err != nil {
		res.Err = err
		return res
	}
	res.Addr = addr
	res.Mapped, res.RTT, res.Err = sock.binding(ctx, addr)
	return res
}

// resolve returns an address of host in the probe's family: IPv4, or IPv6
// when v6 is set.
func (p *Prober) resolve(ctx context.Context, host string, port int, v6 bool) (netip.AddrPort, error) {
	family, network := "IPv4", "ip4"
	if v6 {
		family, network = "IPv6", "ip6"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.Is4() == v6 {
			return netip.AddrPort{}, fmt.Errorf("%s is not an %s address (this probe uses %s)", host, family, family)
		}
		return netip.AddrPortFrom(ip, uint16(port)), nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, network, host)
	if err != nil {
		if ctx.Err() != nil {
			return netip.AddrPort{}, fmt.Errorf("resolve %s: %w after %v", host, ErrTimeout, p.timeout())
		}
		return netip.AddrPort{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if ip = ip.Unmap(); ip.Is4() != v6 {
			return netip.AddrPortFrom(ip, uint16(port)), nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("resolve %s: no %s address", host, family)
}

// socket multiplexes Binding transactions to several servers over one UDP
// socket, matching answers by transaction ID and source address.
type socket struct {
	pc      net.PacketConn
	data    chan []byte // if non-nil, receives datagrams that are not Binding responses
	mu      sync.Mutex
	pending map[[stun.TransactionIDSize]byte]*transaction
}

type transaction struct {
	to   netip.AddrPort
	done chan answer // buffered, size 1
}

type answer struct {
	mapped netip.AddrPort
	err    error
}

func newSocket(pc net.PacketConn) *socket {
	return &socket{pc: pc, pending: make(map[[stun.TransactionIDSize]byte]*transaction)}
}

func (s *socket) readLoop() {
	buf := make([]byte, maxPacket)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// ICMP port unreachable and similar transient errors: keep reading;
			// the transaction itself times out.
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		s.handle(buf[:n], ua.AddrPort())
	}
}

// handle delivers one datagram to the transaction it answers, if any.
func (s *socket) handle(pkt []byte, from netip.AddrPort) {
	id, ans, ok := parseBindingResponse(pkt)
	if !ok {
		if s.data != nil {
			select {
			case s.data <- append([]byte(nil), pkt...):
			default:
			}
		}
		return
	}
	s.mu.Lock()
	tr := s.pending[id]
	if tr != nil && tr.to == unmapAddrPort(from) {
		delete(s.pending, id)
	} else {
		tr = nil
	}
	s.mu.Unlock()
	if tr != nil {
		tr.done <- ans
	}
}

// parseBindingResponse decodes a Binding success or error response. ok is
// false for anything else (not STUN, another method, a request, damaged).
func parseBindingResponse(pkt []byte) (id [stun.TransactionIDSize]byte, ans answer, ok bool) {
	if len(pkt) > maxPacket || !stun.IsMessage(pkt) {
		return id, ans, false
	}
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if err := m.Decode(); err != nil {
		return id, ans, false
	}
	if m.Type.Method != stun.MethodBinding {
		return id, ans, false
	}
	if m.Contains(stun.AttrFingerprint) {
		if err := stun.Fingerprint.Check(m); err != nil {
			return id, ans, false
		}
	}
	id = m.TransactionID
	switch m.Type.Class {
	case stun.ClassSuccessResponse:
		var xa stun.XORMappedAddress
		if err := xa.GetFrom(m); err == nil {
			ans.mapped = addrPortFromIP(xa.IP, xa.Port)
		} else {
			// RFC 3489 servers send only MAPPED-ADDRESS.
			var ma stun.MappedAddress
			if err2 := ma.GetFrom(m); err2 != nil {
				ans.err = fmt.Errorf("answer without a mapped address: %w", err)
				return id, ans, true
			}
			ans.mapped = addrPortFromIP(ma.IP, ma.Port)
		}
		if !ans.mapped.IsValid() {
			ans.err = errors.New("answer with an invalid mapped address")
		}
		return id, ans, true
	case stun.ClassErrorResponse:
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(m); err == nil {
			ans.err = fmt.Errorf("server refused the Binding request: %d %s", code.Code, code.Reason)
		} else {
			ans.err = errors.New("server refused the Binding request")
		}
		return id, ans, true
	}
	return id, ans, false
}

// binding runs one Binding transaction (RFC 8489 §6.2.1: retransmit with a
// doubling RTO) until an answer arrives or ctx ends.
func (s *socket) binding(ctx context.Context, to netip.AddrPort) (netip.AddrPort, time.Duration, error) {
	msg, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewSoftware("rtcchat doctor"), stun.Fingerprint)
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	tr := &transaction{to: to, done: make(chan answer, 1)}
	s.mu.Lock()
	s.pending[msg.TransactionID] = tr
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, msg.TransactionID)
		s.mu.Unlock()
	}()

	start := time.Now()
	dst := net.UDPAddrFromAddrPort(to)
	rto := initialRTO
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastSendErr error
	for {
		select {
		case a := <-tr.done:
			return a.mapped, time.Since(start), a.err
		case <-ctx.Done():
			if lastSendErr != nil {
				return netip.AddrPort{}, 0, fmt.Errorf("send to %s: %w", to, lastSendErr)
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return netip.AddrPort{}, 0, fmt.Errorf("%w from %s within %v", ErrTimeout, to, time.Since(start).Round(time.Millisecond))
			}
			return netip.AddrPort{}, 0, ctx.Err()
		case <-timer.C:
			if _, err := s.pc.WriteTo(msg.Raw, dst); err != nil {
				lastSendErr = err
			} else {
				lastSendErr = nil
			}
			timer.Reset(rto)
			rto *= 2
		}
	}
}

func addrPortFromIP(ip net.IP, port int) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || port < 0 || port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// localIPs lists the addresses the probe socket may be seen from without a
// NAT: the bound address, or every interface address when bound to 0.0.0.0.
func localIPs(local netip.AddrPort) []netip.Addr {
	if local.Addr().IsValid() && !local.Addr().IsUnspecified() {
		return []netip.Addr{local.Addr().Unmap()}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if pn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(pn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
