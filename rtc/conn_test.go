package rtc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// connectLoopback connects an offerer and an answerer in this process over
// the loopback interface.
func connectLoopback(t testing.TB, cfg Config) (off, ans *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := NewOfferer(ctx, cfg, []byte("offer-app"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAnswerer(ctx, cfg, o.Blob(), []byte("answer-app"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ans, werr = a.Wait(ctx)
	}()
	off, err = o.Accept(ctx, a.Blob())
	wg.Wait()
	if err != nil || werr != nil {
		t.Fatalf("accept: %v; wait: %v", err, werr)
	}
	t.Cleanup(func() { off.Close(); ans.Close() })
	return off, ans
}

func TestLoopbackConnect(t *testing.T) {
	var mu sync.Mutex
	var states []State
	cfg := LoopbackConfig()
	cfg.OnState = func(s State) { mu.Lock(); states = append(states, s); mu.Unlock() }
	off, ans := connectLoopback(t, cfg)

	if off.RemoteFingerprint() != ans.LocalFingerprint() || ans.RemoteFingerprint() != off.LocalFingerprint() {
		t.Fatal("fingerprints do not match across the connection")
	}
	if off.LocalFingerprint() == ans.LocalFingerprint() {
		t.Fatal("both sides have the same certificate")
	}
	if !bytes.Equal(off.LocalBlob(), ans.RemoteBlob()) || !bytes.Equal(ans.LocalBlob(), off.RemoteBlob()) {
		t.Fatal("blob bytes differ between the sides")
	}
	if string(off.RemoteApp()) != "answer-app" || string(ans.RemoteApp()) != "offer-app" {
		t.Fatalf("app fields %q %q", off.RemoteApp(), ans.RemoteApp())
	}
	if cs := off.DTLSCipherSuite(); cs != "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" || ans.DTLSCipherSuite() != cs {
		t.Fatalf("DTLS cipher suites %q %q", cs, ans.DTLSCipherSuite())
	}
	if !off.IsOfferer() || ans.IsOfferer() {
		t.Fatal("IsOfferer")
	}
	for _, c := range []*Conn{off, ans} {
		p := c.Path()
		if p.Relayed() || !p.Local.Addr.Addr().IsLoopback() || !p.Remote.Addr.Addr().IsLoopback() {
			t.Fatalf("path %v", p)
		}
		if !strings.HasPrefix(p.String(), "direct") {
			t.Fatalf("path string %q", p)
		}
		if c.State() != StateConnected {
			t.Fatalf("state %v", c.State())
		}
	}

	// Messages of every size up to the maximum keep their boundaries and order.
	sizes := []int{0, 1, 100, 1200, 16 << 10, MaxMessageSize}
	go func() {
		for i, n := range sizes {
			msg := bytes.Repeat([]byte{byte(i)}, n)
			if err := off.Send(msg); err != nil {
				t.Error(err)
			}
		}
	}()
	for i, n := range sizes {
		msg, err := ans.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(msg) != n || (n > 0 && msg[0] != byte(i)) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(msg), n)
		}
	}
	if err := ans.Send([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if m, err := off.Recv(); err != nil || string(m) != "reply" {
		t.Fatalf("reply %q %v", m, err)
	}
	if err := off.Send(make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized send: %v", err)
	}

	// Closing one side ends the other's Recv with io.EOF.
	off.Close()
	if _, err := ans.Recv(); err != io.EOF && !errors.Is(err, ErrClosed) {
		t.Fatalf("recv after peer close: %v", err)
	}
	select {
	case <-ans.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("answerer not done after the offerer closed")
	}
	if err := off.Send([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !containsState(states, StateConnected) || !containsState(states, StateClosed) {
		t.Fatalf("states %v", states)
	}
}

func containsState(ss []State, s State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// The answer may be pasted long after the answerer started checking: ICE
// keeps going (the default would give up on each pair after ~1.5 s).
func TestLateAnswer(t *testing.T) {
	delay := 4 * time.Second
	if testing.Short() {
		delay = 2 * time.Second
	}
	cfg := LoopbackConfig()
	ctx := context.Background()
	o, a := offerAnswer(t, ctx, cfg)
	done := make(chan error, 1)
	go func() {
		c, err := a.Wait(ctx)
		if err == nil {
			defer c.Close()
			_, err = c.Recv()
		}
		done <- err
	}()
	time.Sleep(delay)
	c, err := o.Accept(ctx, a.Blob())
	if err != nil {
		t.Fatalf("accept after %v: %v", delay, err)
	}
	defer c.Close()
	if err := c.Send([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestConnectFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong blob kind", func(t *testing.T) {
		o, err := NewOfferer(ctx, LoopbackConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if _, err := o.Accept(ctx, o.Blob()); !errors.Is(err, ErrWrongBlob) {
			t.Fatalf("own offer as answer: %v", err)
		}
		o2, _ := NewOfferer(ctx, LoopbackConfig(), nil)
		defer o2.Close()
		if _, err := o.Accept(ctx, o2.Blob()); !errors.Is(err, ErrWrongBlob) {
			t.Fatalf("offer as answer: %v", err)
		}
	})
	t.Run("damaged offer", func(t *testing.T) {
		if _, err := NewAnswerer(ctx, LoopbackConfig(), "rtc1abc", nil); !errors.Is(err, ErrTruncated) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no pair", func(t *testing.T) {
		// The answer names an address where nobody listens.
		cfg := LoopbackConfig()
		cfg.ConnectTimeout = 2 * time.Second
		o, a := offerAnswer(t, ctx, cfg)
		a.Close()
		b := *a.Local()
		b.Candidates = []Candidate{{Type: CandidateHost, Addr: mustAP("127.0.0.1:9")}}
		text, _ := b.Encode()
		start := time.Now()
		_, err := o.Accept(ctx, text)
		if !errors.Is(err, ErrNoPair) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("gave up after %v", d)
		}
		t.Log(err)
	})
	t.Run("DTLS fingerprint mismatch", func(t *testing.T) {
		cfg := LoopbackConfig()
		cfg.ConnectTimeout = 10 * time.Second
		o, a := offerAnswer(t, ctx, cfg)
		defer a.Close()
		go a.Wait(ctx)
		b := *a.Local()
		b.Fingerprint[0] ^= 1
		text, _ := b.Encode()
		_, err := o.Accept(ctx, text)
		if !errors.Is(err, ErrDTLS) {
			t.Fatalf("got %v", err)
		}
		t.Log(err)
	})
	t.Run("both DTLS clients", func(t *testing.T) {
		// The answer claims the server role while its sender acts as the
		// client: ICE connects, DTLS cannot.
		cfg := LoopbackConfig()
		cfg.ConnectTimeout = 3 * time.Second
		o, a := offerAnswer(t, ctx, cfg)
		defer a.Close()
		go a.Wait(ctx)
		b := *a.Local()
		if b.Role != RoleActive {
			t.Fatalf("answer role %v", b.Role)
		}
		b.Role = RolePassive
		text, _ := b.Encode()
		_, err := o.Accept(ctx, text)
		if !errors.Is(err, ErrDTLS) {
			t.Fatalf("got %v", err)
		}
		t.Log(err)
	})
	t.Run("answerer gives up", func(t *testing.T) {
		cfg := LoopbackConfig()
		cfg.AnswerWait = 1500 * time.Millisecond
		o, err := NewOfferer(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		a, err := NewAnswerer(ctx, cfg, o.Blob(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Wait(ctx); !errors.Is(err, ErrNoPair) {
			t.Fatalf("got %v", err)
		}
	})
}

// An unreachable STUN server ends gathering at the timeout and is named.
func TestUnansweredSTUN(t *testing.T) {
	// A UDP socket that reads and never answers.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	cfg := LoopbackConfig()
	cfg.STUN = []string{"stun:" + pc.LocalAddr().String()}
	cfg.TURN = []TURNServer{{URL: "turn:" + pc.LocalAddr().String() + "?transport=udp", Username: "u", Password: "p"}}
	cfg.GatherTimeout = time.Second
	var logged []string
	cfg.Log = func(f string, a ...any) { logged = append(logged, f) }
	start := time.Now()
	o, err := NewOfferer(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gathering took %v", d)
	}
	found := false
	for _, n := range o.Notes() {
		if strings.Contains(n, pc.LocalAddr().String()) && strings.Contains(n, "did not answer") {
			found = true
		}
	}
	turnNamed := false
	for _, n := range o.Notes() {
		if strings.Contains(n, "no TURN relay address from turn:"+pc.LocalAddr().String()) {
			turnNamed = true
		}
	}
	if !found || !turnNamed || len(logged) == 0 {
		t.Fatalf("notes %q do not name the server", o.Notes())
	}
	if len(o.Local().Candidates) == 0 {
		t.Fatal("no candidates")
	}
}

func TestPortRange(t *testing.T) {
	cfg := LoopbackConfig()
	cfg.PortMin, cfg.PortMax = 41000, 41100
	off, ans := connectLoopback(t, cfg)
	for _, c := range []*Conn{off, ans} {
		if p := c.Path().Local.Addr.Port(); p < 41000 || p > 41100 {
			t.Fatalf("local port %d outside 41000-41100", p)
		}
	}
}

// With only TCP allowed, the peers connect over ICE-TCP (RFC 6544).
func TestLoopbackTCP(t *testing.T) {
	cfg := LoopbackConfig()
	cfg.Networks = []string{"tcp4"}
	off, ans := connectLoopback(t, cfg)
	if p := off.Path(); !p.Local.TCP || !p.Remote.TCP {
		t.Fatalf("path %v is not TCP", p)
	}
	go off.Send([]byte("over tcp"))
	if m, err := ans.Recv(); err != nil || string(m) != "over tcp" {
		t.Fatalf("%q %v", m, err)
	}
}

func TestPreferAESGCM(t *testing.T) {
	cfg := LoopbackConfig()
	cfg.PreferAESGCM = true
	off, ans := connectLoopback(t, cfg)
	if cs := off.DTLSCipherSuite(); cs != "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" || ans.DTLSCipherSuite() != cs {
		t.Fatalf("DTLS cipher suites %q %q", cs, ans.DTLSCipherSuite())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{STUN: []string{"http://x"}},
		{STUN: []string{"turn:x"}},
		{TURN: []TURNServer{{URL: "turn:x:3478"}}},
		{TURN: []TURNServer{{URL: "stun:x", Username: "u", Password: "p"}}},
		{Networks: []string{"sctp"}},
		{PortMin: 10, PortMax: 5},
	} {
		if _, err := NewOfferer(context.Background(), c, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := NewOfferer(context.Background(), LoopbackConfig(), make([]byte, 65)); !errors.Is(err, ErrTooLong) {
		t.Errorf("65-byte app: %v", err)
	}
}

func TestParseTURN(t *testing.T) {
	for _, tc := range []struct {
		in, user, pass string
		want           TURNServer
		ok             bool
	}{
		{"turn:alice:s3cret@relay.example:3478?transport=udp", "", "", TURNServer{"turn:relay.example:3478?transport=udp", "alice", "s3cret"}, true},
		{"turns:a%40b:p%3Aw@relay.example", "", "", TURNServer{"turns:relay.example", "a@b", "p:w"}, true},
		{"turn:relay.example:3478", "u", "p", TURNServer{"turn:relay.example:3478", "u", "p"}, true},
		{"turn:relay.example:3478", "", "", TURNServer{}, false},
		{"stun:u:p@relay.example", "", "", TURNServer{}, false},
		{"turn:nopass@relay.example", "", "", TURNServer{}, false},
		{"turn:u:p@", "", "", TURNServer{}, false},
	} {
		got, err := ParseTURN(tc.in, tc.user, tc.pass)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseTURN(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
