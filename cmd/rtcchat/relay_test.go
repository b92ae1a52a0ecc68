package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/rtcchat/rtcchat/netcheck"
	"github.com/rtcchat/rtcchat/rtc"
)

// relayOutBuffer is a bytes.Buffer safe for a writer and a polling reader.
type relayOutBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *relayOutBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *relayOutBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlRE = regexp.MustCompile(`--turn '(turn:[^'\s]+@[^'\s]+)'`)

// startRelayCmd runs `rtcchat relay args...` in-process and returns the
// credentials URL it printed, its stdout, its log, and a stop function that
// cancels it and returns its error.
func startRelayCmd(t *testing.T, args ...string) (url string, out, logs *relayOutBuffer, stop func() error) {
	t.Helper()
	out, logs = &relayOutBuffer{}, &relayOutBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	root.SetOut(out)
	root.SetErr(logs)
	root.SetArgs(append([]string{"relay"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(5 * time.Second):
				stopErr = errors.New("relay did not stop within 5s of cancellation")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, logs, stop
		}
		select {
		case err := <-done:
			t.Fatalf("relay exited: %v\n%s%s", err, out, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("relay printed no --turn URL:\n%s%s", out, logs)
	return
}

// allocate allocates through a pion/turn client and checks that data is
// relayed both ways between the allocation and a plain UDP socket.
func allocate(t *testing.T, srv netcheck.Server, user, pass string) error {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: srv.Address(),
		TURNServerAddr: srv.Address(),
		Username:       user,
		Password:       pass,
		Conn:           conn,
		LoggerFactory:  quietLoggerFactory(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	relayConn, err := c.AllocateWithContext(ctx)
	if err != nil {
		return err
	}
	defer relayConn.Close()

	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	// The allocation sends first; that installs the permission for the peer.
	if _, err := relayConn.WriteTo([]byte("to peer"), peer.LocalAddr()); err != nil {
		t.Fatalf("write through the relay: %v", err)
	}
	buf := make([]byte, 1500)
	peer.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "to peer" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	if from.String() != relayConn.LocalAddr().String() {
		t.Fatalf("peer got the datagram from %s, relay address is %s", from, relayConn.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte("to client"), from); err != nil {
		t.Fatal(err)
	}
	relayConn.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, _, err = relayConn.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "to client" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
	return nil
}

func TestRelayCommandAllocates(t *testing.T) {
	url, out, logs, stop := startRelayCmd(t, "--listen", "127.0.0.1:0")
	srv, err := netcheck.ParseURL(url)
	if err != nil {
		t.Fatalf("printed URL %q: %v", url, err)
	}
	if srv.Host != "127.0.0.1" || srv.Port == 0 || srv.Transport != "udp" || srv.Username == "" || len(srv.Password) < 20 {
		t.Fatalf("printed URL parsed as %+v", srv)
	}
	// The separate-flags form names the same server and credentials.
	if want := "--turn 'turn:" + srv.Address() + "?transport=udp' --turn-user " + srv.Username + " --turn-pass " + srv.Password; !strings.Contains(out.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
	// The transport parses it to the same server and credentials.
	if ts, err := rtc.ParseTURN(url, "", ""); err != nil || ts.Username != srv.Username || ts.Password != srv.Password || ts.URL != "turn:"+srv.Address()+"?transport=udp" {
		t.Fatalf("rtc.ParseTURN(%q) = %+v, %v", url, ts, err)
	}
	if err := allocate(t, srv, srv.Username, srv.Password); err != nil {
		t.Fatalf("allocation with the printed credentials: %v", err)
	}
	err = allocate(t, srv, srv.Username, "wrong-password")
	var te *stun.TurnError
	if !errors.As(err, &te) || te.ErrorCodeAttr.Code != stun.CodeUnauthorized {
		t.Fatalf("wrong password: err %v, want 401", err)
	}
	// doctor accepts the printed URL as it is.
	p := &netcheck.Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	if r := p.TURN(context.Background(), url, "", ""); r.Err != nil || !r.DataChecked {
		t.Fatalf("doctor probe of the relay: %v / %v", r.Err, r.DataErr)
	}
	// TURN over TCP on the same port, unless that TCP port was taken.
	if strings.Contains(logs.String(), "TURN over TCP disabled") {
		t.Logf("TCP port %d was taken; TURN over TCP not tested in this run", srv.Port)
	} else if r := p.TURN(context.Background(), "turn:"+srv.Address()+"?transport=tcp", srv.Username, srv.Password); r.Err != nil {
		t.Fatalf("TURN over TCP: %v", r.Err)
	}

	if err := stop(); err != nil {
		t.Fatalf("relay returned %v after Ctrl-C", err)
	}
	l := logs.String()
	for _, want := range []string{"allocation for 127.0.0.1:", "relaying on 127.0.0.1:", "wrong credentials", "stopping the relay", "WARNING: announcing the listening address 127.0.0.1"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	if strings.Contains(l, srv.Password) || strings.Contains(l, srv.Username) {
		t.Errorf("credentials in the log:\n%s", l)
	}
}

func TestRelayPortRangeAndPublicIP(t *testing.T) {
	// Find two adjacent free UDP ports for the relay range.
	var lo int
	for range 50 {
		a, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		b, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		a.Close()
		if err == nil {
			b.Close()
			lo = p
			break
		}
	}
	if lo == 0 || lo >= 65535 {
		t.Skip("no two adjacent free UDP ports")
	}
	url, _, _, _ := startRelayCmd(t, "--listen", "127.0.0.1:0", "--public-ip", "127.0.0.1", "--ports", strconv.Itoa(lo)+"-"+strconv.Itoa(lo+1), "--no-tcp")
	srv, err := netcheck.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := &netcheck.Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	r := p.TURN(context.Background(), url, "", "")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if port := int(r.Relayed.Port()); port < lo || port > lo+1 || r.Relayed.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("relayed address %s outside 127.0.0.1:%d-%d", r.Relayed, lo, lo+1)
	}
	if r := p.TURN(context.Background(), "turn:"+srv.Address()+"?transport=tcp", srv.Username, srv.Password); r.Err == nil {
		t.Fatal("TCP accepted with --no-tcp")
	}
}

func TestRelayAllocationQuota(t *testing.T) {
	url, _, _, _ := startRelayCmd(t, "--listen", "127.0.0.1:0", "--max-allocations", "1", "--no-tcp")
	p := &netcheck.Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	// Hold one allocation open through a client of our own.
	srv, err := netcheck.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: srv.Address(), TURNServerAddr: srv.Address(),
		Username: srv.Username, Password: srv.Password, Conn: conn, LoggerFactory: quietLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	held, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if r := p.TURN(context.Background(), url, "", ""); r.Err == nil || !strings.Contains(r.Err.Error(), "quota") {
		t.Fatalf("second allocation with --max-allocations 1: %v", r.Err)
	}
}

func TestRelayFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "nonsense"},
		{"--listen", "example.org:3478"},
		{"--listen", "127.0.0.1:0", "--public-ip", "not-an-ip"},
		{"--listen", "127.0.0.1:0", "--ports", "5000"},
		{"--listen", "127.0.0.1:0", "--ports", "6000-5000"},
		{"--listen", "127.0.0.1:0", "--max-allocations", "0"},
		{"--listen", "[::]:0", "--public-ip", "203.0.113.7"},
		{"--listen", "0.0.0.0:0", "--public-ip", "2001:db8::1"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := execRootCtx(ctx, append([]string{"relay"}, args...)...)
		cancel()
		if err == nil {
			t.Errorf("relay %v: accepted\n%s", args, out)
		}
	}
}

func TestPickRelayIP(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name     string
		public   string
		listen   netip.Addr
		ifaces   []netip.Addr
		want     string
		wantWarn string
		wantErr  bool
	}{
		{"public flag", "203.0.113.7", netip.Addr{}, nil, "203.0.113.7", "", false},
		{"public flag private", "10.0.0.2", netip.Addr{}, nil, "10.0.0.2", "not a public address", false},
		{"bad flag", "x", netip.Addr{}, nil, "", "", true},
		{"unspecified flag", "0.0.0.0", netip.Addr{}, nil, "", "", true},
		{"listen ip", "", a("198.51.100.1"), nil, "198.51.100.1", "", false},
		{"detect skips loopback", "", a("0.0.0.0"), []netip.Addr{a("127.0.0.1"), a("fe80::1"), a("198.51.100.9")}, "198.51.100.9", "first interface address", false},
		{"detect private", "", netip.Addr{}, []netip.Addr{a("192.168.1.4")}, "192.168.1.4", "behind a NAT", false},
		{"nothing", "", netip.Addr{}, []netip.Addr{a("127.0.0.1")}, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip, warn, err := pickRelayIP(tc.public, tc.listen, tc.ifaces)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				return
			}
			if ip.String() != tc.want || !strings.Contains(warn, tc.wantWarn) || (tc.wantWarn == "" && warn != "") {
				t.Fatalf("got %s, %q", ip, warn)
			}
		})
	}
}

func TestRelayPermission(t *testing.T) {
	public := relayPermission(false)
	loop := relayPermission(true)
	for _, tc := range []struct {
		ip           string
		public, loop bool
	}{
		{"198.51.100.7", true, true},
		{"10.1.2.3", true, true},
		{"127.0.0.1", false, true},
		{"0.0.0.0", false, false},
		{"224.0.0.1", false, false},
		{"169.254.1.1", false, false},
		{"::1", false, true},
	} {
		ip := net.ParseIP(tc.ip)
		if got := public(nil, ip); got != tc.public {
			t.Errorf("public relay, peer %s: %v", tc.ip, got)
		}
		if got := loop(nil, ip); got != tc.loop {
			t.Errorf("loopback relay, peer %s: %v", tc.ip, got)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	if lo, hi, err := parsePortRange("49152-65535"); err != nil || lo != 49152 || hi != 65535 {
		t.Fatalf("%d %d %v", lo, hi, err)
	}
	for _, bad := range []string{"", "1", "0-10", "10-9", "1-70000", "a-b", "-"} {
		if _, _, err := parsePortRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files and returns their paths and a pool that trusts it.
func writeSelfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rtcchat relay test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

var turnsRE = regexp.MustCompile(`--turn '(turns:[^'\s]+)'`)

func TestRelayOverTLS(t *testing.T) {
	certFile, keyFile, pool := writeSelfSigned(t)
	_, out, _, _ := startRelayCmd(t, "--listen", "127.0.0.1:0", "--no-tcp",
		"--tls-listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	m := turnsRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no turns: URL printed:\n%s", out)
	}
	if _, err := rtc.ParseTURN(m[1], "", ""); err != nil {
		t.Fatalf("rtc.ParseTURN(%q): %v", m[1], err)
	}
	p := &netcheck.Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second, TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	if r := p.TURN(context.Background(), m[1], "", ""); r.Err != nil || !r.Relayed.IsValid() {
		t.Fatalf("allocation over TLS: %v", r.Err)
	}
	for _, args := range [][]string{
		{"--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"},
		{"--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", certFile},
	} {
		if out, err := execRootCtx(context.Background(), append([]string{"relay"}, args...)...); err == nil {
			t.Errorf("relay %v accepted\n%s", args, out)
		}
	}
}

func TestRelayCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay-credentials")
	url1, out, _, stop := startRelayCmd(t, "--listen", "127.0.0.1:0", "--no-tcp", "--credentials", path)
	if !strings.Contains(out.String(), "new, saved in "+path) {
		t.Fatalf("output:\n%s", out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %04o", fi.Mode().Perm())
	}
	url2, out, _, _ := startRelayCmd(t, "--listen", "127.0.0.1:0", "--no-tcp", "--credentials", path)
	if !strings.Contains(out.String(), "kept in "+path) {
		t.Fatalf("output:\n%s", out)
	}
	s1, _ := netcheck.ParseURL(url1)
	s2, err := netcheck.ParseURL(url2)
	if err != nil || s1.Username != s2.Username || s1.Password != s2.Password {
		t.Fatalf("credentials changed across restarts: %+v vs %+v", s1, s2)
	}
	p := &netcheck.Prober{LocalAddr: "127.0.0.1:0", Timeout: 2 * time.Second}
	if r := p.TURN(context.Background(), url2, "", ""); r.Err != nil {
		t.Fatalf("allocation with the kept credentials: %v", r.Err)
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := execRootCtx(context.Background(), "relay", "--listen", "127.0.0.1:0", "--credentials", path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("world-readable credentials accepted: %v\n%s", err, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("user:short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(bad)
	if _, err := execRootCtx(context.Background(), "relay", "--listen", "127.0.0.1:0", "--credentials", bad); err == nil || !strings.Contains(err.Error(), "16-128") {
		t.Fatalf("short password accepted: %v", err)
	}
	if after, _ := os.ReadFile(bad); !bytes.Equal(before, after) {
		t.Fatal("a rejected credentials file was changed")
	}
}

func TestParseRelayCredentials(t *testing.T) {
	for _, tc := range []struct {
		in   string
		user string
		ok   bool
	}{
		{"rtcABC:ABCDEFGHIJKLMNOPQRSTUVWXYZ\n", "rtcABC", true},
		{"u:0123456789abcdef", "u", true},
		{"u:0123456789abcdef\r\n", "u", true},
		{"u:0123456789abcde", "", false},
		{":0123456789abcdef", "", false},
		{"u0123456789abcdef", "", false},
		{"u:0123456789abcdef\nmore", "", false},
		{"u@x:0123456789abcdef", "", false},
		{"u:0123456789abc:def", "", false},
		{"u:" + strings.Repeat("a", 600), "", false},
	} {
		u, p, err := parseRelayCredentials([]byte(tc.in))
		if (err == nil) != tc.ok || u != tc.user {
			t.Errorf("%q: %q %q %v", tc.in, u, p, err)
		}
	}
}

func FuzzParseRelayCredentials(f *testing.F) {
	f.Add([]byte("rtcABCDEFGH:ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"))
	f.Add([]byte("u:0123456789abcdef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, p, err := parseRelayCredentials(b)
		if err != nil {
			return
		}
		// Accepted credentials round-trip through the printed URL.
		s, err := netcheck.ParseURL("turn:" + u + ":" + p + "@127.0.0.1:3478?transport=udp")
		if err != nil || s.Username != u || s.Password != p {
			t.Fatalf("%q: URL round trip: %+v %v", b, s, err)
		}
	})
}
