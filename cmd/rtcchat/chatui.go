package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtcchat/rtcchat/chat"
)

// uiOptions are the chat flags shared by offer, answer and demo.
type uiOptions struct {
	JSON       bool   // one JSON event per line on stdout
	Plain      bool   // line mode even on a terminal
	AcceptDir  string // accept offered files into this folder without asking
	AcceptMax  uint64 // ... when they are at most this large (0: any size)
	DownloadTo string // where /accept puts files
	Linger     time.Duration
}

// conversation is what the UIs need from a connected chat.
type conversation interface {
	Info() chat.Info
	SendText(string) (uint64, error)
	OfferFile(string) (uint64, error)
	AcceptFile(uint64, string) error
	DeclineFile(uint64) error
	Pending() []chat.PendingMessage
	MarkVerified() error
	Events() <-chan chat.Event
	Done() <-chan struct{}
	Err() error
	Close() error
}

const helpText = `Commands:
  /send PATH       offer a file to your peer
  /accept [ID]     accept an offered file (the latest if no ID)
  /decline [ID]    decline an offered file
  /verify          show the safety number to compare with your peer
  /verify confirm  record that the safety number matched
  /pending         list messages not yet delivered
  /quit            say goodbye and leave
  /help            this text
Anything else is sent as a message.`

// lineUI is the plain line mode: stdin lines are messages or commands, and
// stdout gets one line per event (human text, or JSON with --json).
type lineUI struct {
	conv   conversation
	out    io.Writer
	opts   uiOptions
	mu     sync.Mutex // serialises output lines
	offers offerList  // open incoming offers
	active map[uint64]bool
}

func runLineUI(conv conversation, in io.Reader, out io.Writer, opts uiOptions) error {
	u := &lineUI{conv: conv, out: out, opts: opts, active: map[uint64]bool{}}
	u.showConnected()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), chat.MaxTextSize+1024)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var lingerC <-chan time.Time
	for {
		select {
		case ev := <-conv.Events():
			u.event(ev)
			if ev.Kind == chat.EventDisconnected {
				return ev.Err // nil after a clean goodbye
			}
		case <-conv.Done():
			// Drain what is left, then leave.
			for {
				select {
				case ev := <-conv.Events():
					u.event(ev)
				default:
					return conv.Err()
				}
			}
		case line, ok := <-lines:
			if !ok {
				// End of input: wait for deliveries and transfers, then leave.
				lines = nil
				lingerC = time.After(opts.Linger)
				if u.idle() {
					return u.quit()
				}
				continue
			}
			if quit := u.input(line); quit {
				return u.quit()
			}
		case <-time.After(200 * time.Millisecond):
			if lines == nil && u.idle() {
				return u.quit()
			}
		case <-lingerC:
			u.say("warning", fmt.Sprintf("%d message(s) still undelivered after %s; they are kept and sent on the next connection", len(conv.Pending()), opts.Linger), nil)
			return u.quit()
		}
	}
}

func (u *lineUI) idle() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conv.Pending()) == 0 && len(u.active) == 0
}

func (u *lineUI) quit() error {
	u.conv.Close()
	// Report the disconnect event.
	for {
		select {
		case ev := <-u.conv.Events():
			u.event(ev)
			if ev.Kind == chat.EventDisconnected {
				return nil
			}
		case <-time.After(3 * time.Second):
			return nil
		}
	}
}

// say prints one line: text for people, or a JSON object with --json.
func (u *lineUI) say(kind, text string, fields map[string]any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.opts.JSON {
		obj := map[string]any{"event": kind, "time": time.Now().Format(time.RFC3339Nano)}
		if text != "" {
			obj["text"] = text
		}
		for k, v := range fields {
			obj[k] = v
		}
		b, _ := json.Marshal(obj)
		fmt.Fprintf(u.out, "%s\n", b)
		return
	}
	fmt.Fprintf(u.out, "%s %s\n", time.Now().Format("15:04:05"), text)
}

func idString(id uint64) string { return strconv.FormatUint(id, 16) }

