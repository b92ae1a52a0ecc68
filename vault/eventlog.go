package vault

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
)

// EventKind names a security event. The log records that something happened
// and to whom (fingerprints, contact names), never a secret and never message
// content.
type EventKind string

const (
	EventIdentityCreated  EventKind = "identity-created"
	EventIdentityImported EventKind = "identity-imported"
	EventIdentityExported EventKind = "identity-exported"
	EventUnlockFailed     EventKind = "unlock-failed"
	EventHandshake        EventKind = "handshake"
	EventVerification     EventKind = "verification"
	EventIdentityChanged  EventKind = "identity-changed"
	EventContactPinned    EventKind = "contact-pinned"
	EventContactRenamed   EventKind = "contact-renamed"
	EventContactForgotten EventKind = "contact-forgotten"
	EventRejectedInput    EventKind = "rejected-input"
	EventKeyProcess       EventKind = "key-process"
	EventDamagedFile      EventKind = "damaged-file"
)

// Event is one line of the security log (logs/security.log, JSON lines).
type Event struct {
	Time   time.Time `json:"time"`
	Kind   EventKind `json:"event"`
	Peer   string    `json:"peer,omitempty"`   // a fingerprint (hex) or contact name
	Result string    `json:"result,omitempty"` // ok, refused, failed, ...
	Detail string    `json:"detail,omitempty"` // short human-readable context, no secrets
}

const (
	maxLogField = 256
	maxLogSize  = 1 << 20 // rotate to security.log.1 beyond this
)

// EventLog appends events to logs/security.log (0600), rotating it to
// security.log.1 when it grows beyond 1 MiB. Fields are truncated and control
// characters replaced, so rejected input cannot forge log lines.
type EventLog struct {
	mu   sync.Mutex
	path string
}

func newEventLog(dir string) *EventLog {
	return &EventLog{path: filepath.Join(dir, "security.log")}
}

// Path is the log file.
func (l *EventLog) Path() string { return l.path }

// Record appends e (Time defaults to now). Logging failures are returned but
// callers treat them as non-fatal.
func (l *EventLog) Record(e Event) error {
	if l == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	e.Peer, e.Result, e.Detail = sanitize(e.Peer), sanitize(e.Result), sanitize(e.Detail)
	e.Kind = EventKind(sanitize(string(e.Kind)))
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, err := os.Stat(l.path); err == nil && st.Size()+int64(len(line)) > maxLogSize {
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			return fmt.Errorf("vault: rotate %s: %w", l.path, err)
		}
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return fmt.Errorf("vault: open %s: %w", l.path, err)
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("vault: write %s: %w", l.path, err)
	}
	return nil
}

// RejectedInput records that input was refused, with a short description of
// why; the input itself is never logged.
func (l *EventLog) RejectedInput(what string, err error) {
	d := what
	if err != nil {
		d += ": " + err.Error()
	}
	l.Record(Event{Kind: EventRejectedInput, Result: "refused", Detail: d})
}

func sanitize(s string) string {
	if len(s) > maxLogField {
		s = s[:maxLogField]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, s)
}
