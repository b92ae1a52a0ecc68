package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// jsonPeer is a running `rtcchat offer|answer --json` whose events are read
// line by line from stdout.
type jsonPeer struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan map[string]any
	stderr *syncBuffer
	stdout *syncBuffer // every line printed, for failure reports
	exited chan error
	// backlog holds events read while waiting for others, oldest first.
	backlog []map[string]any
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var chatLoopback = []string{"--json", "--no-qr", "--loopback", "--interface", "lo", "--stun", "none", "--network", "udp4"}

func startPeer(t *testing.T, ctx context.Context, name, home string, args ...string) *jsonPeer {
	t.Helper()
	p := &jsonPeer{name: name, events: make(chan map[string]any, 1000), stderr: &syncBuffer{}, stdout: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.CommandContext(ctx, rtcchatBinary(t), args...)
	p.cmd.Env = append(os.Environ(), "RTCCHAT_HOME="+home, "RTCCHAT_PASSPHRASE=correct horse battery staple", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/rtcchat-test-no-bus")
	p.cmd.Stderr = p.stderr
	var stdout io.ReadCloser
	p.stdin, stdout = startPiped(t, p.cmd)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.stdout.Write(append(sc.Bytes(), '\n'))
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				p.events <- ev
			}
		}
		close(p.events)
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", p.name, p.stdout.String(), p.name, p.stderr.String())
		}
	})
	return p
}

// expect returns the first event named kind for which ok holds, whether it
// came before or after others.
func (p *jsonPeer) expect(t *testing.T, kind string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	match := func(ev map[string]any) bool { return ev["event"] == kind && (ok == nil || ok(ev)) }
	for i, ev := range p.backlog {
		if match(ev) {
			p.backlog = append(p.backlog[:i], p.backlog[i+1:]...)
			return ev
		}
	}
	timeout := time.After(90 * time.Second)
	for {
		select {
		case ev, open := <-p.events:
			if !open {
				t.Fatalf("%s exited while waiting for %q", p.name, kind)
			}
			if match(ev) {
				return ev
			}
			if ev["event"] == "disconnected" && kind != "disconnected" {
				t.Fatalf("%s disconnected while waiting for %q: %v", p.name, kind, ev)
			}
			p.backlog = append(p.backlog, ev)
		case <-timeout:
			t.Fatalf("%s: no %q event", p.name, kind)
		}
	}
}

func (p *jsonPeer) say(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("%s stdin: %v", p.name, err)
	}
}

// waitExit waits for the process to end and returns its error.
func (p *jsonPeer) waitExit(t *testing.T) error {
	t.Helper()
	for range p.events {
	}
	select {
	case err := <-p.exited:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit", p.name)
	}
	return nil
}

