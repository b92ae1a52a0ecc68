package handshake

import (
	"errors"
	"fmt"
)

// Level is a security level (docs/PROTOCOL.md §3.1).
type Level uint8

const (
	// LevelStandard: X25519 key agreement, Ed25519 authentication.
	LevelStandard Level = 1
	// LevelEnhanced adds ML-KEM-1024 in both directions to the key agreement.
	LevelEnhanced Level = 2
	// LevelQuantum adds FALCON-1024 authentication and the post-quantum ratchet.
	LevelQuantum Level = 3

	// DefaultLevel is the level a fresh installation asks for as its minimum.
	DefaultLevel = LevelQuantum
	// MaxSupportedLevel is the highest level this implementation speaks.
	MaxSupportedLevel = LevelQuantum
)

// Errors about levels and blob information.
var (
	ErrUnknownLevel    = errors.New("handshake: unknown security level")
	ErrNoCommonLevel   = errors.New("handshake: no security level acceptable to both peers")
	ErrBlobInfo        = errors.New("handshake: malformed blob application field")
	ErrBlobInfoVersion = errors.New("handshake: unknown blob application field version")
)

// Valid reports whether l is a defined level.
func (l Level) Valid() bool { return l >= LevelStandard && l <= LevelQuantum }

func (l Level) String() string {
	switch l {
	case LevelStandard:
		return "standard"
	case LevelEnhanced:
		return "enhanced"
	case LevelQuantum:
		return "quantum"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// ParseLevel parses "standard", "enhanced" or "quantum".
func ParseLevel(s string) (Level, error) {
	for l := LevelStandard; l <= LevelQuantum; l++ {
		if l.String() == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want standard, enhanced or quantum)", ErrUnknownLevel, s)
}

// BlobInfo is what the handshake puts into a blob's application field: the
// sender's identity commitment and the range of levels it accepts.
//
// Encoding (docs/PROTOCOL.md §2.2), BlobInfoSize = 27 bytes:
//
//	version (1) = 0x01 || min level (1) || max level (1) || commitment (24)
type BlobInfo struct {
	MinLevel   Level
	MaxLevel   Level
	Commitment [CommitmentSize]byte
}

const (
	blobInfoVersion = 0x01
	// BlobInfoSize is the length of an encoded BlobInfo (fits the 64-byte field).
	BlobInfoSize = 3 + CommitmentSize
)

// NewBlobInfo returns the BlobInfo for identity p accepting levels from min up
// to MaxSupportedLevel.
func NewBlobInfo(p *PublicIdentity, min Level) BlobInfo {
	return BlobInfo{MinLevel: min, MaxLevel: MaxSupportedLevel, Commitment: p.Commitment()}
}

// EncodeBlobInfo encodes bi; it fails if the levels are not a valid range.
func EncodeBlobInfo(bi BlobInfo) ([]byte, error) {
	if !bi.MinLevel.Valid() || !bi.MaxLevel.Valid() || bi.MinLevel > bi.MaxLevel {
		return nil, fmt.Errorf("%w: levels %v..%v", ErrUnknownLevel, bi.MinLevel, bi.MaxLevel)
	}
	out := make([]byte, 0, BlobInfoSize)
	out = append(out, blobInfoVersion, byte(bi.MinLevel), byte(bi.MaxLevel))
	return append(out, bi.Commitment[:]...), nil
}

// ParseBlobInfo decodes an application field made by EncodeBlobInfo. It is
// strict: version 1, exact length, min ≤ max, both defined levels.
func ParseBlobInfo(b []byte) (BlobInfo, error) {
	var bi BlobInfo
	if len(b) == 0 {
		return bi, fmt.Errorf("%w: empty (the peer sent no identity commitment)", ErrBlobInfo)
	}
	if b[0] != blobInfoVersion {
		return bi, fmt.Errorf("%w: 0x%02x", ErrBlobInfoVersion, b[0])
	}
	if len(b) != BlobInfoSize {
		return bi, fmt.Errorf("%w: %d bytes, want %d", ErrBlobInfo, len(b), BlobInfoSize)
	}
	bi.MinLevel, bi.MaxLevel = Level(b[1]), Level(b[2])
	if !bi.MinLevel.Valid() || !bi.MaxLevel.Valid() {
		return bi, fmt.Errorf("%w: %d..%d", ErrUnknownLevel, b[1], b[2])
	}
	if bi.MinLevel > bi.MaxLevel {
		return bi, fmt.Errorf("%w: minimum %v above maximum %v", ErrBlobInfo, bi.MinLevel, bi.MaxLevel)
	}
	copy(bi.Commitment[:], b[3:])
	return bi, nil
}

// NegotiateLevel returns the level a session between two peers runs at: the
// highest level both support, provided it is not below either peer's minimum
// (docs/PROTOCOL.md §3.1). Both peers compute it from the two blobs.
func NegotiateLevel(a, b BlobInfo) (Level, error) {
	top := min(a.MaxLevel, b.MaxLevel, MaxSupportedLevel)
	floor := max(a.MinLevel, b.MinLevel)
	if top < floor {
		return 0, fmt.Errorf("%w: offers %v..%v and %v..%v", ErrNoCommonLevel, a.MinLevel, a.MaxLevel, b.MinLevel, b.MaxLevel)
	}
	return top, nil
}
