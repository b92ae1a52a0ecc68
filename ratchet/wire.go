package ratchet

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"golang.org/x/crypto/chacha20poly1305"
)

// Wire format (docs/PROTOCOL.md §4.4):
//
//	message = prefix(1) ‖ header nonce(24) ‖ encrypted header ‖ body
//	prefix  = version<<4 | kind   (version 1; kind 0 = short header,
//	                               kind 1 = header with a KEM object)
//	encrypted header = XChaCha20-Poly1305(HK, nonce, header, AD = hdrAD)
//	body    = ChaCha20-Poly1305(MK, 0^12, pad(plaintext), AD = msgAD)
//
//	header  = flags(1) ‖ dh(32) ‖ pn(4) ‖ n(4) [‖ kem id(4) ‖ kem object(1568)]
const (
	wireVersion = 1

	kindShort = 0
	kindLong  = 1

	nonceSize = chacha20poly1305.NonceSizeX // 24
	tagSize   = chacha20poly1305.Overhead   // 16

	// KEMObjectSize is the size of an ML-KEM-1024 encapsulation key and of
	// an ML-KEM-1024 ciphertext (FIPS 203, Table 3): both are 1568 bytes.
	KEMObjectSize = mlkem1024.PublicKeySize

	shortHeaderSize = 1 + 32 + 4 + 4
	longHeaderSize  = shortHeaderSize + 4 + KEMObjectSize

	// header flags
	flagMixed = 1 << 0 // this chain's root step mixed a KEM shared secret
	flagEK    = 1 << 1 // the header carries an encapsulation key
	flagCT    = 1 << 2 // the header carries a ciphertext
	flagsMask = flagMixed | flagEK | flagCT

	// MaxPlaintextSize is the largest plaintext Encrypt accepts.
	MaxPlaintextSize = 1 << 20
	// MaxADSize is the largest session associated data accepted.
	MaxADSize = 4096
	// minPadded is the smallest padded body.
	minPadded = 32
)

// MaxMessageSize is the largest message Encrypt produces and Decrypt
// accepts: a long header and MaxPlaintextSize padded (Padmé rounds 2^20+1
// up to 2^20+2^15; TestPadding checks it).
const MaxMessageSize = 1 + nonceSize + longHeaderSize + tagSize + (MaxPlaintextSize + 1<<15) + tagSize

// Overhead returns the number of bytes a message of plaintextLen bytes grows
// by on the wire when its header carries no KEM object (KEMObjectSize+4 more
// when it does): 98 fixed bytes plus padding.
func Overhead(plaintextLen int) int {
	return 1 + nonceSize + shortHeaderSize + tagSize + tagSize + paddedLen(plaintextLen) - plaintextLen
}

// header is a decoded (plaintext) message header.
type header struct {
	flags byte
	dh    [32]byte
	pn    uint32
	n     uint32
	kemID uint32
	obj   []byte // KEM object, aliases the decrypted header buffer
}

func (h *header) appendTo(b []byte) []byte {
	b = append(b, h.flags)
	b = append(b, h.dh[:]...)
	b = binary.BigEndian.AppendUint32(b, h.pn)
	b = binary.BigEndian.AppendUint32(b, h.n)
	if h.flags&(flagEK|flagCT) != 0 {
		b = binary.BigEndian.AppendUint32(b, h.kemID)
		b = append(b, h.obj...)
	}
	return b
}

