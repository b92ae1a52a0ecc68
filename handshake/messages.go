package handshake

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/rtcchat/rtcchat/handshake/falcon"
	"github.com/rtcchat/rtcchat/internal/pqkem"
)

// Handshake message formats (docs/PROTOCOL.md §2.4). Every message starts with
// the protocol version byte and a type byte; all fields have fixed sizes that
// depend only on the negotiated level, except the FALCON-1024 signature, which
// carries a 2-byte big-endian length bounded by falcon.MaxSignatureSize.
const (
	// Version is the handshake protocol version byte. Version 2 sent Init
	// before the inner TLS session, without the initiator's identity;
	// version 3 has the initiator sign only its own offer, identity and Init
	// keys, so that it can sign when the offer is made (PROTOCOL.md §2.4).
	Version = 0x03

	TypeInit     = 0x01 // initiator → responder
	TypeResponse = 0x02 // responder → initiator
	TypeFinish   = 0x03 // initiator → responder
	TypeConfirm  = 0x04 // responder → initiator
	TypeAbort    = 0x7F // either way, unauthenticated, ends the handshake

	// MaxMessageSize bounds every handshake message; larger input is rejected
	// before parsing.
	MaxMessageSize = 8192

	x25519Size   = 32
	hashSize     = sha256.Size
	macSize      = sha256.Size
	kemEKSize    = pqkem.EncapsulationKeySize
	kemCTSize    = pqkem.CiphertextSize
	headerLen    = 2
	falconLenLen = 2
	nonceSize    = 32
)

// initMsg is TypeInit: level || blobs hash || binding hash || ephemeral
// X25519 || [ML-KEM-1024 encapsulation key, level ≥ enhanced]. It carries no
// identity: it may travel before the inner TLS session.
type initMsg struct {
	level       Level
	blobsHash   [hashSize]byte
	bindingHash [hashSize]byte
	ephemeral   []byte // 32
	kemKey      []byte // kemEKSize or empty
}

// responseMsg is TypeResponse: level || previous transcript hash || identity
// || ephemeral X25519 || ratchet X25519 || nonce commitment || [ML-KEM-1024 encapsulation key ||
// ML-KEM-1024 ciphertext to the initiator's key, level ≥ enhanced] ||
// Ed25519 signature || [FALCON-1024 signature, level = quantum].
type responseMsg struct {
	level     Level
	prevHash  [hashSize]byte
	identity  []byte
	ephemeral []byte
	ratchet   []byte
	nonceCmt  [hashSize]byte // SHA-256(labelNonce || N_R), revealed in Confirm
	kemKey    []byte
	kemCT     []byte
	edSig     []byte
	falconSig []byte
	signedLen int // length of the prefix before the signatures
}

// finishMsg is TypeFinish: previous transcript hash || exporter binding ||
// identity || [ML-KEM-1024 ciphertext to the responder's key, level ≥
// enhanced] || Ed25519 signature || [FALCON-1024 signature] || MAC.
type finishMsg struct {
	prevHash  [hashSize]byte
	exporter  [hashSize]byte // XB: the initiator's view of the inner TLS exporter
	identity  []byte
	kemCT     []byte
	edSig     []byte
	falconSig []byte
	mac       [macSize]byte
	th3Len    int // length of the prefix hashed into th3 (up to the signatures)
	macLen    int // length of the prefix covered by the MAC
}

// confirmMsg is TypeConfirm: previous transcript hash || responder nonce N_R
// (opening the commitment in Response) || MAC.
type confirmMsg struct {
	prevHash [hashSize]byte
	nonce    [nonceSize]byte
	mac      [macSize]byte
	macLen   int
}

// Abort codes (docs/PROTOCOL.md §2.4). They tell the peer why the handshake
// stopped; being unauthenticated, they never weaken a check.
const (
	AbortInternal     = 0x00
	AbortFormat       = 0x01
	AbortBlobMismatch = 0x02
	AbortBinding      = 0x03
	AbortLevel        = 0x04
	AbortIdentity     = 0x05
	AbortSignature    = 0x06
	AbortTranscript   = 0x07
	AbortConfirmation = 0x08
	AbortTimeout      = 0x09
)

