package main

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/rtc"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// rtcchatBinary builds the command once per test run.
func rtcchatBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rtcchat-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "rtcchat")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// proc is a running rtcchat whose stdout is read line by line.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
	mu     sync.Mutex
	out    []string
}

// startPiped starts cmd with pipes to its stdin and from its stdout.
func startPiped(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, io.ReadCloser) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdin, stdout
}

func start(t *testing.T, ctx context.Context, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.CommandContext(ctx, rtcchatBinary(t), args...), lines: make(chan string, 100)}
	// Each process has its own data directory and a passphrase-sealed identity.
	p.cmd.Env = append(os.Environ(), "RTCCHAT_HOME="+t.TempDir(), "RTCCHAT_PASSPHRASE=test passphrase", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/rtcchat-test-no-bus")
	p.cmd.Stderr = &p.stderr
	var stdout io.ReadCloser
	p.stdin, stdout = startPiped(t, p.cmd)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	return p
}

// blob waits for the line holding a blob.
func (p *proc) blob(t *testing.T) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%v ended without a blob; stderr:\n%s", p.cmd.Args, p.stderr.String())
			}
			if strings.HasPrefix(l, rtc.TextPrefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("%v printed no blob; stderr:\n%s", p.cmd.Args, p.stderr.String())
		}
	}
}

// finish ends the process's input (the chat then says goodbye), waits for
// it to exit and returns all it printed.
func (p *proc) finish(t *testing.T) string {
	t.Helper()
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		for range p.lines {
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		out := strings.Join(p.out, "\n")
		if err != nil {
			t.Fatalf("%v: %v\nstdout:\n%s\nstderr:\n%s", p.cmd.Args, err, out, p.stderr.String())
		}
		return out
	case <-time.After(60 * time.Second):
		t.Fatalf("%v did not finish; stderr:\n%s", p.cmd.Args, p.stderr.String())
	}
	return ""
}

var loopbackFlags = []string{"--name", "peer", "--loopback", "--interface", "lo", "--stun", "none", "--network", "udp4"}

// requireLoopbackLo skips tests that run peers on the "lo" interface where
// the loopback interface has another name.
func requireLoopbackLo(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the loopback interface is named lo only on Linux")
	}
}

func checkConnected(t *testing.T, name, out string) {
	t.Helper()
	if !strings.Contains(out, "connected: direct") || strings.Count(out, "DTLS fingerprint sha-256 ") != 2 {
		t.Fatalf("%s did not report the connection:\n%s", name, out)
	}
}

// Two rtcchat processes swap blobs through pipes and connect over loopback.
// The answer reaches the offerer broken over lines, after a damaged paste.
func TestTwoProcessesPipes(t *testing.T) {
	requireLoopbackLo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	off := start(t, ctx, append([]string{"offer"}, loopbackFlags...)...)
	offer := off.blob(t)
	ans := start(t, ctx, append([]string{"answer"}, append(loopbackFlags, "-")...)...)
	// The offer, as a chat app might deliver it: in three lines.
	io.WriteString(ans.stdin, "\n"+offer[:30]+"\n"+offer[30:60]+"\n"+offer[60:]+"\n")
	answer := ans.blob(t)
	damaged := []byte(answer)
	damaged[len(damaged)/2] ^= 1 // a different valid character
	if damaged[len(damaged)/2] == '0' || damaged[len(damaged)/2] == 'l' || damaged[len(damaged)/2] == 'I' || damaged[len(damaged)/2] == 'O' {
		damaged[len(damaged)/2] = '2'
	}
	io.WriteString(off.stdin, string(damaged)+"\n")
	io.WriteString(off.stdin, answer[:50]+"\n  "+answer[50:]+"\n")
	offOut, ansOut := off.finish(t), ans.finish(t)
	checkConnected(t, "offerer", offOut)
	checkConnected(t, "answerer", ansOut)
	if !strings.Contains(off.stderr.String(), "That answer cannot be used") {
		t.Fatalf("the damaged answer was not reported:\n%s", off.stderr.String())
	}
	// Each side's remote fingerprint is the other's local one.
	fp := func(out, which string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, which+" DTLS fingerprint") {
				return l[strings.LastIndex(l, " ")+1:]
			}
		}
		return ""
	}
	if fp(offOut, "local ") != fp(ansOut, "remote") || fp(ansOut, "local ") != fp(offOut, "remote") {
		t.Fatalf("fingerprints do not match:\n%s\n%s", offOut, ansOut)
	}
}