func (u *lineUI) showConnected() {
	in := u.conv.Info()
	status := "UNVERIFIED: compare the safety number with /verify"
	if in.Verified {
		status = "verified"
	}
	if in.FirstContact {
		status = "first contact, " + status
	}
	u.say("connected", fmt.Sprintf("* connected to %s (%s) — %s", orUnnamed(in.PeerName), status, in.Path), map[string]any{
		"peer": in.PeerName, "fingerprint": in.PeerFingerprint, "verified": in.Verified,
		"first_contact": in.FirstContact, "level": in.Level, "path": in.Path, "dtls": in.DTLS,
		"tls": in.TLS, "ratchet": in.Ratchet, "session_code": in.SessionCode,
	})
	if !u.opts.JSON {
		u.say("", fmt.Sprintf("connected: %s", in.Path), nil)
		u.say("", fmt.Sprintf("  local  DTLS fingerprint sha-256 %s", fingerprintHex(in.LocalDTLSFingerprint)), nil)
		u.say("", fmt.Sprintf("  remote DTLS fingerprint sha-256 %s", fingerprintHex(in.PeerDTLSFingerprint)), nil)
		if in.TLS != "" {
			u.say("", "  inner "+in.TLS, nil)
		}
		u.say("", fmt.Sprintf("* security: %s; %s; session code %s; type /help for commands", in.Level, in.Ratchet, in.SessionCode), nil)
	}
}

func orUnnamed(name string) string {
	if name == "" {
		return "peer"
	}
	return name
}

// input handles one line typed by the user; it reports whether to quit.
func (u *lineUI) input(line string) bool {
	if strings.TrimSpace(line) == "" {
		return false
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		text := line
		if strings.HasPrefix(line, "//") {
			text = line[1:]
		}
		id, err := u.conv.SendText(text)
		if errors.Is(err, chat.ErrQueued) {
			u.say("queued", "* not connected: kept, and sent on the next connection: "+text, map[string]any{"id": idString(id), "text": text})
			return false
		}
		if err != nil {
			u.say("error", "! not sent: "+err.Error(), nil)
			return false
		}
		u.say("sent", "> "+text, map[string]any{"id": idString(id), "text": text})
		return false
	}
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/quit", "/exit", "/bye":
		return true
	case "/help":
		u.say("help", helpText, nil)
	case "/send":
		if arg == "" {
			u.say("error", "! usage: /send PATH", nil)
			break
		}
		id, err := u.conv.OfferFile(expandHome(arg))
		if err != nil {
			u.say("error", "! "+err.Error(), nil)
			break
		}
		u.mu.Lock()
		u.active[id] = true
		u.mu.Unlock()
		u.say("file_offer_sent", fmt.Sprintf("* offered %s, waiting for the peer to accept", filepath.Base(arg)), map[string]any{"id": idString(id), "path": arg})
	case "/accept", "/decline":
		id, ok := u.pickOffer(arg)
		if !ok {
			u.say("error", "! no such file offer", nil)
			break
		}
		var err error
		if cmd == "/accept" {
			err = u.conv.AcceptFile(id, u.downloadDir())
		} else {
			err = u.conv.DeclineFile(id)
			u.dropOffer(id)
		}
		if err != nil {
			u.say("error", "! "+err.Error(), nil)
		}
	case "/verify":
		in := u.conv.Info()
		if arg == "confirm" {
			if err := u.conv.MarkVerified(); err != nil {
				u.say("error", "! "+err.Error(), nil)
			} else {
				u.say("verified", fmt.Sprintf("* %s is now verified", orUnnamed(in.PeerName)), nil)
			}
			break
		}
		u.say("safety_number", fmt.Sprintf("* safety number (compare with %s, or scan each other's QR code, then /verify confirm):\n%s", orUnnamed(in.PeerName), in.SafetyNumber),
			map[string]any{"safety_number": in.SafetyNumber, "safety_qr": in.SafetyQR, "session_code": in.SessionCode})
		if !u.opts.JSON {
			u.mu.Lock()
			writeQR(u.out, in.SafetyQR)
			u.mu.Unlock()
		}
	case "/pending":
		p := u.conv.Pending()
		if len(p) == 0 {
			u.say("pending", "* everything was delivered", map[string]any{"count": 0})
		}
		for _, m := range p {
			u.say("pending", fmt.Sprintf("* pending since %s: %s", m.SentAt.Format("15:04:05"), m.Text), map[string]any{"id": idString(m.ID)})
		}
	default:
		u.say("error", "! unknown command "+cmd+" (/help lists them; start with // to send a line beginning with /)", nil)
	}
	return false
}