func header(t byte) []byte { return []byte{Version, t} }

func appendFalconSig(b, sig []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(sig)))
	return append(b, sig...)
}

func (m *initMsg) marshal() []byte {
	b := header(TypeInit)
	b = append(b, byte(m.level))
	b = append(b, m.blobsHash[:]...)
	b = append(b, m.bindingHash[:]...)
	b = append(b, m.ephemeral...)
	return append(b, m.kemKey...)
}

func (m *responseMsg) marshalHead() []byte {
	b := header(TypeResponse)
	b = append(b, byte(m.level))
	b = append(b, m.prevHash[:]...)
	b = append(b, m.identity...)
	b = append(b, m.ephemeral...)
	b = append(b, m.ratchet...)
	b = append(b, m.nonceCmt[:]...)
	b = append(b, m.kemKey...)
	return append(b, m.kemCT...)
}

func (m *responseMsg) marshal() []byte {
	b := append(m.marshalHead(), m.edSig...)
	if m.level >= LevelQuantum {
		b = appendFalconSig(b, m.falconSig)
	}
	return b
}

func (m *finishMsg) marshalHead() []byte {
	b := header(TypeFinish)
	b = append(b, m.prevHash[:]...)
	b = append(b, m.exporter[:]...)
	b = append(b, m.identity...)
	return append(b, m.kemCT...)
}

func (m *finishMsg) marshalMACed(level Level) []byte {
	b := append(m.marshalHead(), m.edSig...)
	if level >= LevelQuantum {
		b = appendFalconSig(b, m.falconSig)
	}
	return b
}

func (m *confirmMsg) marshalMACed() []byte {
	b := header(TypeConfirm)
	b = append(b, m.prevHash[:]...)
	return append(b, m.nonce[:]...)
}

func (m *confirmMsg) marshal() []byte { return append(m.marshalMACed(), m.mac[:]...) }

func abortMessage(code byte) []byte { return []byte{Version, TypeAbort, code} }

// reader is a bounded cursor over a message.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || len(r.b)-r.off < n {
		r.bad = true
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) hash(dst *[hashSize]byte) { copy(dst[:], r.take(hashSize)) }

func (r *reader) falconSig() []byte {
	l := r.take(falconLenLen)
	if r.bad {
		return nil
	}
	n := int(binary.BigEndian.Uint16(l))
	if n == 0 || n > falcon.MaxSignatureSize {
		r.bad = true
		return nil
	}
	return r.take(n)
}

func (r *reader) done(what string) error {
	if r.bad {
		return fmt.Errorf("%w: %s truncated or with an out-of-range length", ErrMessageFormat, what)
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%w: %s has %d trailing bytes", ErrMessageFormat, what, len(r.b)-r.off)
	}
	return nil
}

// messageType checks the common header and the size bound and returns the
// message type. An Abort message is turned into ErrPeerAborted here.
func messageType(b []byte) (byte, error) {
	if len(b) > MaxMessageSize {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrMessageTooLarge, len(b), MaxMessageSize)
	}
	if len(b) < headerLen {
		return 0, fmt.Errorf("%w: %d bytes", ErrMessageFormat, len(b))
	}
	if b[0] != Version {
		return 0, fmt.Errorf("%w: 0x%02x", ErrMessageVersion, b[0])
	}
	if b[1] == TypeAbort {
		if len(b) != 3 {
			return 0, fmt.Errorf("%w: abort message of %d bytes", ErrMessageFormat, len(b))
		}
		return 0, fmt.Errorf("%w: %s", ErrPeerAborted, abortReason(b[2]))
	}
	switch b[1] {
	case TypeInit, TypeResponse, TypeFinish, TypeConfirm:
		return b[1], nil
	}
	return 0, fmt.Errorf("%w: unknown message type 0x%02x", ErrMessageFormat, b[1])
}

