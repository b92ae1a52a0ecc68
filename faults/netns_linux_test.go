//go:build linux

package faults

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/bench"
)

// needNetns skips the test unless this process may create network
// namespaces and use iptables inside them.
func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("fault tests need root to create network namespaces and iptables rules (CI runs as root)")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("fault tests need %s (apt-get install iproute2 iptables)", tool)
		}
	}
	probe := "rtfprobe" + shortID()
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v: %s", err, bytes.TrimSpace(out))
	}
	defer exec.Command("ip", "netns", "del", probe).Run()
	if out, err := exec.Command("ip", "netns", "exec", probe, "iptables", "-A", "INPUT",
		"-m", "statistic", "--mode", "random", "--probability", "0.5", "-j", "DROP").CombinedOutput(); err != nil {
		t.Skipf("iptables has no statistic match in a namespace here: %v: %s", err, bytes.TrimSpace(out))
	}
}

func shortID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sh runs a command and fails the test on error.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// inNS runs a command inside namespace ns.
func inNS(t *testing.T, ns string, args ...string) {
	t.Helper()
	sh(t, append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// net2 is a topology of two peers, each in its own namespace. Without a
// router the peers share one veth link (10.x.0.1 and 10.x.0.2); with one,
// each peer has its own link to a router namespace that forwards between
// them (see addDelayRouter).
type net2 struct {
	t      *testing.T
	id     string
	a, b   string // peer namespaces
	r      string // router namespace ("" without a router)
	ipA    string
	ipB    string
	subnet int
	kind   string // bench child kind: "chat" (default) or "raw"
}

// newNet2 creates the namespaces and links; t.Cleanup deletes the
// namespaces, which removes their interfaces, routes and iptables rules.
func newNet2(t *testing.T, router bool) *net2 {
	t.Helper()
	id := shortID()
	n := &net2{t: t, id: id, a: "rtf" + id + "a", b: "rtf" + id + "b"}
	// A /16 of 10.200-10.249 per topology, so that parallel tests differ.
	var sn [1]byte
	rand.Read(sn[:])
	n.subnet = 200 + int(sn[0])%50
	nss := []string{n.a, n.b}
	if router {
		n.r = "rtf" + id + "r"
		nss = append(nss, n.r)
	}
	for _, ns := range nss {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		inNS(t, ns, "ip", "link", "set", "lo", "up")
	}
	link := func(ns1, if1, ip1, ns2, if2, ip2 string) {
		sh(t, "ip", "link", "add", if1, "netns", ns1, "type", "veth", "peer", "name", if2, "netns", ns2)
		inNS(t, ns1, "ip", "addr", "add", ip1, "dev", if1)
		inNS(t, ns2, "ip", "addr", "add", ip2, "dev", if2)
		inNS(t, ns1, "ip", "link", "set", if1, "up")
		inNS(t, ns2, "ip", "link", "set", if2, "up")
	}
	if !router {
		n.ipA, n.ipB = fmt.Sprintf("10.%d.0.1", n.subnet), fmt.Sprintf("10.%d.0.2", n.subnet)
		link(n.a, "rtf"+id+"x", n.ipA+"/24", n.b, "rtf"+id+"y", n.ipB+"/24")
		return n
	}
	n.ipA, n.ipB = fmt.Sprintf("10.%d.1.2", n.subnet), fmt.Sprintf("10.%d.2.2", n.subnet)
	link(n.a, "rtf"+id+"a0", n.ipA+"/24", n.r, "rtf"+id+"ra", fmt.Sprintf("10.%d.1.1/24", n.subnet))
	link(n.b, "rtf"+id+"b0", n.ipB+"/24", n.r, "rtf"+id+"rb", fmt.Sprintf("10.%d.2.1/24", n.subnet))
	inNS(t, n.a, "ip", "route", "add", "default", "via", fmt.Sprintf("10.%d.1.1", n.subnet))
	inNS(t, n.b, "ip", "route", "add", "default", "via", fmt.Sprintf("10.%d.2.1", n.subnet))
	inNS(t, n.r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return n
}

// dropInput adds `iptables -A INPUT ... -j DROP` in both peers' namespaces
// with the given extra match (for example the statistic match).
func (n *net2) dropInput(match ...string) {
	for _, ns := range []string{n.a, n.b} {
		inNS(n.t, ns, append(append([]string{"iptables", "-A", "INPUT"}, match...), "-j", "DROP")...)
	}
}

// loss drops each packet arriving at either peer with probability p.
func (n *net2) loss(p float64) {
	n.dropInput("-m", "statistic", "--mode", "random", "--probability", fmt.Sprint(p))
}

// cut drops every packet either peer receives on its link (INPUT, so that
// sending still succeeds as on a real broken path); restore undoes it.
func (n *net2) cut() {
	for ns, dev := range n.devs() {
		inNS(n.t, ns, "iptables", "-I", "INPUT", "1", "-i", dev, "-j", "DROP")
	}
}

func (n *net2) restore() {
	for ns, dev := range n.devs() {
		inNS(n.t, ns, "iptables", "-D", "INPUT", "-i", dev, "-j", "DROP")
	}
}

// devs maps each peer namespace to its link's interface name.
func (n *net2) devs() map[string]string {
	if n.r != "" {
		return map[string]string{n.a: "rtf" + n.id + "a0", n.b: "rtf" + n.id + "b0"}
	}
	return map[string]string{n.a: "rtf" + n.id + "x", n.b: "rtf" + n.id + "y"}
}

// peers starts the offering chat child in namespace a and the answering one
// in b, connects them and returns both. t.Cleanup ends them.
func (n *net2) peers(failed time.Duration) (off, ans *bench.Proc) {
	t := n.t
	t.Helper()
	start := func(ns, role, ip string) *bench.Proc {
		cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
		kind := n.kind
		if kind == "" {
			kind = "chat"
		}
		cmd.Env = append(os.Environ(), bench.Options{Role: role, Kind: kind, IP: ip, FailedTimeout: failed}.Env())
		if fullRun() {
			cmd.Env = append(cmd.Env, bench.EnvStepTimeout+"="+fullLimit.String())
		}
		var stderr lockedBuffer
		p, err := bench.Start(role, cmd, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.Quit(10 * time.Second)
			if t.Failed() && stderr.Len() > 0 {
				t.Logf("%s stderr:\n%s", role, stderr.String())
			}
		})
		return p
	}
	off = start(n.a, "offer", n.ipA)
	ans = start(n.b, "answer", n.ipB)
	d, err := bench.Connect(off, ans, 2*time.Minute)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Logf("connected in %v", d.Round(time.Millisecond))
	return off, ans
}