// connectPeers runs the blob exchange between two processes through pipes.
func connectPeers(t *testing.T, ctx context.Context, homeA, homeB string, extraA, extraB []string) (*jsonPeer, *jsonPeer) {
	t.Helper()
	a := startPeer(t, ctx, "alice", homeA, append(append([]string{"offer"}, chatLoopback...), extraA...)...)
	offer := a.expect(t, "offer", nil)["blob"].(string)
	b := startPeer(t, ctx, "bob", homeB, append(append(append([]string{"answer"}, chatLoopback...), extraB...), "-")...)
	b.say(t, offer)
	answer := b.expect(t, "answer", nil)["blob"].(string)
	a.say(t, answer)
	return a, b
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func makeFile(t *testing.T, dir string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, "big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// Two rtcchat processes over loopback, driven through pipes with --json:
// blobs swapped, messages both ways with delivery acks, a 64 MiB file with
// its checksum, and /quit.
func TestChatTwoProcesses(t *testing.T) {
	requireLoopbackLo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	homeA, homeB := t.TempDir(), t.TempDir()
	recv := t.TempDir()
	a, b := connectPeers(t, ctx, homeA, homeB, []string{"--name", "bob"}, []string{"--name", "alice", "--accept-files", recv})
	ca := a.expect(t, "connected", nil)
	cb := b.expect(t, "connected", nil)
	if ca["level"] != "quantum" || ca["session_code"] != cb["session_code"] || ca["peer"] != "bob" || cb["peer"] != "alice" {
		t.Fatalf("connected events differ or are wrong:\n%v\n%v", ca, cb)
	}
	if ca["first_contact"] != true || ca["verified"] != false {
		t.Fatalf("first contact not reported: %v", ca)
	}
	if !strings.Contains(ca["tls"].(string), "TLS_CHACHA20_POLY1305_SHA256") || !strings.Contains(ca["tls"].(string), "X25519MLKEM768") {
		t.Fatalf("inner TLS: %v", ca["tls"])
	}

	for i := 0; i < 5; i++ {
		a.say(t, fmt.Sprintf("hello bob %d", i))
		b.say(t, fmt.Sprintf("hello alice %d", i))
	}
	for i := 0; i < 5; i++ {
		want := fmt.Sprintf("hello bob %d", i)
		b.expect(t, "message", func(ev map[string]any) bool { return ev["text"] == want })
		want = fmt.Sprintf("hello alice %d", i)
		a.expect(t, "message", func(ev map[string]any) bool { return ev["text"] == want })
	}
	for i := 0; i < 5; i++ {
		a.expect(t, "delivered", nil)
		b.expect(t, "delivered", nil)
	}

	size := int64(64 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	src := makeFile(t, t.TempDir(), size)
	a.say(t, "/send "+src)
	done := b.expect(t, "file_done", nil)
	a.expect(t, "file_done", nil)
	if got := sha256File(t, done["path"].(string)); got != sha256File(t, src) {
		t.Fatal("received file differs")
	}
	if int64(done["size"].(float64)) != size {
		t.Fatalf("size %v", done["size"])
	}

	a.say(t, "/quit")
	a.expect(t, "disconnected", nil)
	if ev := b.expect(t, "disconnected", nil); ev["error"] != "" {
		t.Fatalf("bob saw an unclean end: %v", ev)
	}
	if err := a.waitExit(t); err != nil {
		t.Fatalf("alice exit: %v", err)
	}
	b.stdin.Close()
	if err := b.waitExit(t); err != nil {
		t.Fatalf("bob exit: %v", err)
	}
	// The contact books remember each other.
	for _, home := range []string{homeA, homeB} {
		if _, err := os.Stat(filepath.Join(home, "contacts")); err != nil {
			t.Fatalf("no contact book in %s: %v", home, err)
		}
	}
}

// Kill one peer mid-conversation and mid-transfer: the other reports it,
// keeps its undelivered messages (sealed in its vault), and after a new blob
// exchange they arrive exactly once; no file appears under its final name.
func TestChatKillAndResume(t *testing.T) {
	requireLoopbackLo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	homeA, homeB, recv := t.TempDir(), t.TempDir(), t.TempDir()
	fast := []string{"--peer-timeout", "4s"}
	a, b := connectPeers(t, ctx, homeA, homeB, append([]string{"--name", "bob"}, fast...), append([]string{"--name", "alice", "--accept-files", recv}, fast...))
	a.expect(t, "connected", nil)
	b.expect(t, "connected", nil)
	a.say(t, "before the crash")
	b.expect(t, "message", func(ev map[string]any) bool { return ev["text"] == "before the crash" })
	a.expect(t, "delivered", nil)

	src := makeFile(t, t.TempDir(), 16<<20)
	a.say(t, "/send "+src)
	b.expect(t, "file_progress", nil)
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.say(t, "written after the crash 1")
	a.say(t, "written after the crash 2")
	a.expect(t, "file_failed", nil)
	lost := a.expect(t, "disconnected", nil)
	if lost["error"] == "" || lost["pending"].(float64) < 2 {
		t.Fatalf("alice's report of the lost peer: %v", lost)
	}
	a.waitExit(t)
	if _, err := os.Stat(filepath.Join(recv, "big.bin")); !os.IsNotExist(err) {
		t.Fatalf("a partial file stands under the final name: %v", err)
	}

	// A new blob exchange with the same contacts.
	a2, b2 := connectPeers(t, ctx, homeA, homeB, []string{"--name", "bob"}, []string{"--name", "alice"})
	if ev := a2.expect(t, "connected", nil); ev["first_contact"] != false {
		t.Fatalf("bob not remembered: %v", ev)
	}
	b2.expect(t, "connected", nil)
	for _, want := range []string{"written after the crash 1", "written after the crash 2"} {
		b2.expect(t, "message", func(ev map[string]any) bool { return ev["text"] == want })
	}
	a2.expect(t, "delivered", nil)
	a2.expect(t, "delivered", nil)
	a2.say(t, "/pending")
	a2.expect(t, "pending", func(ev map[string]any) bool { return ev["count"] == float64(0) })
	a2.say(t, "/quit")
	b2.expect(t, "disconnected", nil)
	b2.stdin.Close()
	b2.waitExit(t)
	// Nothing arrived twice.
	for _, ev := range b2.backlog {
		if ev["event"] == "message" {
			t.Fatalf("bob saw an extra message: %v", ev)
		}
	}
}

// A known contact that comes back with another identity is refused loudly.
func TestChatIdentityChangeRefused(t *testing.T) {
	requireLoopbackLo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	homeA, homeB, homeMallory := t.TempDir(), t.TempDir(), t.TempDir()
	a, b := connectPeers(t, ctx, homeA, homeB, []string{"--name", "bob"}, []string{"--name", "alice"})
	a.expect(t, "connected", nil)
	b.expect(t, "connected", nil)
	a.say(t, "/quit")
	a.waitExit(t)
	b.stdin.Close()
	b.waitExit(t)

	// "bob" again, but with a different identity.
	a2, m := connectPeers(t, ctx, homeA, homeMallory, []string{"--name", "bob"}, []string{"--name", "alice"})
	err := a2.waitExit(t)
	if err == nil {
		t.Fatal("alice accepted a changed identity for bob")
	}
	if !strings.Contains(a2.stderr.String(), "IDENTITY CHANGED") {
		t.Fatalf("no loud warning:\n%s", a2.stderr.String())
	}
	m.cmd.Process.Kill()
}

// If the isolated key process dies, the chat says so and stops.
func TestChatKeyProcessDies(t *testing.T) {
	requireLoopbackLo(t)
	if _, err := exec.LookPath("pgrep"); err != nil {
		t.Skip("pgrep is not installed: cannot find the key process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, b := connectPeers(t, ctx, t.TempDir(), t.TempDir(), []string{"--name", "bob"}, []string{"--name", "alice"})
	a.expect(t, "connected", nil)
	b.expect(t, "connected", nil)
	out, err := exec.Command("pgrep", "-P", fmt.Sprint(a.cmd.Process.Pid)).Output()
	if err != nil {
		t.Fatalf("no key process below alice (pid %d): %v", a.cmd.Process.Pid, err)
	}
	pids := strings.Fields(string(out))
	if len(pids) != 1 {
		t.Fatalf("alice has %d children, want the one key process: %v", len(pids), pids)
	}
	if err := exec.Command("kill", "-9", pids[0]).Run(); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "disconnected", nil)
	a.waitExit(t)
	if !strings.Contains(a.stderr.String(), "key process stopped") {
		t.Fatalf("alice did not say why:\n%s", a.stderr.String())
	}
	b.expect(t, "disconnected", nil)
}

// Without --name, and with nobody to ask, an identity that is not one of our
// contacts is refused: it may be someone claiming to be a contact.
func TestChatUnknownIdentityNeedsName(t *testing.T) {
	requireLoopbackLo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := connectPeers(t, ctx, t.TempDir(), t.TempDir(), nil, []string{"--name", "alice"})
	if err := a.waitExit(t); err == nil {
		t.Fatal("an unknown identity was admitted without a name")
	}
	if !strings.Contains(a.stderr.String(), "is not one of your contacts") {
		t.Fatalf("no clear refusal:\n%s", a.stderr.String())
	}
	b.cmd.Process.Kill()
}