// The offerer reads the answer from --answer-file once it appears; the
// offer goes to the answerer as an argument.
func TestTwoProcessesAnswerFile(t *testing.T) {
	requireLoopbackLo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	file := filepath.Join(t.TempDir(), "answer.txt")
	off := start(t, ctx, append([]string{"offer", "--answer-file", file}, loopbackFlags...)...)
	offer := off.blob(t)
	ans := start(t, ctx, append(append([]string{"answer"}, loopbackFlags...), offer)...)
	answer := ans.blob(t)
	if err := os.WriteFile(file, []byte(answer+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkConnected(t, "offerer", off.finish(t))
	checkConnected(t, "answerer", ans.finish(t))
}

func TestAnswerRejectsDamagedOffer(t *testing.T) {
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"answer", "--stun", "none", "rtc1abcdefgh0"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "bad character at position 13") {
		t.Fatalf("got %v", err)
	}
}

func TestRTCFlags(t *testing.T) {
	cmd := newOfferCmd()
	if err := cmd.ParseFlags([]string{"--stun", "stun.example.org:3478", "--turn", "turn:u:p@relay.example:3478", "--ports", "50000-50100"}); err != nil {
		t.Fatal(err)
	}
	f := &rtcFlags{stun: []string{"stun.example.org:3478"}, turn: []string{"turn:u:p@relay.example:3478"}, ports: "50000-50100"}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.STUN) != 1 || cfg.STUN[0] != "stun:stun.example.org:3478" || cfg.TURN[0].Username != "u" || cfg.PortMin != 50000 || cfg.PortMax != 50100 {
		t.Fatalf("%+v", cfg)
	}
	f = &rtcFlags{stun: []string{"none"}}
	if cfg, _ := f.config(); len(cfg.STUN) != 0 {
		t.Fatalf("--stun none: %v", cfg.STUN)
	}
	for _, bad := range []*rtcFlags{{ports: "5-1"}, {ports: "x"}, {turn: []string{"turn:relay.example"}}} {
		if _, err := bad.config(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestWriteQR reads the terminal rendering back into an image, module by
// module, and has zbarimg (zbar-tools) scan it: what the terminal shows is a
// QR code that decodes to the blob.
func TestWriteQR(t *testing.T) {
	blob := "rtc1" + strings.Repeat("7Hq", 45)
	var b bytes.Buffer
	if err := writeQR(&b, blob); err != nil {
		t.Fatal(err)
	}
	// Each character cell is two modules: top and bottom.
	var rows [][]bool
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		line = strings.TrimPrefix(line, "\x1b[30;107m")
		line = strings.TrimSuffix(line, "\x1b[0m")
		var top, bottom []bool
		for _, r := range line {
			top = append(top, r == '█' || r == '▀')
			bottom = append(bottom, r == '█' || r == '▄')
		}
		rows = append(rows, top, bottom)
	}
	if len(rows) < 30 || len(rows[0]) < 30 {
		t.Fatalf("QR of %d x %d modules:\n%s", len(rows[0]), len(rows), b.String())
	}
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed (apt-get install zbar-tools): the QR code was drawn but not scanned")
	}
	const scale, margin = 6, 4
	w, h := len(rows[0]), len(rows)
	img := image.NewGray(image.Rect(0, 0, (w+2*margin)*scale, (h+2*margin)*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range rows {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					img.SetGray((x+margin)*scale+dx, (y+margin)*scale+dy, color.Gray{})
				}
			}
		}
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(zbar, "--quiet", "--raw", file).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != blob {
		t.Fatalf("scanned %q, want %q", got, blob)
	}
}
