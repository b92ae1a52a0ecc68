package vault

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/rtcchat/rtcchat/handshake"
)

// Fingerprint identifies an identity: the domain-separated SHA-256 over both
// public keys defined by package handshake (docs/PROTOCOL.md).
type Fingerprint [32]byte

// String is the fingerprint as 64 lowercase hex digits in groups of four.
func (f Fingerprint) String() string {
	h := hex.EncodeToString(f[:])
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// Hex is the fingerprint as 64 lowercase hex digits.
func (f Fingerprint) Hex() string { return hex.EncodeToString(f[:]) }

// ParseFingerprint accepts 64 hex digits, ignoring spaces, colons and dashes.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', ':', '-', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	if len(clean) != 64 {
		return f, fmt.Errorf("a fingerprint has 64 hex digits, got %d", len(clean))
	}
	if _, err := hex.Decode(f[:], []byte(strings.ToLower(clean))); err != nil {
		return f, fmt.Errorf("fingerprint is not hexadecimal: %v", err)
	}
	return f, nil
}

// FingerprintOf returns the fingerprint of a public identity.
func FingerprintOf(p *handshake.PublicIdentity) Fingerprint { return Fingerprint(p.Fingerprint()) }

// parsePublic strictly decodes a serialised public identity.
func parsePublic(b []byte) (*handshake.PublicIdentity, Fingerprint, error) {
	p, err := handshake.ParsePublicIdentity(b)
	if err != nil {
		return nil, Fingerprint{}, err
	}
	return p, FingerprintOf(p), nil
}

// parseIdentity decodes a serialised secret identity (handshake.ParseIdentity).
func parseIdentity(b []byte) (*handshake.Identity, error) { return handshake.ParseIdentity(b) }

// marshalIdentity serialises id into a locked secret buffer and wipes the
// intermediate copy.
func marshalIdentity(id *handshake.Identity) (*secret, error) {
	b, err := id.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return secretFrom(b), nil
}