func abortReason(code byte) string {
	switch code {
	case AbortFormat:
		return "malformed message"
	case AbortBlobMismatch:
		return "blob mismatch"
	case AbortBinding:
		return "channel binding mismatch"
	case AbortLevel:
		return "security level"
	case AbortIdentity:
		return "identity rejected"
	case AbortSignature:
		return "signature rejected"
	case AbortTranscript:
		return "transcript mismatch"
	case AbortConfirmation:
		return "key confirmation failed"
	case AbortTimeout:
		return "timeout"
	}
	return fmt.Sprintf("code 0x%02x", code)
}

// The level decides which fields are present, so decoding a message after
// Init needs the level the receiver expects; a message whose level byte
// differs is rejected as a downgrade before its fields are parsed.

func parseInit(b []byte, level Level) (*initMsg, error) {
	if t, err := messageType(b); err != nil {
		return nil, err
	} else if t != TypeInit {
		return nil, fmt.Errorf("%w: got type 0x%02x, want Init", ErrUnexpectedMessage, t)
	}
	r := &reader{b: b, off: headerLen}
	m := &initMsg{}
	lv := r.take(1)
	if r.bad {
		return nil, r.done("Init")
	}
	m.level = Level(lv[0])
	if m.level != level {
		return nil, fmt.Errorf("%w: Init names level %v, the blobs give %v", ErrDowngrade, m.level, level)
	}
	r.hash(&m.blobsHash)
	r.hash(&m.bindingHash)
	m.ephemeral = r.take(x25519Size)
	if m.level >= LevelEnhanced {
		m.kemKey = r.take(kemEKSize)
	}
	return m, r.done("Init")
}

func parseResponse(b []byte, level Level) (*responseMsg, error) {
	if t, err := messageType(b); err != nil {
		return nil, err
	} else if t != TypeResponse {
		return nil, fmt.Errorf("%w: got type 0x%02x, want Response", ErrUnexpectedMessage, t)
	}
	r := &reader{b: b, off: headerLen}
	m := &responseMsg{}
	lv := r.take(1)
	if r.bad {
		return nil, r.done("Response")
	}
	m.level = Level(lv[0])
	if m.level != level {
		return nil, fmt.Errorf("%w: Response names level %v, negotiated %v", ErrDowngrade, m.level, level)
	}
	r.hash(&m.prevHash)
	m.identity = r.take(PublicIdentitySize)
	m.ephemeral = r.take(x25519Size)
	m.ratchet = r.take(x25519Size)
	r.hash(&m.nonceCmt)
	if level >= LevelEnhanced {
		m.kemKey = r.take(kemEKSize)
		m.kemCT = r.take(kemCTSize)
	}
	m.signedLen = r.off
	m.edSig = r.take(ed25519.SignatureSize)
	if level >= LevelQuantum {
		m.falconSig = r.falconSig()
	}
	return m, r.done("Response")
}

func parseFinish(b []byte, level Level) (*finishMsg, error) {
	if t, err := messageType(b); err != nil {
		return nil, err
	} else if t != TypeFinish {
		return nil, fmt.Errorf("%w: got type 0x%02x, want Finish", ErrUnexpectedMessage, t)
	}
	r := &reader{b: b, off: headerLen}
	m := &finishMsg{}
	r.hash(&m.prevHash)
	r.hash(&m.exporter)
	m.identity = r.take(PublicIdentitySize)
	if level >= LevelEnhanced {
		m.kemCT = r.take(kemCTSize)
	}
	m.th3Len = r.off
	m.edSig = r.take(ed25519.SignatureSize)
	if level >= LevelQuantum {
		m.falconSig = r.falconSig()
	}
	m.macLen = r.off
	copy(m.mac[:], r.take(macSize))
	return m, r.done("Finish")
}

func parseConfirm(b []byte) (*confirmMsg, error) {
	if t, err := messageType(b); err != nil {
		return nil, err
	} else if t != TypeConfirm {
		return nil, fmt.Errorf("%w: got type 0x%02x, want Confirm", ErrUnexpectedMessage, t)
	}
	r := &reader{b: b, off: headerLen}
	m := &confirmMsg{}
	r.hash(&m.prevHash)
	copy(m.nonce[:], r.take(nonceSize))
	m.macLen = r.off
	copy(m.mac[:], r.take(macSize))
	return m, r.done("Confirm")
}
