//go:build linux

package rtc

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// NAT traversal in network namespaces (issue 2). The test builds this
// topology, with no route between the two private networks:
//
//	peer A ns            router A ns                 public ns                 router B ns             peer B ns
//	10.1.0.2 [h] ---- [h] 10.1.0.1  NAT  100.64.1.2 [p] ---- [a] 100.64.1.1
//	                                                  STUN/TURN 100.64.0.1 (lo)
//	                                                      [b] 100.64.2.1 ---- [p] 100.64.2.2  NAT  10.2.0.1 [h] ---- [h] 10.2.0.2
//
// The routers masquerade (iptables MASQUERADE) and drop unsolicited packets.
// Linux keeps the source port where it can, which makes an
// endpoint-independent mapping with address- and port-dependent filtering:
// the peers punch holes towards each other's server-reflexive candidates. With --random-fully every
// destination gets a random port (a symmetric NAT): only the TURN relay
// connects them. Peers and server run in re-executed copies of the test
// binary inside `ip netns exec`, because a namespace belongs to an OS thread
// and pion opens sockets from many goroutines.

const (
	natServerIP = "100.64.0.1"
	natUser     = "rtcchat"
	natPassword = "nat-test-secret"
	natRealm    = "rtcchat.test"
	helperEnv   = "RTCCHAT_NAT_HELPER"
)

type natNet struct {
	t                   *testing.T
	id                  string
	pub, ra, rb, pa, pb string // namespace names
	symmetric           bool
}

func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("NAT traversal test needs root for network namespaces and iptables (CI runs as root)")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("NAT traversal test needs %s (apt-get install iproute2 iptables)", tool)
		}
	}
	name := "rtcprobe" + randHex(3)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "exec", name, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "MASQUERADE", "--random-fully").CombinedOutput(); err != nil {
		t.Skipf("iptables cannot masquerade here (no nat table or --random-fully): %v: %s", err, out)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (n *natNet) run(args ...string) {
	n.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		n.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (n *natNet) in(ns string, args ...string) {
	n.t.Helper()
	n.run(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// newNATNet builds the topology; t.Cleanup removes the namespaces, which
// takes their interfaces, routes and iptables rules with them.
func newNATNet(t *testing.T, symmetric bool) *natNet {
	id := randHex(2)
	n := &natNet{t: t, id: id, symmetric: symmetric,
		pub: "rtc" + id + "pub", ra: "rtc" + id + "ra", rb: "rtc" + id + "rb", pa: "rtc" + id + "pa", pb: "rtc" + id + "pb"}
	for _, ns := range []string{n.pub, n.ra, n.rb, n.pa, n.pb} {
		n.run("ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		n.in(ns, "ip", "link", "set", "lo", "up")
	}
	// veth pairs: name in the first namespace, name in the second.
	link := func(ns1, if1, addr1, ns2, if2, addr2 string) {
		a, b := "v"+id+if1, "v"+id+if2
		n.run("ip", "link", "add", a, "netns", ns1, "type", "veth", "peer", "name", b, "netns", ns2)
		n.in(ns1, "ip", "addr", "add", addr1, "dev", a)
		n.in(ns2, "ip", "addr", "add", addr2, "dev", b)
		n.in(ns1, "ip", "link", "set", a, "up")
		n.in(ns2, "ip", "link", "set", b, "up")
	}
	link(n.pub, "pa", "100.64.1.1/24", n.ra, "ap", "100.64.1.2/24")
	link(n.pub, "pb", "100.64.2.1/24", n.rb, "bp", "100.64.2.2/24")
	link(n.ra, "ah", "10.1.0.1/24", n.pa, "ha", "10.1.0.2/24")
	link(n.rb, "bh", "10.2.0.1/24", n.pb, "hb", "10.2.0.2/24")
	n.in(n.pub, "ip", "addr", "add", natServerIP+"/32", "dev", "lo")
	for _, r := range []string{n.pub, n.ra, n.rb} {
		n.in(r, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	}
	n.in(n.ra, "ip", "route", "add", "default", "via", "100.64.1.1")
	n.in(n.rb, "ip", "route", "add", "default", "via", "100.64.2.1")
	n.in(n.pa, "ip", "route", "add", "default", "via", "10.1.0.1")
	n.in(n.pb, "ip", "route", "add", "default", "via", "10.2.0.1")
	for _, r := range []struct{ ns, out string }{{n.ra, "v" + id + "ap"}, {n.rb, "v" + id + "bp"}} {
		rule := []string{"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", r.out, "-j", "MASQUERADE"}
		if symmetric {
			rule = append(rule, "--random-fully")
		}
		n.in(r.ns, rule...)
		// Drop unsolicited packets from outside as home routers do. This
		// also keeps a peer's early check from creating a conntrack entry
		// on the router that would clash with the mapping that the other
		// peer's checks need (Linux would then pick another port).
		n.in(r.ns, "iptables", "-A", "INPUT", "-i", r.out, "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP")
	}
	return n
}

// helper is a re-executed test binary running one role inside a namespace.
type helper struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	mu    sync.Mutex
	log   strings.Builder
	done  chan error
}

func (n *natNet) start(ns, role string, env ...string) *helper {
	n.t.Helper()
	h := &helper{t: n.t, name: role, lines: make(chan string, 16), done: make(chan error, 1)}
	h.cmd = exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNATHelper$", "-test.v")
	h.cmd.Env = append(append(os.Environ(), helperEnv+"="+role), env...)
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		n.t.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	h.cmd.Stderr = h.cmd.Stdout
	if err := h.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l := sc.Text()
			h.mu.Lock()
			h.log.WriteString(l + "\n")
			h.mu.Unlock()
			if v, ok := strings.CutPrefix(l, "NAT:"); ok {
				h.lines <- v
			}
		}
		close(h.lines)
		h.done <- h.cmd.Wait()
	}()
	n.t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		<-h.done
	})
	return h
}

func (h *helper) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.log.String()
}

