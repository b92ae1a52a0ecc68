package netcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

const testRealm = "rtcchat"

// startTURN starts a real pion/turn server on ip:0 (UDP, and TCP on the same
// port number when tcp is set) that accepts user/pass with the long-term
// credential mechanism. It answers STUN Binding requests too.
func startTURN(t testing.TB, ip, user, pass string, tcp bool) netip.AddrPort {
	t.Helper()
	var (
		pc  net.PacketConn
		l   net.Listener
		err error
	)
	// With tcp, the TCP listener takes the UDP socket's port number; retry
	// when that port happens to be taken for TCP.
	for range 20 {
		if pc, err = net.ListenPacket("udp4", ip+":0"); err != nil {
			t.Fatalf("listen: %v", err)
		}
		if !tcp {
			break
		}
		if l, err = net.Listen("tcp4", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if tcp && l == nil {
		t.Fatalf("no port free for both UDP and TCP: %v", err)
	}
	cfg := turn.ServerConfig{
		Realm: testRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			if ra.Username != user {
				return "", nil, false
			}
			return ra.Username, turn.GenerateAuthKey(user, testRealm, pass), true
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.ParseIP(ip), Address: ip},
		}},
		LoggerFactory: quietLogger(),
	}
	if l != nil {
		cfg.ListenerConfigs = []turn.ListenerConfig{{
			Listener:              l,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.ParseIP(ip), Address: ip},
		}}
	}
	srv, err := turn.NewServer(cfg)
	if err != nil {
		t.Fatalf("turn server: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// startBlackHole starts a UDP socket that reads and drops everything: a STUN
// or TURN server that never answers.
func startBlackHole(t testing.TB) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// startFakeSTUN starts a STUN responder that reports the client's port plus
// offset as its mapped port: the view a symmetric NAT gives two servers.
func startFakeSTUN(t testing.TB, offset int) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			ua := from.(*net.UDPAddr)
			resp, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port + offset}, stun.Fingerprint)
			if err != nil {
				continue
			}
			_, _ = pc.WriteTo(resp.Raw, from)
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// secondLoopback returns 127.0.0.2 where it can be bound (Linux routes all of
// 127/8 to lo), so that two servers differ by IP as RFC 5780 wants.
func secondLoopback() string {
	pc, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		return "127.0.0.1"
	}
	pc.Close()
	return "127.0.0.2"
}

func stunURL(a netip.AddrPort) string { return "stun:" + a.String() }

func TestSTUNTwoServersLoopbackEndpointIndependent(t *testing.T) {
	ip2 := secondLoopback()
	a := startTURN(t, "127.0.0.1", "u", "p", false)
	b := startTURN(t, ip2, "u", "p", false)
	p := &Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	rep, err := p.STUN(context.Background(), []string{stunURL(a), stunURL(b)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Server, r.Err)
		}
		if r.Mapped != rep.Local {
			t.Errorf("%s saw %s, local socket is %s", r.Server, r.Mapped, rep.Local)
		}
		if r.RTT <= 0 || r.RTT > 2*time.Second {
			t.Errorf("%s: rtt %v", r.Server, r.RTT)
		}
	}
	m := rep.Mapping
	if m.Kind != MappingEndpointIndependent || !m.NoNAT || m.Servers != 2 {
		t.Fatalf("mapping %+v, want endpoint-independent without NAT from 2 servers", m)
	}
	if m.SameServerIP != (ip2 == "127.0.0.1") {
		t.Errorf("SameServerIP = %v with servers %s and %s", m.SameServerIP, a, b)
	}
}

func TestSTUNUnansweredServerTimesOut(t *testing.T) {
	good := startTURN(t, "127.0.0.1", "u", "p", false)
	hole := startBlackHole(t)
	const timeout = 800 * time.Millisecond
	p := &Prober{LocalAddr: "127.0.0.1:0", Timeout: timeout}
	start := time.Now()
	rep, err := p.STUN(context.Background(), []string{stunURL(good), stunURL(hole), "stun:not a host"})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > timeout+2*time.Second {
		t.Fatalf("probing took %v with a %v timeout", el, timeout)
	}
	if rep.Results[0].Err != nil {
		t.Fatalf("good server: %v", rep.Results[0].Err)
	}
	if err := rep.Results[1].Err; !errors.Is(err, ErrTimeout) {
		t.Fatalf("black hole: err = %v, want ErrTimeout", err)
	}
	if rep.Results[2].Err == nil {
		t.Fatal("malformed URL accepted")
	}
	if rep.Mapping.Kind != MappingUnknown || rep.Mapping.Servers != 1 {
		t.Fatalf("mapping %+v, want unknown from one server", rep.Mapping)
	}
}

