package chat

import (
	"fmt"
	"sync"
)

// Info describes an established conversation for the user: who the peer is,
// whether they were verified, and what each layer negotiated.
type Info struct {
	PeerName        string // the contact's name ("" until named)
	PeerFingerprint string // the peer's identity fingerprint, formatted for reading
	FirstContact    bool   // the identity was pinned in this session
	Verified        bool   // the safety number was compared and confirmed
	SafetyNumber    string // long, order-independent; compare once per contact
	SafetyQR        string // the safety number's QR payload (handshake.SafetyQR)
	SessionCode     string // short, per session; read aloud to check this connection
	Level           string // security level of the handshake and ratchet
	Path            string // "direct" or "relay", with the candidate types
	DTLS            string // outer layer: DTLS fingerprints, shortened

	// LocalDTLSFingerprint and PeerDTLSFingerprint are the SHA-256
	// fingerprints of both DTLS certificates (bound into the handshake).
	LocalDTLSFingerprint, PeerDTLSFingerprint [32]byte
	TLS                                       string // inner TLS 1.3 layer ("" at the standard level)
	Ratchet                                   string // message layer
}

// Conversation is a connected, authenticated session with one contact.
type Conversation struct {
	*Session
	info     Info
	verifyFn func() error
	// safety computes Info.SafetyNumber on first need (nil: already in
	// info): it costs milliseconds of CPU that must not compete with the
	// set-up, and many conversations never show it.
	safety     func() string
	safetyOnce sync.Once
	mu         sync.Mutex // guards info after construction
}

// Info returns what the conversation negotiated. The first call computes
// the safety number (about 5 ms of CPU).
func (c *Conversation) Info() Info {
	c.safetyOnce.Do(func() {
		if c.safety != nil {
			n := c.safety()
			c.mu.Lock()
			c.info.SafetyNumber = n
			c.mu.Unlock()
		}
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// MarkVerified records that the user compared the safety number with the
// peer and it matched.
func (c *Conversation) MarkVerified() error {
	if c.verifyFn == nil {
		return fmt.Errorf("chat: this conversation has no contact book to record verification in")
	}
	if err := c.verifyFn(); err != nil {
		return err
	}
	c.mu.Lock()
	c.info.Verified = true
	c.mu.Unlock()
	return nil
}