func (u *lineUI) downloadDir() string {
	if u.opts.DownloadTo != "" {
		return u.opts.DownloadTo
	}
	return "."
}

func (u *lineUI) pickOffer(arg string) (uint64, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.offers.pick(arg)
}

func (u *lineUI) dropOffer(id uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.offers.drop(id)
}

func (u *lineUI) event(ev chat.Event) {
	switch ev.Kind {
	case chat.EventMessage:
		u.say("message", "< "+lineText(ev.Text), map[string]any{"id": idString(ev.ID), "text": ev.Text, "sent_at": ev.Time.Format(time.RFC3339Nano)})
	case chat.EventDelivered:
		u.say("delivered", "* delivered "+idString(ev.ID), map[string]any{"id": idString(ev.ID)})
	case chat.EventFileOffered:
		f := ev.File
		u.mu.Lock()
		u.offers = append(u.offers, ev.ID)
		u.active[ev.ID] = true
		u.mu.Unlock()
		u.say("file_offered", fmt.Sprintf("* peer offers %s (%s): /accept or /decline", cleanText(f.Name), humanBytes(f.Size)),
			map[string]any{"id": idString(ev.ID), "name": f.Name, "size": f.Size})
		if u.opts.AcceptDir != "" && (u.opts.AcceptMax == 0 || f.Size <= u.opts.AcceptMax) {
			if err := u.conv.AcceptFile(ev.ID, u.opts.AcceptDir); err != nil {
				u.say("error", "! "+err.Error(), nil)
			}
		}
	case chat.EventFileProgress:
		f := ev.File
		u.say("file_progress", fmt.Sprintf("* %s %s", f.Name, progressLine(f)),
			map[string]any{"id": idString(ev.ID), "done": f.Done, "size": f.Size, "rate": f.Rate()})
	case chat.EventFileDone:
		f := ev.File
		u.mu.Lock()
		delete(u.active, ev.ID)
		u.mu.Unlock()
		u.dropOffer(ev.ID)
		if f.Incoming {
			u.say("file_done", fmt.Sprintf("* received %s (%s, SHA-256 verified) → %s", f.Name, humanBytes(f.Size), f.Path),
				map[string]any{"id": idString(ev.ID), "name": f.Name, "size": f.Size, "path": f.Path, "incoming": true})
		} else {
			u.say("file_done", fmt.Sprintf("* %s delivered (%s, SHA-256 verified by the peer)", f.Name, humanBytes(f.Size)),
				map[string]any{"id": idString(ev.ID), "name": f.Name, "size": f.Size, "incoming": false})
		}
	case chat.EventFileFailed:
		u.mu.Lock()
		delete(u.active, ev.ID)
		u.mu.Unlock()
		u.dropOffer(ev.ID)
		name := ""
		if ev.File != nil {
			name = ev.File.Name
		}
		u.say("file_failed", fmt.Sprintf("! transfer of %s failed: %s", cleanText(name), lineText(errString(ev.Err))), map[string]any{"id": idString(ev.ID), "name": name, "error": errString(ev.Err)})
	case chat.EventDisconnected:
		p := u.conv.Pending()
		text := "* disconnected"
		if ev.Err != nil {
			text = "! disconnected: " + ev.Err.Error()
		}
		if len(p) > 0 {
			text += fmt.Sprintf("; %d undelivered message(s) kept for the next connection", len(p))
		}
		u.say("disconnected", text, map[string]any{"error": errString(ev.Err), "pending": len(p)})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func progressLine(f *chat.FileStatus) string {
	pct := 100.0
	if f.Size > 0 {
		pct = float64(f.Done) * 100 / float64(f.Size)
	}
	return fmt.Sprintf("%5.1f%% %s of %s at %s/s, %s left", pct, humanBytes(f.Done), humanBytes(f.Size),
		humanBytes(uint64(f.Rate())), f.ETA().Round(time.Second))
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}
