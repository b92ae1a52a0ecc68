package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	gokeyring "github.com/zalando/go-keyring"

	"github.com/rtcchat/rtcchat/netcheck"
	"github.com/rtcchat/rtcchat/vault"
)

// execRootCtx runs the rtcchat command line in-process and returns its output
// and error (non-nil when the command fails).
func execRootCtx(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// startTestTURN starts a real pion/turn server on ip:0 that accepts user/pass
// (realm rtcchat) and answers STUN Binding requests.
func startTestTURN(t *testing.T, ip, user, pass string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: relayRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			if ra.Username != user {
				return "", nil, false
			}
			return user, turn.GenerateAuthKey(user, relayRealm, pass), true
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.ParseIP(ip), Address: ip},
		}},
		LoggerFactory: quietLoggerFactory(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// startSilentUDP is a server that reads and drops every datagram.
func startSilentUDP(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// loopback2 is 127.0.0.2 where it can be bound (Linux), so that the two
// STUN servers differ by IP address as the mapping test wants.
func loopback2() string {
	pc, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		return "127.0.0.1"
	}
	pc.Close()
	return "127.0.0.2"
}

// noKeyring points go-keyring at a D-Bus socket that does not exist, so the
// keyring check fails quickly and the same way everywhere.
func noKeyring(t *testing.T) {
	t.Setenv(vault.NoKeyringEnv, "")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
}

func findCheck(t *testing.T, rep *doctorReport, prefix string) check {
	t.Helper()
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, rep.Checks)
	return check{}
}

func findExact(t *testing.T, rep *doctorReport, name string) check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return check{}
}

func TestDoctorLoopbackAllGood(t *testing.T) {
	noKeyring(t)
	a := startTestTURN(t, "127.0.0.1", "alice", "s3cret")
	b := startTestTURN(t, loopback2(), "alice", "s3cret")
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := execRootCtx(context.Background(), "doctor", "--json", "--timeout", "2s", "--home", home,
		"--stun", "stun:"+a.String(), "--stun", b.String(),
		"--turn", "turn:"+a.String(), "--turn-user", "alice", "--turn-pass", "s3cret")
	if err != nil {
		t.Fatalf("doctor failed: %v\n%s", err, out)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("doctor took %v on loopback", el)
	}
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if !rep.OK || rep.Mapping != "endpoint-independent" || !rep.NoNAT {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.STUN) != 2 || len(rep.PublicEndpoints) != 1 {
		t.Fatalf("stun %+v endpoints %v", rep.STUN, rep.PublicEndpoints)
	}
	for _, s := range rep.STUN {
		if s.Error != "" || s.Mapped != rep.PublicEndpoints[0] || s.RTTms <= 0 {
			t.Fatalf("stun result %+v", s)
		}
	}
	if ep := netip.MustParseAddrPort(rep.PublicEndpoints[0]); !ep.Addr().IsLoopback() {
		t.Fatalf("public endpoint %s on loopback", ep)
	}
	if len(rep.TURN) != 1 || !rep.TURN[0].DataRelayed || rep.TURN[0].Relayed == "" {
		t.Fatalf("turn %+v", rep.TURN)
	}
	if c := findCheck(t, &rep, "TURN"); c.Status != statusOK {
		t.Fatalf("TURN check %+v", c)
	}
	if c := findCheck(t, &rep, "keyring"); c.Status != statusWarn || c.Fix == "" || rep.Keyring != "unavailable" {
		t.Fatalf("keyring check %+v (%s) without a D-Bus session", c, rep.Keyring)
	}
	if c := findCheck(t, &rep, "data directory"); c.Status != statusOK || rep.DataDir != home {
		t.Fatalf("data dir check %+v", c)
	}
	if strings.Contains(out, "s3cret") {
		t.Fatal("the TURN password appears in the report")
	}
}