// expect waits for a line "key value" and returns value.
func (h *helper) expect(key string, timeout time.Duration) string {
	h.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				h.t.Fatalf("%s ended before %s:\n%s", h.name, key, h.output())
			}
			if l == key {
				return ""
			}
			if v, ok := strings.CutPrefix(l, key+" "); ok {
				return v
			}
		case <-deadline:
			h.t.Fatalf("%s: no %s within %v:\n%s", h.name, key, timeout, h.output())
		}
	}
}

// connect runs an offerer in peer A's namespace and an answerer in peer B's
// and returns what each reported as its result.
func (n *natNet) connect(env ...string) (offRes, ansRes, offer string) {
	return n.connectAfter(0, env...)
}

// connectAfter hands the answer to the offerer only after delay, as when a
// person pastes it minutes later.
func (n *natNet) connectAfter(delay time.Duration, env ...string) (offRes, ansRes, offer string) {
	n.t.Helper()
	off := n.start(n.pa, "offer", env...)
	offer = off.expect("BLOB", 30*time.Second)
	ans := n.start(n.pb, "answer", env...)
	fmt.Fprintln(ans.stdin, offer)
	answer := ans.expect("BLOB", 30*time.Second)
	time.Sleep(delay)
	fmt.Fprintln(off.stdin, answer)
	offRes = off.expect("RESULT", 60*time.Second)
	ansRes = ans.expect("RESULT", 60*time.Second)
	n.t.Logf("offerer: %s\nanswerer: %s", offRes, ansRes)
	return offRes, ansRes, offer
}

func TestNATTraversal(t *testing.T) {
	requireNetns(t)
	turnEnv := []string{"RTCCHAT_NAT_TURN=1"}

	t.Run("server-reflexive through port-preserving NATs", func(t *testing.T) {
		n := newNATNet(t, false)
		n.start(n.pub, "server").expect("READY", 30*time.Second)
		offRes, ansRes, offer := n.connect()
		for _, r := range []string{offRes, ansRes} {
			if !strings.HasPrefix(r, "ok direct") {
				t.Fatalf("want a direct connection: %s", r)
			}
		}
		// The offer carries the NAT's public address from STUN, and the pair
		// in use is not host-to-host (there is no route between the hosts).
		b, err := Parse(offer)
		if err != nil {
			t.Fatal(err)
		}
		if !containsCand(b.Candidates, CandidateSrflx, "100.64.1.2") {
			t.Fatalf("offer without the server-reflexive address: %v", b.Candidates)
		}
		if strings.Count(offRes, "host udp") == 2 {
			t.Fatalf("host-to-host pair selected: %s", offRes)
		}
	})

	t.Run("late answer through NATs that forget quickly", func(t *testing.T) {
		// The routers forget an idle UDP mapping after 2 s; the answer
		// arrives 6 s after the answerer started. The answerer's checks,
		// which go on (pion alone stops after 7 per pair), keep its
		// mapping towards the offerer open, so the offerer's late checks
		// get through.
		n := newNATNet(t, false)
		for _, r := range []string{n.ra, n.rb} {
			if err := exec.Command("ip", "netns", "exec", r, "sh", "-c", "echo 2 > /proc/sys/net/netfilter/nf_conntrack_udp_timeout").Run(); err != nil {
				t.Skipf("cannot set the conntrack UDP timeout in a namespace: %v", err)
			}
		}
		n.start(n.pub, "server").expect("READY", 30*time.Second)
		offRes, ansRes, _ := n.connectAfter(6 * time.Second)
		for _, r := range []string{offRes, ansRes} {
			if !strings.HasPrefix(r, "ok direct") {
				t.Fatalf("want a direct connection: %s", r)
			}
		}
	})

	t.Run("symmetric NATs need the TURN relay", func(t *testing.T) {
		n := newNATNet(t, true)
		n.start(n.pub, "server").expect("READY", 30*time.Second)
		// Without a relay the peers cannot reach each other, and say so.
		offRes, ansRes, _ := n.connect("RTCCHAT_NAT_SHORT=1")
		if !strings.Contains(offRes, ErrNoPair.Error()) || !strings.Contains(ansRes, ErrNoPair.Error()) {
			t.Fatalf("want %q without TURN:\n%s\n%s", ErrNoPair, offRes, ansRes)
		}
		// With the relay (credentials checked by the server) they connect.
		offRes, ansRes, offer := n.connect(turnEnv...)
		for _, r := range []string{offRes, ansRes} {
			if !strings.HasPrefix(r, "ok relay") {
				t.Fatalf("want a relayed connection: %s", r)
			}
		}
		b, _ := Parse(offer)
		if !containsCand(b.Candidates, CandidateRelay, natServerIP) {
			t.Fatalf("offer without a relay candidate: %v", b.Candidates)
		}
	})
}

