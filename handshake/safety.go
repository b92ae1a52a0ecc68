package handshake

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Safety numbers (docs/PROTOCOL.md §3.2).
const (
	labelSafetyNumber = "rtcchat safety number v1\x00"
	// safetyIterations slows down a search for an identity whose safety-number
	// half collides with a victim's (as Signal's numeric fingerprints do).
	safetyIterations = 5200
	// SafetyQRPrefix starts the QR payload of a safety number. The payload uses
	// only QR "alphanumeric" characters (digits, upper-case letters, ':').
	SafetyQRPrefix = "RTCSN1:"
)

// ErrSafetyMismatch means a scanned safety-number QR code belongs to a
// different pair of identities: do not trust this contact.
var (
	ErrSafetyMismatch = errors.New("handshake: safety number does not match: the identities differ from the scanned ones")
	ErrSafetyQR       = errors.New("handshake: not a valid rtcchat safety-number QR payload")
)

// safetyHalf is the 30-digit number of one identity: SHA-512 iterated
// safetyIterations times over the fingerprint, the first 30 bytes read as six
// 40-bit big-endian integers, each reduced mod 100000 to five digits.
func safetyHalf(p *PublicIdentity) string {
	fp := p.Fingerprint()
	d := sha512.New()
	d.Write([]byte(labelSafetyNumber))
	d.Write(fp[:])
	h := d.Sum(nil)
	for range safetyIterations {
		d.Reset()
		d.Write(h)
		d.Write(fp[:])
		h = d.Sum(h[:0])
	}
	var sb strings.Builder
	for i := range 6 {
		var b [8]byte
		copy(b[3:], h[5*i:5*i+5])
		fmt.Fprintf(&sb, "%05d", binary.BigEndian.Uint64(b[:])%100000)
	}
	return sb.String()
}

// SafetyNumber returns the 60-digit number two people compare once to verify
// each other's identity, as 12 groups of 5 digits separated by spaces. It is
// the same on both sides: the two 30-digit halves are sorted before joining.
func SafetyNumber(a, b *PublicIdentity) string {
	x, y := safetyHalf(a), safetyHalf(b)
	if y < x {
		x, y = y, x
	}
	digits := x + y
	groups := make([]string, 0, 12)
	for i := 0; i < len(digits); i += 5 {
		groups = append(groups, digits[i:i+5])
	}
	return strings.Join(groups, " ")
}

// SafetyQR returns the QR payload of the pair's safety number: SafetyQRPrefix
// followed by the two identity fingerprints in upper-case hex, the smaller
// (bytewise) first, so both sides produce the same payload. Scanning the
// peer's QR code and calling CheckSafetyQR compares the full 256-bit
// fingerprints instead of 60 digits.
func SafetyQR(a, b *PublicIdentity) string {
	fa, fb := a.Fingerprint(), b.Fingerprint()
	if bytes.Compare(fb[:], fa[:]) < 0 {
		fa, fb = fb, fa
	}
	return SafetyQRPrefix + strings.ToUpper(hex.EncodeToString(fa[:])+hex.EncodeToString(fb[:]))
}

// CheckSafetyQR checks a scanned payload against the two identities. It fails
// with ErrSafetyQR for a malformed payload and ErrSafetyMismatch for a payload
// made from other identities.
func CheckSafetyQR(payload string, a, b *PublicIdentity) error {
	payload = strings.TrimSpace(payload)
	rest, ok := strings.CutPrefix(payload, SafetyQRPrefix)
	if !ok {
		return fmt.Errorf("%w: missing prefix %q", ErrSafetyQR, SafetyQRPrefix)
	}
	if len(rest) != 4*FingerprintSize || strings.ToUpper(rest) != rest {
		return fmt.Errorf("%w: want %d upper-case hex digits", ErrSafetyQR, 4*FingerprintSize)
	}
	got, err := hex.DecodeString(rest)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSafetyQR, err)
	}
	want := SafetyQR(a, b)[len(SafetyQRPrefix):]
	wb, _ := hex.DecodeString(want)
	if subtle.ConstantTimeCompare(got, wb) != 1 {
		return ErrSafetyMismatch
	}
	return nil
}

// SessionCode returns the short per-session code two people can read aloud
// to check that no one sits between them in this session: nine digits
// ("123 456 789") derived from the transcript hash. A man in the middle has
// two different transcripts and must make their codes collide; PROTOCOL.md
// §3.3 explains why 30 bits suffice within the handshake timeout.
func SessionCode(transcriptHash [TranscriptHashSize]byte) string {
	d := sha256.New()
	d.Write([]byte(labelSessionCode))
	d.Write(transcriptHash[:])
	h := d.Sum(nil)
	var b [8]byte
	copy(b[3:], h[:5])
	v := binary.BigEndian.Uint64(b[:]) % 1_000_000_000
	s := fmt.Sprintf("%09d", v)
	return s[0:3] + " " + s[3:6] + " " + s[6:9]
}