func TestDoctorReportsFailuresWithFixes(t *testing.T) {
	noKeyring(t)
	good := startTestTURN(t, "127.0.0.1", "alice", "s3cret")
	silent := startSilentUDP(t)
	const timeout = 700 * time.Millisecond
	start := time.Now()
	out, err := execRootCtx(context.Background(), "doctor", "--timeout", timeout.String(), "--home", filepath.Join(t.TempDir(), "new"),
		"--stun", "stun:"+silent.String(), "--stun", "stun:"+good.String(),
		"--turn", "turn:alice:wrong@"+good.String(),
		"--turn", "turn:"+silent.String()+"?transport=udp", "--turn-user", "alice", "--turn-pass", "x")
	el := time.Since(start)
	if err == nil {
		t.Fatalf("doctor succeeded with a wrong TURN password:\n%s", out)
	}
	if el > timeout+3*time.Second {
		t.Fatalf("doctor took %v with a %v timeout", el, timeout)
	}
	for _, want := range []string{
		"WARN  STUN stun:" + silent.String() + ": no answer",
		"OK    STUN stun:" + good.String(),
		"WARN  NAT mapping: unknown",
		"FAIL  TURN turn:alice:***@" + good.String() + ": credentials rejected (401",
		"check the username and password",
		"FAIL  TURN turn:" + silent.String() + "?transport=udp: no answer",
		"that the relay is running",
		"does not exist yet; it will be created",
		"Some checks failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wrong@") {
		t.Error("password shown in the output")
	}
	// Every non-OK line is followed by what to do.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if (strings.HasPrefix(l, "WARN") || strings.HasPrefix(l, "FAIL")) && (i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "      -> ")) {
			t.Errorf("no fix after %q", l)
		}
	}
}

func TestDoctorNoStunAnswersAtAll(t *testing.T) {
	noKeyring(t)
	silent := startSilentUDP(t)
	out, err := execRootCtx(context.Background(), "doctor", "--json", "--timeout", "500ms", "--home", t.TempDir(),
		"--stun", "stun:"+silent.String())
	if err == nil {
		t.Fatal("doctor succeeded although no STUN server answered")
	}
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if rep.OK || rep.STUN[0].Error == "" || !strings.Contains(findCheck(t, &rep, "STUN stun:").Status, statusFail) {
		t.Fatalf("report %+v", rep)
	}
	if c := findExact(t, &rep, "STUN"); c.Status != statusFail || !strings.Contains(c.Fix, "UDP may be blocked") {
		t.Fatalf("summary %+v", c)
	}
}

func TestDoctorDataDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permissions are ACLs on Windows")
	}
	if os.Getuid() == 0 {
		// root is not stopped by modes, but the check reads modes only: fine.
		t.Log("running as root")
	}
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string)
		status string
		want   string
	}{
		{"missing", func(t *testing.T, dir string) {}, statusOK, "will be created"},
		{"private", func(t *testing.T, dir string) {
			doctorMkdir(t, dir, 0o700)
			doctorMkdir(t, filepath.Join(dir, "keys"), 0o700)
			doctorWriteFile(t, filepath.Join(dir, "keys", "identity"), 0o600)
		}, statusOK, "private to you"},
		{"readable by others", func(t *testing.T, dir string) { doctorMkdir(t, dir, 0o755) }, statusWarn, "(0755)"},
		{"writable by others", func(t *testing.T, dir string) { doctorMkdir(t, dir, 0o777) }, statusFail, "(0777)"},
		{"key file readable", func(t *testing.T, dir string) {
			doctorMkdir(t, dir, 0o700)
			doctorMkdir(t, filepath.Join(dir, "keys"), 0o700)
			doctorWriteFile(t, filepath.Join(dir, "keys", "identity"), 0o644)
		}, statusWarn, "identity (0644)"},
		{"not a directory", func(t *testing.T, dir string) { doctorWriteFile(t, dir, 0o600) }, statusFail, "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "rtcchat")
			tc.setup(t, dir)
			c, got := checkDataDir(dir, nil)
			if got != dir || c.Status != tc.status || !strings.Contains(c.Detail, tc.want) {
				t.Fatalf("got %+v for %s", c, got)
			}
			if c.Status != statusOK && c.Fix == "" {
				t.Fatal("no fix")
			}
		})
	}
	t.Run("RTCCHAT_HOME and --home", func(t *testing.T) {
		noKeyring(t)
		dir := filepath.Join(t.TempDir(), "env")
		t.Setenv(vault.HomeEnv, dir)
		out, err := execRootCtx(context.Background(), "doctor", "--json", "--stun", "none")
		var rep doctorReport
		if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil || rep.DataDir != dir {
			t.Fatalf("data dir %q, want %s (%v, %v)\n%s", rep.DataDir, dir, err, jerr, out)
		}
		flag := filepath.Join(t.TempDir(), "flag")
		out, err = execRootCtx(context.Background(), "doctor", "--json", "--stun", "none", "--home", flag)
		rep = doctorReport{}
		if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil || rep.DataDir != flag {
			t.Fatalf("--home did not win over %s: %q (%v, %v)", vault.HomeEnv, rep.DataDir, err, jerr)
		}
	})
	t.Run("unresolvable", func(t *testing.T) {
		c, _ := checkDataDir("", errors.New("no $HOME"))
		if c.Status != statusFail || !strings.Contains(c.Fix, "--home") {
			t.Fatalf("%+v", c)
		}
	})
}

func doctorMkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // not subject to umask
		t.Fatal(err)
	}
}

func doctorWriteFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestDoctorKeyringDisabled(t *testing.T) {
	t.Setenv(vault.NoKeyringEnv, "1")
	called := false
	c := checkKeyring(func(string, string) (string, error) { called = true; return "", nil }, time.Second)
	if c.Status != statusOK || !strings.Contains(c.Detail, vault.NoKeyringEnv) || called {
		t.Fatalf("%+v (keyring called: %v)", c, called)
	}
}

func TestDoctorKeyringTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	start := time.Now()
	c := checkKeyring(func(string, string) (string, error) { <-block; return "", nil }, 200*time.Millisecond)
	if c.Status != statusWarn || !strings.Contains(c.Detail, "did not answer") {
		t.Fatalf("%+v", c)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v", el)
	}
}

// TestDoctorKeyringReal runs the keyring check through go-keyring against no
// D-Bus at all (unavailable) and then against a real Secret Service: a
// private dbus-daemon with gnome-keyring-daemon, started here.
func TestDoctorKeyringReal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service test needs Linux")
	}
	noKeyring(t)
	if c := checkKeyring(gokeyring.Get, 5*time.Second); c.Status != statusWarn || !strings.HasPrefix(c.Detail, "unavailable") {
		t.Fatalf("without D-Bus: %+v", c)
	}

	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install dbus gnome-keyring): cannot test a real Secret Service", bin)
		}
	}
	dir := t.TempDir()
	// A bus without service activation, so that no other keyring daemon is
	// started behind our back before ours has claimed its name.
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600); err != nil {
		t.Fatal(err)
	}
	bus := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	stdout, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Start(); err != nil {
		t.Skipf("cannot start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { bus.Process.Kill(); bus.Wait() })
	addrCh := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addrCh <- strings.TrimSpace(line)
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(10 * time.Second):
		t.Skip("dbus-daemon printed no address")
	}
	if addr == "" {
		t.Skip("dbus-daemon printed no address")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	gk := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	gk.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_RUNTIME_DIR="+dir)
	gk.Stdin = strings.NewReader("test-password")
	if err := gk.Start(); err != nil {
		t.Skipf("cannot start gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() { gk.Process.Kill(); gk.Wait() })

	// The daemon needs a moment to claim its bus name.
	deadline := time.Now().Add(10 * time.Second)
	var last check
	for time.Now().Before(deadline) {
		last = checkKeyring(gokeyring.Get, 5*time.Second)
		if last.Status == statusOK {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last.Status != statusOK || !strings.Contains(last.Detail, "available") {
		t.Fatalf("with gnome-keyring: %+v", last)
	}
	// Read-only: the probe item was not created.
	if _, err := gokeyring.Get(keyringProbeService, keyringProbeUser); !errors.Is(err, gokeyring.ErrNotFound) {
		t.Fatalf("probe item: %v", err)
	}
}

func TestDoctorHelp(t *testing.T) {
	out, err := execRootCtx(context.Background(), "doctor", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--stun", "--turn", "--json", "--timeout", "--home", "symmetric"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(out, "--local") {
		t.Error("hidden flag shown")
	}
}

func TestDoctorIPv6(t *testing.T) {
	noKeyring(t)
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	srv, err := turn.NewServer(turn.ServerConfig{Realm: relayRealm, PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: pc}}, LoggerFactory: quietLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	v6 := "stun:" + pc.LocalAddr().String()
	v4 := startTestTURN(t, "127.0.0.1", "u", "p")

	out, err := execRootCtx(context.Background(), "doctor", "--json", "--timeout", "1s", "--home", t.TempDir(),
		"--stun", "stun:"+v4.String(), "--stun", v6)
	var rep doctorReport
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		t.Fatalf("bad JSON: %v (%v)\n%s", jerr, err, out)
	}
	if len(rep.PublicIPv6) != 1 || !strings.HasPrefix(rep.PublicIPv6[0], "[::1]:") || len(rep.PublicEndpoints) != 1 {
		t.Fatalf("IPv6 endpoints %v, IPv4 endpoints %v", rep.PublicIPv6, rep.PublicEndpoints)
	}
	if c := findExact(t, &rep, "IPv6"); c.Status != statusOK || !strings.Contains(c.Detail, "works") || !strings.Contains(c.Detail, "own address") {
		t.Fatalf("IPv6 check %+v", c)
	}
	if rep.STUN6[0].Error == "" || rep.STUN6[1].Mapped == "" {
		t.Fatalf("stun_ipv6 %+v", rep.STUN6)
	}

	// Only the IPv6 server: IPv4 finds nothing, but that is no failure.
	out, err = execRootCtx(context.Background(), "doctor", "--json", "--timeout", "1s", "--home", t.TempDir(), "--stun", v6)
	if err != nil {
		t.Fatalf("doctor failed although IPv6 works: %v\n%s", err, out)
	}
	rep = doctorReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if c := findExact(t, &rep, "STUN"); c.Status != statusWarn || !strings.Contains(c.Detail, "IPv6 works") {
		t.Fatalf("summary %+v", c)
	}
}

func TestDoctorMappingCheck(t *testing.T) {
	for _, tc := range []struct {
		m       netcheck.MappingResult
		relayOK bool
		status  string
		fix     string
	}{
		{netcheck.MappingResult{Kind: netcheck.MappingEndpointIndependent}, false, statusOK, ""},
		{netcheck.MappingResult{Kind: netcheck.MappingEndpointIndependent, SameServerIP: true}, false, statusWarn, "different IP addresses"},
		{netcheck.MappingResult{Kind: netcheck.MappingEndpointDependent}, false, statusWarn, "run 'rtcchat relay'"},
		{netcheck.MappingResult{Kind: netcheck.MappingEndpointDependent}, true, statusWarn, "relay checked below works"},
		{netcheck.MappingResult{Kind: netcheck.MappingUnknown}, false, statusWarn, "add one with --stun"},
	} {
		c := mappingCheck(tc.m, tc.relayOK)
		if c.Status != tc.status || !strings.Contains(c.Fix, tc.fix) || (tc.fix == "" && c.Fix != "") {
			t.Errorf("%s (relay %v): %+v", tc.m.Kind, tc.relayOK, c)
		}
	}
}

// Without a D-Bus session the doctor's keyring check reports the keyring
// unavailable and starts no bus (godbus would autolaunch one that outlives
// the doctor).
func TestDoctorKeyringNoSessionBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("D-Bus session bus: Linux")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if vault.CheckSessionBus() == nil {
		t.Skip("/run/user/UID/bus exists: a session bus is running for this user")
	}
	c := checkKeyring(keyringGetNoAutolaunch, 5*time.Second)
	if c.Status != statusWarn || !strings.Contains(c.Detail, "D-Bus session bus") {
		t.Fatalf("keyring check without a session bus: %+v", c)
	}
}