func containsCand(cs []Candidate, typ CandidateType, ip string) bool {
	for _, c := range cs {
		if c.Type == typ && c.Addr.Addr().String() == ip {
			return true
		}
	}
	return false
}

// TestNATHelper is not a test: it is the body of the processes that
// TestNATTraversal starts inside namespaces.
func TestNATHelper(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("runs only as a helper process of TestNATTraversal")
	}
	say := func(format string, args ...any) { fmt.Printf("NAT:"+format+"\n", args...) }
	in := bufio.NewReader(os.Stdin)
	if role == "server" {
		natServer(t, say, in)
		return
	}
	cfg := Config{
		STUN:           []string{"stun:" + natServerIP + ":3478"},
		Networks:       []string{"udp4"},
		GatherTimeout:  3 * time.Second,
		ConnectTimeout: 30 * time.Second,
		AnswerWait:     60 * time.Second,
	}
	if os.Getenv("RTCCHAT_NAT_SHORT") != "" {
		cfg.ConnectTimeout, cfg.AnswerWait = 6*time.Second, 8*time.Second
	}
	if os.Getenv("RTCCHAT_NAT_TURN") != "" {
		cfg.TURN = []TURNServer{{URL: "turn:" + natServerIP + ":3478?transport=udp", Username: natUser, Password: natPassword}}
	}
	ctx := context.Background()
	readLine := func() string {
		l, err := in.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the peer's blob: %v", err)
		}
		return strings.TrimSpace(l)
	}
	var c *Conn
	var err error
	if role == "offer" {
		var o *Offerer
		if o, err = NewOfferer(ctx, cfg, []byte("A")); err != nil {
			t.Fatal(err)
		}
		t.Logf("candidates %v, notes %q", o.Local().Candidates, o.Notes())
		say("BLOB %s", o.Blob())
		c, err = o.Accept(ctx, readLine())
	} else {
		offer := readLine()
		var a *Answerer
		if a, err = NewAnswerer(ctx, cfg, offer, []byte("B")); err != nil {
			t.Fatal(err)
		}
		t.Logf("candidates %v, notes %q", a.Local().Candidates, a.Notes())
		say("BLOB %s", a.Blob())
		c, err = a.Wait(ctx)
	}
	if err != nil {
		say("RESULT error %v", err)
		t.Log(err)
		t.Fail()
		return
	}
	defer c.Close()
	// One message each way proves the channel.
	if err := c.Send([]byte("hello from " + role)); err != nil {
		say("RESULT error send: %v", err)
		return
	}
	m, err := c.Recv()
	if err != nil || !strings.HasPrefix(string(m), "hello from ") {
		say("RESULT error recv: %q %v", m, err)
		return
	}
	kind := "direct"
	if c.Path().Relayed() {
		kind = "relay"
	}
	say("RESULT ok %s %v", kind, c.Path())
}

// natServer runs a STUN and TURN server (pion/turn) with long-term
// credentials until its standard input closes.
func natServer(t *testing.T, say func(string, ...any), in io.Reader) {
	pc, err := net.ListenPacket("udp4", natServerIP+":3478") // bound: replies must come from this address
	if err != nil {
		t.Fatal(err)
	}
	key := turn.GenerateAuthKey(natUser, natRealm, natPassword)
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelWarn
	if os.Getenv("RTCCHAT_NAT_DEBUG") != "" {
		logs.DefaultLogLevel = logging.LogLevelTrace
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		LoggerFactory: logs,
		Realm:         natRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			if ra.Username == natUser {
				return ra.Username, key, true
			}
			return "", nil, false
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.ParseIP(natServerIP),
				Address:      natServerIP,
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	say("READY")
	_, err = io.Copy(io.Discard, in)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		t.Log(err)
	}
}