func TestSTUNContextCancelStopsProbes(t *testing.T) {
	hole := startBlackHole(t)
	p := &Prober{LocalAddr: "127.0.0.1:0", Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := p.STUN(ctx, []string{stunURL(hole)})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("cancelled probe took %v", el)
	}
	if rep.Results[0].Err == nil {
		t.Fatal("no error from a server that never answered")
	}
}

// This is a unit test of the classification with fake STUN responders (on
// loopback there is no NAT to be symmetric): each reports a different mapped
// port for the same local socket, as a symmetric NAT would make them see.
func TestSTUNFakeSymmetricNATIsEndpointDependent(t *testing.T) {
	a := startFakeSTUN(t, 1000)
	b := startFakeSTUN(t, 2000)
	p := &Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	rep, err := p.STUN(context.Background(), []string{stunURL(a), stunURL(b)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Server, r.Err)
		}
	}
	m := rep.Mapping
	if m.Kind != MappingEndpointDependent || m.NoNAT || len(m.Mapped) != 2 {
		t.Fatalf("mapping %+v, want endpoint-dependent with two endpoints", m)
	}
}

func TestClassifyMapping(t *testing.T) {
	ap := netip.MustParseAddrPort
	local := ap("192.168.1.5:40000")
	localIPs := []netip.Addr{netip.MustParseAddr("192.168.1.5")}
	ok := func(server, mapped string) STUNResult {
		return STUNResult{Server: "stun:" + server, Addr: ap(server), Mapped: ap(mapped)}
	}
	failed := STUNResult{Server: "stun:9.9.9.9:3478", Addr: ap("9.9.9.9:3478"), Err: ErrTimeout}
	tests := []struct {
		name    string
		local   netip.AddrPort
		results []STUNResult
		kind    Mapping
		noNAT   bool
		sameIP  bool
	}{
		{"none answered", local, []STUNResult{failed}, MappingUnknown, false, false},
		{"one answered", local, []STUNResult{ok("1.1.1.1:3478", "5.5.5.5:1000"), failed}, MappingUnknown, false, false},
		{"same server twice counts once", local, []STUNResult{ok("1.1.1.1:3478", "5.5.5.5:1000"), ok("1.1.1.1:3478", "5.5.5.5:1000")}, MappingUnknown, false, false},
		{"independent", local, []STUNResult{ok("1.1.1.1:3478", "5.5.5.5:1000"), ok("2.2.2.2:3478", "5.5.5.5:1000"), failed}, MappingEndpointIndependent, false, false},
		{"independent, same server IP", local, []STUNResult{ok("1.1.1.1:3478", "5.5.5.5:1000"), ok("1.1.1.1:3479", "5.5.5.5:1000")}, MappingEndpointIndependent, false, true},
		{"no NAT", local, []STUNResult{ok("1.1.1.1:3478", "192.168.1.5:40000"), ok("2.2.2.2:3478", "192.168.1.5:40000")}, MappingEndpointIndependent, true, false},
		{"port changes", local, []STUNResult{ok("1.1.1.1:3478", "5.5.5.5:1000"), ok("2.2.2.2:3478", "5.5.5.5:1001")}, MappingEndpointDependent, false, false},
		{"address changes", local, []STUNResult{ok("1.1.1.1:3478", "5.5.5.5:1000"), ok("2.2.2.2:3478", "5.5.5.6:1000")}, MappingEndpointDependent, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ClassifyMapping(tc.local, localIPs, tc.results)
			if m.Kind != tc.kind || m.NoNAT != tc.noNAT || m.SameServerIP != tc.sameIP {
				t.Fatalf("got %+v, want kind %s noNAT %v sameIP %v", m, tc.kind, tc.noNAT, tc.sameIP)
			}
			if m.Detail == "" {
				t.Fatal("no detail")
			}
		})
	}
}

