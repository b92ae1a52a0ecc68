package main

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxPane is a program running in a real terminal under tmux.
type tmuxPane struct {
	session string
}

func startTmux(t *testing.T, env []string, args ...string) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it): cannot drive the terminal UI")
	}
	p := &tmuxPane{session: "rtcchat-test-" + strings.ReplaceAll(t.Name(), "/", "-")}
	exec.Command("tmux", "kill-session", "-t", p.session).Run()
	cmdline := "env " + strings.Join(env, " ") + " " + strings.Join(args, " ") + "; sleep 5"
	out, err := exec.Command("tmux", "new-session", "-d", "-s", p.session, "-x", "160", "-y", "45", cmdline).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", p.session).Run() })
	return p
}

func (p *tmuxPane) screen(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("tmux", "capture-pane", "-p", "-J", "-t", p.session).Output()
	if err != nil {
		t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

func (p *tmuxPane) keys(t *testing.T, text string) {
	t.Helper()
	if out, err := exec.Command("tmux", "send-keys", "-t", p.session, "-l", text).CombinedOutput(); err != nil {
		t.Fatalf("send-keys: %v\n%s", err, out)
	}
	if out, err := exec.Command("tmux", "send-keys", "-t", p.session, "Enter").CombinedOutput(); err != nil {
		t.Fatalf("send-keys: %v\n%s", err, out)
	}
}

// waitScreen waits until the screen matches re and returns the match.
func (p *tmuxPane) waitScreen(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := p.screen(t)
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("screen never matched %v:\n%s", re, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The terminal UI in a real terminal: the offer blob is read off the screen,
// the answer pasted in, messages typed and received, /quit.
func TestTUIInTmux(t *testing.T) {
	requireLoopbackLo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	homeA, homeB := t.TempDir(), t.TempDir()
	env := []string{"RTCCHAT_HOME=" + homeA, "RTCCHAT_PASSPHRASE=tui-test", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/rtcchat-test-no-bus", "TERM=xterm-256color"}
	args := []string{rtcchatBinary(t), "offer", "--name", "bob", "--no-qr", "--loopback", "--interface", "lo", "--stun", "none", "--network", "udp4"}
	pane := startTmux(t, env, args...)
	offer := pane.waitScreen(t, regexp.MustCompile(`(?m)^(rtc1\S+)\s*$`))[1]

	bob := startPeer(t, ctx, "bob", homeB, append(append([]string{"answer"}, chatLoopback...), "--name", "alice", "-")...)
	bob.say(t, offer)
	answer := bob.expect(t, "answer", nil)["blob"].(string)
	pane.keys(t, answer)

	// The status bar names the peer and the state of verification.
	pane.waitScreen(t, regexp.MustCompile(`rtcchat · bob · ⚠ unverified`))
	bob.expect(t, "connected", nil)

	pane.keys(t, "hello from the terminal")
	bob.expect(t, "message", func(ev map[string]any) bool { return ev["text"] == "hello from the terminal" })
	// Our line gets its delivery mark once bob acknowledged it.
	pane.waitScreen(t, regexp.MustCompile(`you hello from the terminal ✓`))

	bob.say(t, "greetings, terminal")
	pane.waitScreen(t, regexp.MustCompile(`bob greetings, terminal`))

	pane.keys(t, "/verify")
	pane.waitScreen(t, regexp.MustCompile(`if it matches, type /verify confirm`))

	pane.keys(t, "/quit")
	if ev := bob.expect(t, "disconnected", nil); ev["error"] != "" {
		t.Fatalf("bob saw an unclean end: %v", ev)
	}
}
