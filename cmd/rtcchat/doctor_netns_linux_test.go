//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// doctor and relay behind a real NAT, in network namespaces built here:
//
//	client ns                 router ns                       public ns
//	10.9.0.2 [c0] ---- [r0] 10.9.0.1  NAT  100.64.9.1 [r1] ---- [p0] 100.64.9.2  rtcchat relay A
//	                                                                  100.64.9.3  rtcchat relay B
//
// The router masquerades. Linux keeps the source port where it can, an
// endpoint-independent mapping; with --random-fully each destination gets a
// random port, an endpoint-dependent ("symmetric") mapping. doctor in the
// client namespace must tell the two apart using the two relays as STUN
// servers, and allocate through relay A in both cases. The relays and the
// doctor run as re-executed copies of this test binary inside `ip netns exec`.

const doctorHelperEnv = "RTCCHAT_DOCTOR_HELPER_ARGS"

// TestDoctorNetnsHelper is not a test: it is the entry point of the helper
// processes, which run the rtcchat command line given in doctorHelperEnv.
func TestDoctorNetnsHelper(t *testing.T) {
	raw := os.Getenv(doctorHelperEnv)
	if raw == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetOut(os.Stdout)
	root.SetErr(os.Stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	os.Stdout.Sync()
	if err != nil {
		os.Exit(3) // doctor found a failure: the parent reads the JSON anyway
	}
	os.Exit(0)
}

func requireNetnsNAT(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and iptables (CI runs as root)")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install iproute2 iptables)", tool)
		}
	}
	name := "rtcdp" + doctorRandHex(3)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "exec", name, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "lo", "-j", "MASQUERADE", "--random-fully").CombinedOutput(); err != nil {
		t.Skipf("iptables cannot masquerade here (no nat table or --random-fully): %v: %s", err, out)
	}
}

func doctorRandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// doctorNetns builds the topology and returns the namespace names.
func doctorNetns(t *testing.T, symmetric bool) (client, router, pub string) {
	t.Helper()
	id := doctorRandHex(3)
	client, router, pub = "rtcdc"+id, "rtcdr"+id, "rtcdu"+id
	for _, ns := range []string{client, router, pub} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	masq := []string{"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "r1", "-j", "MASQUERADE"}
	if symmetric {
		masq = append(masq, "--random-fully")
	}
	steps := [][]string{
		{"ip", "link", "add", "c0", "netns", client, "type", "veth", "peer", "name", "r0", "netns", router},
		{"ip", "link", "add", "r1", "netns", router, "type", "veth", "peer", "name", "p0", "netns", pub},
		{"ip", "-n", client, "addr", "add", "10.9.0.2/24", "dev", "c0"},
		{"ip", "-n", router, "addr", "add", "10.9.0.1/24", "dev", "r0"},
		{"ip", "-n", router, "addr", "add", "100.64.9.1/24", "dev", "r1"},
		{"ip", "-n", pub, "addr", "add", "100.64.9.2/24", "dev", "p0"},
		{"ip", "-n", pub, "addr", "add", "100.64.9.3/24", "dev", "p0"},
		{"ip", "-n", client, "link", "set", "lo", "up"},
		{"ip", "-n", router, "link", "set", "lo", "up"},
		{"ip", "-n", pub, "link", "set", "lo", "up"},
		{"ip", "-n", client, "link", "set", "c0", "up"},
		{"ip", "-n", router, "link", "set", "r0", "up"},
		{"ip", "-n", router, "link", "set", "r1", "up"},
		{"ip", "-n", pub, "link", "set", "p0", "up"},
		{"ip", "-n", client, "route", "add", "default", "via", "10.9.0.1"},
		{"ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		append([]string{"ip", "netns", "exec", router}, masq...),
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return client, router, pub
}

// helperCmd runs `rtcchat args...` in namespace ns.
func helperCmd(t *testing.T, ns string, args ...string) *exec.Cmd {
	t.Helper()
	js, _ := json.Marshal(args)
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestDoctorNetnsHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), doctorHelperEnv+"="+string(js),
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	return cmd
}

// startNetnsRelay starts `rtcchat relay --listen ip:3478` in ns and returns
// the URL with credentials it printed.
func startNetnsRelay(t *testing.T, ns, ip string) string {
	t.Helper()
	cmd := helperCmd(t, ns, "relay", "--listen", ip+":3478", "--no-tcp")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("relay in %s exited without a URL", ns)
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("relay in %s printed no URL within 30s", ns)
	}
	return ""
}

func runNetnsDoctor(t *testing.T, symmetric bool) doctorReport {
	client, _, pub := doctorNetns(t, symmetric)
	urlA := startNetnsRelay(t, pub, "100.64.9.2")
	startNetnsRelay(t, pub, "100.64.9.3")
	cmd := helperCmd(t, client, "doctor", "--json", "--timeout", "3s", "--home", filepath.Join(t.TempDir(), "home"),
		"--stun", "stun:100.64.9.2:3478", "--stun", "stun:100.64.9.3:3478", "--turn", urlA)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 3) {
		t.Fatalf("doctor in %s: %v\n%s", client, err, out)
	}
	var rep doctorReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("doctor output: %v\n%s", err, out)
	}
	if strings.Contains(string(out), strings.SplitN(strings.TrimPrefix(urlA, "turn:"), "@", 2)[0]) {
		t.Fatal("the TURN credentials appear in the doctor report")
	}
	for _, c := range rep.Checks {
		t.Logf("%-4s %s: %s", c.Status, c.Name, c.Detail)
	}
	return rep
}

func TestDoctorBehindNAT(t *testing.T) {
	requireNetnsNAT(t)
	t.Run("endpoint-independent", func(t *testing.T) {
		rep := runNetnsDoctor(t, false)
		if rep.Mapping != "endpoint-independent" || rep.NoNAT || len(rep.PublicEndpoints) != 1 {
			t.Fatalf("mapping %s, no NAT %v, endpoints %v\n%+v", rep.Mapping, rep.NoNAT, rep.PublicEndpoints, rep.Checks)
		}
		if !strings.HasPrefix(rep.PublicEndpoints[0], "100.64.9.1:") {
			t.Fatalf("public endpoint %s, want the router's address", rep.PublicEndpoints[0])
		}
		if len(rep.TURN) != 1 || rep.TURN[0].Error != "" || !rep.TURN[0].DataRelayed || !strings.HasPrefix(rep.TURN[0].Relayed, "100.64.9.2:") {
			t.Fatalf("TURN %+v", rep.TURN)
		}
		if !rep.OK {
			t.Fatalf("checks failed: %+v", rep.Checks)
		}
	})
	t.Run("symmetric", func(t *testing.T) {
		rep := runNetnsDoctor(t, true)
		if rep.Mapping != "endpoint-dependent" || len(rep.PublicEndpoints) != 2 {
			t.Fatalf("mapping %s, endpoints %v\n%+v", rep.Mapping, rep.PublicEndpoints, rep.Checks)
		}
		if c := findExact(t, &rep, "NAT mapping"); c.Status != statusWarn || !strings.Contains(c.Fix, "TURN relay checked below works") {
			t.Fatalf("NAT mapping check %+v", c)
		}
		// The relay still works behind the symmetric NAT: that is its job.
		if len(rep.TURN) != 1 || rep.TURN[0].Error != "" || !rep.TURN[0].DataRelayed {
			t.Fatalf("TURN %+v", rep.TURN)
		}
	})
}
