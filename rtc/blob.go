package rtc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"unicode"
	"unicode/utf8"
)

// Blob format, version 1 (docs/PROTOCOL.md §1 "Connection blobs").
const (
	// BlobVersion is the version byte written by this package.
	BlobVersion = 1
	// TextPrefix starts every text blob of version 1.
	TextPrefix = "rtc1"
	// MaxAppData is the largest application field a blob carries.
	MaxAppData = 64
	// MaxCandidates is the largest number of candidates a blob carries.
	MaxCandidates = 15
	// ICEKeySize is the size of the random ICE secret (the ICE password).
	ICEKeySize = 16
	// FingerprintSize is the size of a SHA-256 DTLS certificate fingerprint.
	FingerprintSize = sha256.Size

	headerSize   = 2 + ICEKeySize + FingerprintSize // version, flags, ICE key, fingerprint
	checksumSize = 4
	minCandSize  = 1 + 4 + 2
	maxCandSize  = 1 + 16 + 2
	// MinBlobSize and MaxBlobSize bound the binary form.
	MinBlobSize = headerSize + minCandSize + checksumSize
	MaxBlobSize = headerSize + MaxCandidates*maxCandSize + MaxAppData + checksumSize
	// MaxTextLen bounds the text form once whitespace is removed.
	MaxTextLen = len(TextPrefix) + MaxBlobSize/8*11 + 11
	// maxRawInput bounds the pasted input before whitespace is removed.
	maxRawInput = 64 << 10
)

// Kind tells an offer from an answer.
type Kind uint8

const (
	KindOffer  Kind = 0
	KindAnswer Kind = 1
)

func (k Kind) String() string {
	if k == KindAnswer {
		return "answer"
	}
	return "offer"
}

// Role is the DTLS role a blob announces (RFC 8842 a=setup).
type Role uint8

const (
	RoleActpass Role = 0 // offers: either role
	RoleActive  Role = 1 // DTLS client
	RolePassive Role = 2 // DTLS server
)