// parseHeader decodes an authenticated header strictly. kind is the
// message's clear-text kind, which must agree with the flags.
func parseHeader(b []byte, kind byte) (*header, error) {
	want := shortHeaderSize
	if kind == kindLong {
		want = longHeaderSize
	}
	if len(b) != want {
		return nil, fmt.Errorf("%w: header is %d bytes, want %d", ErrMalformed, len(b), want)
	}
	h := &header{flags: b[0]}
	if h.flags&^flagsMask != 0 {
		return nil, fmt.Errorf("%w: unknown header flags %#x", ErrMalformed, h.flags)
	}
	hasObj := h.flags&(flagEK|flagCT) != 0
	if h.flags&flagEK != 0 && h.flags&flagCT != 0 {
		return nil, fmt.Errorf("%w: header carries both a KEM key and a ciphertext", ErrMalformed)
	}
	if hasObj != (kind == kindLong) {
		return nil, fmt.Errorf("%w: header kind and flags disagree", ErrMalformed)
	}
	copy(h.dh[:], b[1:33])
	h.pn = binary.BigEndian.Uint32(b[33:37])
	h.n = binary.BigEndian.Uint32(b[37:41])
	if hasObj {
		if h.n != 0 {
			return nil, fmt.Errorf("%w: KEM object on message %d of a chain (only message 0 carries one)", ErrMalformed, h.n)
		}
		h.kemID = binary.BigEndian.Uint32(b[41:45])
		if h.kemID == 0 {
			return nil, fmt.Errorf("%w: KEM object id 0", ErrMalformed)
		}
		h.obj = b[45:]
	}
	return h, nil
}

// wireMsg is a message split into its parts (slices alias the input).
type wireMsg struct {
	kind   byte
	prefix []byte // everything before the body: prefix byte, nonce, encrypted header
	nonce  []byte
	hdrCT  []byte
	body   []byte
}

func parseWire(m []byte) (*wireMsg, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	if len(m) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds %d", ErrMalformed, len(m), MaxMessageSize)
	}
	if v := m[0] >> 4; v != wireVersion {
		return nil, fmt.Errorf("%w: unknown message version %d", ErrMalformed, v)
	}
	kind := m[0] & 0x0f
	var hlen int
	switch kind {
	case kindShort:
		hlen = shortHeaderSize + tagSize
	case kindLong:
		hlen = longHeaderSize + tagSize
	default:
		return nil, fmt.Errorf("%w: unknown message kind %d", ErrMalformed, kind)
	}
	end := 1 + nonceSize + hlen
	if len(m) < end+minPadded+tagSize {
		return nil, fmt.Errorf("%w: truncated message (%d bytes)", ErrMalformed, len(m))
	}
	return &wireMsg{
		kind:   kind,
		prefix: m[:end],
		nonce:  m[1 : 1+nonceSize],
		hdrCT:  m[1+nonceSize : end],
		body:   m[end:],
	}, nil
}

// paddedLen is the padded body size for a plaintext of n bytes: the
// plaintext, a 0x80 marker and zeros up to the bucket. Buckets are
// multiples of 32 bytes up to 256 bytes, then Padmé (Nikitin et al., PURBs,
// 2019): the low bits of the length are rounded so that at most
// O(log log L) bits of the length remain.
func paddedLen(n int) int {
	l := n + 1
	if l <= 256 {
		return (l + 31) &^ 31
	}
	e := bits.Len(uint(l)) - 1 // floor(log2 l)
	s := bits.Len(uint(e))     // floor(log2 e) + 1
	lastBits := e - s
	mask := (1 << lastBits) - 1
	return (l + mask) &^ mask
}

// pad appends the padded form of p to dst.
func pad(dst, p []byte) []byte {
	total := paddedLen(len(p))
	dst = append(dst, p...)
	dst = append(dst, 0x80)
	for i := len(p) + 1; i < total; i++ {
		dst = append(dst, 0)
	}
	return dst
}

// unpad strips the padding in place. It runs after authentication, so it
// is not an oracle.
func unpad(b []byte) ([]byte, error) {
	i := len(b) - 1
	for i >= 0 && b[i] == 0 {
		i--
	}
	if i < 0 || b[i] != 0x80 {
		return nil, fmt.Errorf("%w: bad padding", ErrMalformed)
	}
	if paddedLen(i) != len(b) {
		return nil, fmt.Errorf("%w: padding longer than its bucket", ErrMalformed)
	}
	return b[:i], nil
}