func TestTURNAllocation(t *testing.T) {
	srv := startTURN(t, "127.0.0.1", "alice", "correct horse", true)
	hole := startBlackHole(t)
	p := &Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	ctx := context.Background()

	t.Run("right credentials", func(t *testing.T) {
		r := p.TURN(ctx, "turn:"+srv.String(), "alice", "correct horse")
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if !r.Relayed.IsValid() || r.Relayed.Addr() != srv.Addr() || r.Relayed.Port() == srv.Port() {
			t.Fatalf("relayed address %s from server %s", r.Relayed, srv)
		}
		if !r.DataChecked {
			t.Fatalf("data through the relay: %v", r.DataErr)
		}
	})
	t.Run("credentials in the URL", func(t *testing.T) {
		r := p.TURN(ctx, "turn:alice:correct%20horse@"+srv.String()+"?transport=udp", "", "")
		if r.Err != nil || !r.DataChecked {
			t.Fatalf("err %v, data %v", r.Err, r.DataErr)
		}
		if strings.Contains(r.Server, "horse") {
			t.Fatalf("password in the reported URL %q", r.Server)
		}
	})
	t.Run("over TCP", func(t *testing.T) {
		r := p.TURN(ctx, "turn:"+srv.String()+"?transport=tcp", "alice", "correct horse")
		if r.Err != nil || !r.Relayed.IsValid() {
			t.Fatalf("err %v, relayed %s", r.Err, r.Relayed)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		r := p.TURN(ctx, "turn:"+srv.String(), "alice", "wrong")
		if r.Err == nil || !r.AuthRejected || !strings.Contains(r.Err.Error(), "credentials rejected") {
			t.Fatalf("err %v, auth rejected %v", r.Err, r.AuthRejected)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		r := p.TURN(ctx, "turn:"+srv.String(), "mallory", "correct horse")
		if r.Err == nil || !r.AuthRejected {
			t.Fatalf("err %v, auth rejected %v", r.Err, r.AuthRejected)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		r := p.TURN(ctx, "turn:"+srv.String(), "", "")
		if r.Err == nil || !strings.Contains(r.Err.Error(), "no TURN credentials") {
			t.Fatalf("err %v", r.Err)
		}
	})
	t.Run("server never answers", func(t *testing.T) {
		q := &Prober{LocalAddr: "127.0.0.1:0", Timeout: 700 * time.Millisecond}
		start := time.Now()
		r := q.TURN(ctx, "turn:"+hole.String(), "alice", "x")
		if !errors.Is(r.Err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", r.Err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("took %v with a 700ms timeout", el)
		}
	})
	t.Run("stun URL", func(t *testing.T) {
		if r := p.TURN(ctx, "stun:"+srv.String(), "a", "b"); r.Err == nil {
			t.Fatal("stun: URL accepted for a TURN probe")
		}
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in        string
		scheme    string
		host      string
		port      int
		transport string
		user      string
		pass      string
		wantErr   string
	}{
		{in: "stun:stun.l.google.com:19302", scheme: "stun", host: "stun.l.google.com", port: 19302, transport: "udp"},
		{in: "stun:example.org", scheme: "stun", host: "example.org", port: 3478, transport: "udp"},
		{in: "turn:1.2.3.4:3478?transport=udp", scheme: "turn", host: "1.2.3.4", port: 3478, transport: "udp"},
		{in: "turn:[2001:db8::1]:3478", scheme: "turn", host: "2001:db8::1", port: 3478, transport: "udp"},
		{in: "turns:relay.example.org", scheme: "turns", host: "relay.example.org", port: 5349, transport: "tcp"},
		{in: "turn:bob:s3cret@1.2.3.4:3478", scheme: "turn", host: "1.2.3.4", port: 3478, transport: "udp", user: "bob", pass: "s3cret"},
		{in: "turn:b%40b:p%3Aw%40@h:1?transport=tcp", scheme: "turn", host: "h", port: 1, transport: "tcp", user: "b@b", pass: "p:w@"},
		{in: "", wantErr: "empty"},
		{in: "stun.l.google.com", wantErr: "missing scheme"},
		{in: "http://x", wantErr: "unknown scheme"},
		{in: "stun:u:p@host", wantErr: "no credentials"},
		{in: "turn:onlyuser@host", wantErr: "USER:PASS"},
		{in: "turn::p@host", wantErr: "empty username"},
		{in: "turn://host:3478", wantErr: "'//'"},
		{in: "stun:host:notaport", wantErr: "port"},
		{in: "stun:host:99999", wantErr: "out of range"},
		{in: "turn:host?transport=sctp", wantErr: "host"},
		{in: "stun:" + strings.Repeat("a", MaxURLLength), wantErr: "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			s, err := ParseURL(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Scheme != tc.scheme || s.Host != tc.host || s.Port != tc.port || s.Transport != tc.transport || s.Username != tc.user || s.Password != tc.pass {
				t.Fatalf("got %+v", s)
			}
			if tc.pass != "" && strings.Contains(s.URL, tc.pass) {
				t.Fatalf("password in URL %q", s.URL)
			}
		})
	}
	if _, err := ParseURL("turn:bob:hunter2@host:notaport"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v leaks the password or is missing", err)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"stun:stun.l.google.com:19302", "turn:u:p@1.2.3.4:3478?transport=udp", "turns:[::1]:5349?transport=tcp", "turn:a%40b:c@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseURL(raw)
		if err != nil {
			return
		}
		if s.Port <= 0 || s.Port > 65535 || s.Host == "" {
			t.Fatalf("accepted %q as %+v", raw, s)
		}
		if s.Password != "" && strings.Contains(s.URL, ":"+s.Password+"@") {
			t.Fatalf("URL %q shows the password", s.URL)
		}
	})
}

func FuzzParseBindingResponse(f *testing.F) {
	for _, off := range []int{0, 7} {
		m, err := stun.Build(stun.TransactionID, stun.BindingSuccess,
			&stun.XORMappedAddress{IP: net.IPv4(203, 0, 113, 7), Port: 40000 + off}, stun.Fingerprint)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Raw)
	}
	m, _ := stun.Build(stun.TransactionID, stun.BindingError, stun.CodeBadRequest, stun.Fingerprint)
	f.Add(m.Raw)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		_, ans, ok := parseBindingResponse(pkt)
		if ok && ans.err == nil && !ans.mapped.IsValid() {
			t.Fatalf("accepted without a valid mapped address: %x", pkt)
		}
	})
}

func TestSTUNOverIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:             testRealm,
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: pc}},
		LoggerFactory:     quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	v4 := startTURN(t, "127.0.0.1", "u", "p", false)
	p := &Prober{LocalAddr: "[::1]:0", Timeout: 2 * time.Second, IPv6: true}
	rep, err := p.STUN(context.Background(), []string{"stun:" + pc.LocalAddr().String(), stunURL(v4)})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Err != nil || r.Mapped != rep.Local || !r.Mapped.Addr().Is6() {
		t.Fatalf("IPv6 server: %+v (local %s)", r, rep.Local)
	}
	if r := rep.Results[1]; r.Err == nil || !strings.Contains(r.Err.Error(), "not an IPv6 address") {
		t.Fatalf("IPv4 server in an IPv6 probe: %+v", r)
	}
}

// selfSigned returns a TLS certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rtcchat test relay"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTURNOverTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	l, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: testRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, turn.GenerateAuthKey("alice", testRealm, "pw"), ra.Username == "alice"
		},
		ListenerConfigs: []turn.ListenerConfig{{
			Listener:              l,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"},
		}},
		LoggerFactory: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "turns:" + l.Addr().String() + "?transport=tcp"

	p := &Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second, TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	r := p.TURN(context.Background(), url, "alice", "pw")
	if r.Err != nil || !r.Relayed.IsValid() {
		t.Fatalf("turns: err %v, relayed %s", r.Err, r.Relayed)
	}
	// Without trusting the certificate the probe fails with a clear error.
	q := &Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	if r := q.TURN(context.Background(), url, "alice", "pw"); r.Err == nil || !strings.Contains(r.Err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", r.Err)
	}
}