func (r Role) String() string {
	switch r {
	case RoleActpass:
		return "actpass"
	case RoleActive:
		return "active"
	case RolePassive:
		return "passive"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// CandidateType is an ICE candidate type (RFC 8445 §5.1.1).
type CandidateType uint8

const (
	CandidateHost  CandidateType = 0
	CandidateSrflx CandidateType = 1
	CandidatePrflx CandidateType = 2
	CandidateRelay CandidateType = 3
)

func (t CandidateType) String() string {
	return [...]string{"host", "srflx", "prflx", "relay"}[t&3]
}

// TCPType is the tcptype of an ICE-TCP candidate (RFC 6544 §4.5).
type TCPType uint8

const (
	TCPTypeNone    TCPType = 0 // UDP candidates
	TCPTypeActive  TCPType = 1
	TCPTypePassive TCPType = 2
	TCPTypeSO      TCPType = 3
)

func (t TCPType) String() string {
	return [...]string{"", "active", "passive", "so"}[t&3]
}

// Candidate is what a blob keeps of an ICE candidate: its type, transport and
// address. Foundation, priority and related address are derived on decoding.
type Candidate struct {
	Type    CandidateType
	TCP     bool
	TCPType TCPType // TCPTypeNone for UDP
	Addr    netip.AddrPort
}

func (c Candidate) String() string {
	s := c.Type.String() + " udp " + c.Addr.String()
	if c.TCP {
		s = c.Type.String() + " tcp/" + c.TCPType.String() + " " + c.Addr.String()
	}
	return s
}

// Blob is the decoded content of an offer or answer.
type Blob struct {
	Kind        Kind
	Role        Role
	ICEKey      [ICEKeySize]byte      // the ICE password; the ufrag is derived from it
	Fingerprint [FingerprintSize]byte // SHA-256 of the sender's DTLS certificate
	Candidates  []Candidate
	App         []byte // opaque application field, at most MaxAppData bytes
}

// ICEPwd is the ICE password: the standard base64 of ICEKey without padding
// (22 ice-chars, 128 bits, RFC 8839 §5.4).
func (b *Blob) ICEPwd() string { return base64.RawStdEncoding.EncodeToString(b.ICEKey[:]) }

// ICEUfrag is the ICE username fragment: 4 ice-chars derived from ICEKey so
// that the blob need not carry it.
func (b *Blob) ICEUfrag() string { return iceUfrag(b.ICEKey) }

func iceUfrag(key [ICEKeySize]byte) string {
	h := sha256.Sum256(append([]byte("rtcchat ice ufrag v1\x00"), key[:]...))
	return base64.RawStdEncoding.EncodeToString(h[:3])
}

// Decoding errors. Every error returned by Parse and ParseBinary wraps exactly
// one of them (test with errors.Is) inside a *BlobError with the details.
var (
	ErrPrefix           = errors.New("not an rtcchat blob (wrong prefix)")
	ErrBadChar          = errors.New("bad character")
	ErrChecksum         = errors.New("checksum mismatch")
	ErrVersion          = errors.New("unknown blob version")
	ErrTruncated        = errors.New("blob truncated")
	ErrTooLong          = errors.New("blob too long")
	ErrNoCandidates     = errors.New("blob has no candidates")
	ErrMalformedAddress = errors.New("malformed candidate address")
	ErrMalformed        = errors.New("malformed blob")
)

// BlobError describes why a blob was rejected.
type BlobError struct {
	Err    error // one of the Err* values above
	Pos    int   // 1-based character position for ErrBadChar, else 0
	Detail string
}

func (e *BlobError) Error() string {
	s := e.Err.Error()
	if e.Pos > 0 {
		s += fmt.Sprintf(" at position %d", e.Pos)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *BlobError) Unwrap() error { return e.Err }

func blobErr(err error, format string, args ...any) error {
	return &BlobError{Err: err, Detail: fmt.Sprintf(format, args...)}
}

// MarshalBinary returns the binary form (docs/PROTOCOL.md §1.2).
func (b *Blob) MarshalBinary() ([]byte, error) {
	if n := len(b.Candidates); n == 0 || n > MaxCandidates {
		if n == 0 {
			return nil, blobErr(ErrNoCandidates, "gathering found no candidates")
		}
		return nil, blobErr(ErrTooLong, "%d candidates, at most %d fit", n, MaxCandidates)
	}
	if len(b.App) > MaxAppData {
		return nil, blobErr(ErrTooLong, "application field of %d bytes, at most %d", len(b.App), MaxAppData)
	}
	if b.Kind > KindAnswer {
		return nil, blobErr(ErrMalformed, "kind %d", b.Kind)
	}
	if err := checkRole(b.Kind, b.Role); err != nil {
		return nil, err
	}
	out := make([]byte, 0, MaxBlobSize)
	out = append(out, BlobVersion, byte(len(b.Candidates))<<4|byte(b.Role)<<1|byte(b.Kind))
	out = append(out, b.ICEKey[:]...)
	out = append(out, b.Fingerprint[:]...)
	for _, c := range b.Candidates {
		if err := checkCandidate(c); err != nil {
			return nil, err
		}
		d := byte(c.Type)
		addr := c.Addr.Addr()
		if addr.Is6() {
			d |= 1 << 2
		}
		if c.TCP {
			d |= 1<<3 | byte(c.TCPType)<<4
		}
		out = append(out, d)
		out = append(out, addr.AsSlice()...)
		out = binary.BigEndian.AppendUint16(out, c.Addr.Port())
	}
	out = append(out, b.App...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

// Encode returns the text form: TextPrefix followed by the base58 of the
// binary form.
func (b *Blob) Encode() (string, error) {
	raw, err := b.MarshalBinary()
	if err != nil {
		return "", err
	}
	return TextPrefix + base58Encode(raw), nil
}

func checkRole(k Kind, r Role) error {
	if k == KindOffer && r != RoleActpass {
		return blobErr(ErrMalformed, "an offer must announce DTLS role actpass, not %v", r)
	}
	if k == KindAnswer && r != RoleActive && r != RolePassive {
		return blobErr(ErrMalformed, "an answer must announce DTLS role active or passive, not %v", r)
	}
	return nil
}

func checkCandidate(c Candidate) error {
	a := c.Addr.Addr()
	switch {
	case !a.IsValid():
		return blobErr(ErrMalformedAddress, "candidate without address")
	case a.Is4In6():
		return blobErr(ErrMalformedAddress, "IPv4-mapped IPv6 address %v", a)
	case a.Zone() != "":
		return blobErr(ErrMalformedAddress, "address %v has a zone", a)
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return blobErr(ErrMalformedAddress, "%v is not a unicast address", a)
	}
	if c.TCP {
		if c.TCPType == TCPTypeNone || c.TCPType > TCPTypeSO {
			return blobErr(ErrMalformed, "TCP candidate %v without a valid tcptype", c.Addr)
		}
		if c.Addr.Port() == 0 && c.TCPType != TCPTypeActive {
			return blobErr(ErrMalformedAddress, "port 0 in %v", c.Addr)
		}
		return nil
	}
	if c.TCPType != TCPTypeNone {
		return blobErr(ErrMalformed, "UDP candidate %v with a tcptype", c.Addr)
	}
	if c.Addr.Port() == 0 {
		return blobErr(ErrMalformedAddress, "port 0 in %v", c.Addr)
	}
	return nil
}

// isIgnorable reports whether r is whitespace that chat apps and terminals
// insert into long strings: spaces, tabs, line breaks, no-break spaces and the
// zero-width characters.
func isIgnorable(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
		return true
	}
	return unicode.IsSpace(r)
}

// Parse decodes a text blob. Whitespace and line breaks anywhere are ignored;
// the prefix is matched without regard to case. It never panics.
func Parse(text string) (*Blob, error) {
	raw, err := DecodeText(text)
	if err != nil {
		return nil, err
	}
	return ParseBinary(raw)
}

// DecodeText checks the text form and returns the binary form without
// interpreting it. Positions in errors count characters (not bytes) of text
// from 1.
func DecodeText(text string) ([]byte, error) {
	if len(text) > maxRawInput {
		return nil, blobErr(ErrTooLong, "%d bytes of input", len(text))
	}
	body := make([]byte, 0, min(len(text), MaxTextLen))
	var where []int // 1-based character positions of body's characters
	var pos, prefixLen int
	for i, r := range text {
		pos++
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(text[i:]); size <= 1 {
				return nil, &BlobError{Err: ErrBadChar, Pos: pos, Detail: "invalid UTF-8"}
			}
		}
		if isIgnorable(r) {
			continue
		}
		if prefixLen < len(TextPrefix) {
			if r >= utf8.RuneSelf || unicode.ToLower(r) != rune(TextPrefix[prefixLen]) {
				return nil, blobErr(ErrPrefix, "a blob starts with %q", TextPrefix)
			}
			prefixLen++
			continue
		}
		if r >= utf8.RuneSelf || base58Value[r] < 0 {
			return nil, &BlobError{Err: ErrBadChar, Pos: pos,
				Detail: fmt.Sprintf("%q is not used in blobs (they use digits and letters except 0, O, I and l)", r)}
		}
		if len(body)+len(TextPrefix) >= MaxTextLen {
			return nil, blobErr(ErrTooLong, "more than %d characters", MaxTextLen)
		}
		body = append(body, byte(r))
		where = append(where, pos)
	}
	if prefixLen < len(TextPrefix) {
		if prefixLen == 0 {
			return nil, blobErr(ErrTruncated, "empty input")
		}
		return nil, blobErr(ErrPrefix, "a blob starts with %q", TextPrefix)
	}
	raw, at, ok := base58Decode(string(body))
	if !ok {
		if charsBlock[len(body)%11] < 0 {
			return nil, blobErr(ErrTruncated, "%d characters after the prefix is not a possible length: part of the blob is missing", len(body))
		}
		if at+11 > len(body) {
			return nil, blobErr(ErrTruncated, "the end of the blob (from position %d) is missing or damaged", where[at])
		}
		return nil, blobErr(ErrChecksum, "characters from position %d on were changed while being copied", where[at])
	}
	return raw, nil
}

// ParseBinary decodes the binary form (docs/PROTOCOL.md §1.2). It checks the
// length bounds, the checksum, the version and then every field.
func ParseBinary(raw []byte) (*Blob, error) {
	if len(raw) > MaxBlobSize {
		return nil, blobErr(ErrTooLong, "%d bytes, at most %d", len(raw), MaxBlobSize)
	}
	if len(raw) < MinBlobSize {
		return nil, blobErr(ErrTruncated, "%d bytes, at least %d", len(raw), MinBlobSize)
	}
	body, sum := raw[:len(raw)-checksumSize], raw[len(raw)-checksumSize:]
	if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(sum) {
		// Tell a cut-off blob from a damaged one where the header allows.
		if need := structLen(raw); need > len(body) {
			return nil, blobErr(ErrTruncated, "the blob ends early; copy all of it")
		}
		return nil, blobErr(ErrChecksum, "the blob was changed or cut while being copied")
	}
	if raw[0] != BlobVersion {
		return nil, blobErr(ErrVersion, "version %d (this rtcchat reads version %d; update it)", raw[0], BlobVersion)
	}
	flags := raw[1]
	b := &Blob{Kind: Kind(flags & 1), Role: Role(flags >> 1 & 3)}
	if flags&(1<<3) != 0 {
		return nil, blobErr(ErrMalformed, "reserved flag bit set")
	}
	if err := checkRole(b.Kind, b.Role); err != nil {
		return nil, err
	}
	n := int(flags >> 4)
	if n == 0 {
		return nil, blobErr(ErrNoCandidates, "the peer found no network address")
	}
	copy(b.ICEKey[:], raw[2:])
	copy(b.Fingerprint[:], raw[2+ICEKeySize:])
	p := body[headerSize:]
	b.Candidates = make([]Candidate, 0, n)
	for i := 0; i < n; i++ {
		if len(p) < 1 {
			return nil, blobErr(ErrTruncated, "candidate %d of %d missing", i+1, n)
		}
		d := p[0]
		if d&0xc0 != 0 {
			return nil, blobErr(ErrMalformed, "reserved bits in candidate %d", i+1)
		}
		c := Candidate{Type: CandidateType(d & 3), TCP: d&(1<<3) != 0, TCPType: TCPType(d >> 4 & 3)}
		alen := 4
		if d&(1<<2) != 0 {
			alen = 16
		}
		if len(p) < 1+alen+2 {
			return nil, blobErr(ErrTruncated, "candidate %d of %d cut short", i+1, n)
		}
		addr, _ := netip.AddrFromSlice(p[1 : 1+alen])
		c.Addr = netip.AddrPortFrom(addr, binary.BigEndian.Uint16(p[1+alen:]))
		if err := checkCandidate(c); err != nil {
			return nil, err
		}
		b.Candidates = append(b.Candidates, c)
		p = p[1+alen+2:]
	}
	if len(p) > MaxAppData {
		return nil, blobErr(ErrTooLong, "application field of %d bytes, at most %d", len(p), MaxAppData)
	}
	if len(p) > 0 {
		b.App = append([]byte(nil), p...)
	}
	return b, nil
}

// structLen returns how many bytes before the checksum the header and
// candidate descriptors of raw ask for, as far as raw lets it be read.
func structLen(raw []byte) int {
	n := headerSize
	if len(raw) < 2 {
		return n
	}
	for i := 0; i < int(raw[1]>>4); i++ {
		if n >= len(raw) {
			return n + minCandSize*(int(raw[1]>>4)-i)
		}
		if raw[n]&(1<<2) != 0 {
			n += maxCandSize
		} else {
			n += minCandSize
		}
	}
	return n
}
