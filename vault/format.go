package vault

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed file format, version 1 (docs/PROTOCOL.md §5.2). All integers are
// big-endian. Every byte before the ciphertext is authenticated as the AEAD's
// additional data, so the header (key source, Argon2id parameters, label)
// cannot be changed without detection.
//
//	magic "RTCV" | version=1 | kind | source | reserved=0
//	source params (keyring: key id[16]; passphrase: time u32, memory KiB u32, threads u8, salt[16]; store: none)
//	label length u16 | label
//	nonce[24] | ciphertext length u32 | ciphertext (XChaCha20-Poly1305)
const (
	sealMagic   = "RTCV"
	sealVersion = 1

	maxLabel      = 8192
	maxCiphertext = 64<<20 + chacha20poly1305.Overhead
	maxSealedFile = 8 + 25 + 2 + maxLabel + 24 + 4 + maxCiphertext

	keyIDSize = 16
	saltSize  = 16
)

type sealKind uint8

const (
	kindIdentity sealKind = 1 // keys/identity: the secret identity
	kindExport   sealKind = 2 // rtcchat id export: a passphrase-sealed identity
	kindStore    sealKind = 3 // store/KIND/FP: a chat-layer blob
)

func (k sealKind) String() string {
	switch k {
	case kindIdentity:
		return "identity"
	case kindExport:
		return "identity export"
	case kindStore:
		return "stored blob"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

type keySource uint8

const (
	srcKeyring    keySource = 1 // a random 256-bit key in the OS keyring
	srcPassphrase keySource = 2 // Argon2id(passphrase)
	srcStore      keySource = 3 // the vault's storage key (derived from 1 or 2)
)

// Argon2Params are the Argon2id cost parameters (RFC 9106), stored in every
// passphrase-sealed file.
type Argon2Params struct {
	Time      uint32 // passes
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultArgon2 is RFC 9106 §4's second recommended option (t=3, m=64 MiB,
// p=4), which takes a fraction of a second on a laptop.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// Bounds accepted when reading a file: a damaged or hostile file must not make
// us allocate gigabytes or spin for minutes.
const (
	minArgonMemKiB  = 8
	maxArgonMemKiB  = 1 << 20 // 1 GiB
	maxArgonTime    = 64
	maxArgonThreads = 64
)

func (p Argon2Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxArgonTime:
		return fmt.Errorf("Argon2id time %d outside 1..%d", p.Time, maxArgonTime)
	case p.Threads < 1 || p.Threads > maxArgonThreads:
		return fmt.Errorf("Argon2id threads %d outside 1..%d", p.Threads, maxArgonThreads)
	case p.MemoryKiB < minArgonMemKiB*uint32(p.Threads) || p.MemoryKiB > maxArgonMemKiB:
		return fmt.Errorf("Argon2id memory %d KiB outside %d..%d", p.MemoryKiB, minArgonMemKiB*uint32(p.Threads), maxArgonMemKiB)
	}
	return nil
}

type sealedFile struct {
	kind   sealKind
	source keySource
	keyID  [keyIDSize]byte // srcKeyring
	argon  Argon2Params    // srcPassphrase
	salt   [saltSize]byte  // srcPassphrase
	label  []byte
	nonce  [chacha20poly1305.NonceSizeX]byte
	ct     []byte
}

// header returns the authenticated bytes: everything before the ciphertext,
// including the ciphertext length (len(s.ct) must be final).
func (s *sealedFile) header() []byte {
	b := make([]byte, 0, 64+len(s.label))
	b = append(b, sealMagic...)
	b = append(b, sealVersion, byte(s.kind), byte(s.source), 0)
	switch s.source {
	case srcKeyring:
		b = append(b, s.keyID[:]...)
	case srcPassphrase:
		b = binary.BigEndian.AppendUint32(b, s.argon.Time)
		b = binary.BigEndian.AppendUint32(b, s.argon.MemoryKiB)
		b = append(b, s.argon.Threads)
		b = append(b, s.salt[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.label)))
	b = append(b, s.label...)
	b = append(b, s.nonce[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.ct)))
	return b
}

func (s *sealedFile) marshal() []byte {
	return append(s.header(), s.ct...)
}

// parseSealed strictly decodes a sealed file. Errors name the problem; the
// caller adds which file.
func parseSealed(b []byte) (*sealedFile, error) {
	r := reader{b: b}
	magic := r.bytes(4)
	if r.err != nil {
		return nil, errors.New("is truncated (shorter than the header)")
	}
	if string(magic) != sealMagic {
		return nil, errors.New("is not an rtcchat sealed file (bad magic)")
	}
	ver, kind, src, res := r.u8(), r.u8(), r.u8(), r.u8()
	if r.err != nil {
		return nil, errors.New("is truncated in the header")
	}
	if ver != sealVersion {
		return nil, fmt.Errorf("has unsupported format version %d (this rtcchat reads version %d)", ver, sealVersion)
	}
	s := &sealedFile{kind: sealKind(kind), source: keySource(src)}
	if s.kind < kindIdentity || s.kind > kindStore {
		return nil, fmt.Errorf("has unknown content kind %d", kind)
	}
	if res != 0 {
		return nil, fmt.Errorf("has non-zero reserved byte %d", res)
	}
	switch s.source {
	case srcKeyring:
		copy(s.keyID[:], r.bytes(keyIDSize))
	case srcPassphrase:
		s.argon.Time = r.u32()
		s.argon.MemoryKiB = r.u32()
		s.argon.Threads = r.u8()
		copy(s.salt[:], r.bytes(saltSize))
		if r.err == nil {
			if err := s.argon.validate(); err != nil {
				return nil, fmt.Errorf("has invalid parameters: %v", err)
			}
		}
	case srcStore:
	default:
		return nil, fmt.Errorf("has unknown key source %d", src)
	}
	ll := int(r.u16())
	if r.err == nil && ll > maxLabel {
		return nil, fmt.Errorf("has a label of %d bytes, more than %d", ll, maxLabel)
	}
	s.label = r.bytes(ll)
	copy(s.nonce[:], r.bytes(len(s.nonce)))
	cl := int(r.u32())
	if r.err != nil {
		return nil, errors.New("is truncated in the header")
	}
	if cl < chacha20poly1305.Overhead || cl > maxCiphertext {
		return nil, fmt.Errorf("declares a ciphertext of %d bytes (valid: %d..%d)", cl, chacha20poly1305.Overhead, maxCiphertext)
	}
	if r.left() < cl {
		return nil, fmt.Errorf("is truncated: ciphertext has %d of %d bytes", r.left(), cl)
	}
	if r.left() > cl {
		return nil, fmt.Errorf("has %d unexpected bytes after the ciphertext", r.left()-cl)
	}
	s.ct = r.bytes(cl)
	return s, nil
}

// reader is a bounds-checked big-endian reader; after the first short read
// every call returns zero values and err is set.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b)-r.off < n {
		r.err = errors.New("truncated")
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8() uint8 {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.bytes(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) left() int { return len(r.b) - r.off }
