package ratchet

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
)

// KDF labels (docs/PROTOCOL.md §4.2). Every HKDF call in this package uses
// one of these as its info string; none is shared with another package.
const (
	// LabelInit derives the initial root key and the initial header and
	// chain keys from the handshake secret. A single byte 0x00 (classic) or
	// 0x01 (post-quantum ratchet on) is appended, so peers that disagree on
	// the level never share a key.
	LabelInit = "rtcchat ratchet v1 init"
	// LabelResponderKey derives the responder's initial X25519 ratchet key
	// when the handshake does not supply one (the level byte is appended).
	LabelResponderKey = "rtcchat ratchet v1 responder key"
	// LabelRoot is KDF_RK_HE's info for a DH-only root step (spec §4.2,
	// §7): HKDF-SHA256(salt = RK, IKM = DH output).
	LabelRoot = "rtcchat ratchet v1 root"
	// LabelRootKEM is KDF_RK_HE's info for a root step that also mixes an
	// ML-KEM-1024 shared secret: HKDF-SHA256(salt = RK, IKM = DH output ‖
	// KEM shared secret).
	LabelRootKEM = "rtcchat ratchet v1 root mlkem1024"
)

// KDF_CK constants (spec §7): the message key is HMAC-SHA256(ck, 0x01), the
// next chain key HMAC-SHA256(ck, 0x02).
const (
	ckMessageKeyByte = 0x01
	ckChainKeyByte   = 0x02
)

const keySize = 32

// initKeys are the values both sides derive from the handshake secret.
type initKeys struct {
	rk   [keySize]byte // initial root key
	hka  [keySize]byte // initiator's first sending header key (spec: shared_hka)
	nhkb [keySize]byte // responder's first "next" sending header key (shared_nhkb)
	ckb  [keySize]byte // responder's initial sending chain key
	hkb  [keySize]byte // responder's initial sending header key
}

func levelByte(pq bool) string {
	if pq {
		return "\x01"
	}
	return "\x00"
}

// deriveInit expands the handshake secret: HKDF-SHA256(IKM = secret,
// salt = 32 zero bytes, info = LabelInit ‖ level) -> 160 bytes.
func deriveInit(secret []byte, pq bool) (*initKeys, error) {
	okm, err := hkdf.Key(sha256.New, secret, make([]byte, 32), LabelInit+levelByte(pq), 5*keySize)
	if err != nil {
		return nil, err
	}
	k := new(initKeys)
	copy(k.rk[:], okm[0:32])
	copy(k.hka[:], okm[32:64])
	copy(k.nhkb[:], okm[64:96])
	copy(k.ckb[:], okm[96:128])
	copy(k.hkb[:], okm[128:160])
	clear(okm)
	return k, nil
}

// deriveResponderScalar derives the responder's initial X25519 private key
// from the handshake secret (used only when the handshake supplies none).
func deriveResponderScalar(secret []byte, pq bool) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, make([]byte, 32), LabelResponderKey+levelByte(pq), 32)
}

// kdfRK is KDF_RK_HE (spec §4.2): HKDF-SHA256 with salt = rk and IKM = the
// DH output, or DH output ‖ KEM shared secret when kemSecret is non-nil,
// giving a new root key, a chain key and a next header key.
func kdfRK(rk *[keySize]byte, dhOut, kemSecret []byte) (newRK, ck, nhk [keySize]byte, err error) {
	info := LabelRoot
	ikm := dhOut
	if kemSecret != nil {
		if len(kemSecret) != 32 {
			return newRK, ck, nhk, errors.New("ratchet: bad KEM secret length")
		}
		info = LabelRootKEM
		ikm = make([]byte, 0, len(dhOut)+len(kemSecret))
		ikm = append(ikm, dhOut...)
		ikm = append(ikm, kemSecret...)
		defer clear(ikm)
	}
	okm, err := hkdf.Key(sha256.New, ikm, rk[:], info, 3*keySize)
	if err != nil {
		return newRK, ck, nhk, err
	}
	copy(newRK[:], okm[0:32])
	copy(ck[:], okm[32:64])
	copy(nhk[:], okm[64:96])
	clear(okm)
	return newRK, ck, nhk, nil
}

// kdfCK is KDF_CK (spec §7): message key = HMAC-SHA256(ck, 0x01), next chain
// key = HMAC-SHA256(ck, 0x02). HMAC (RFC 2104) is spelled out on stack
// buffers for a 32-byte key and a one-byte message, so the hot path does
// not allocate; TestChainKDFVector and TestKDFCKMatchesHMAC check it.
func kdfCK(ck *[keySize]byte) (mk, next [keySize]byte) {
	var inner [sha256.BlockSize + 1]byte           // (K ^ ipad) ‖ msg
	var outer [sha256.BlockSize + sha256.Size]byte // (K ^ opad) ‖ H(inner)
	for i := range sha256.BlockSize {
		var k byte
		if i < keySize {
			k = ck[i]
		}
		inner[i] = k ^ 0x36
		outer[i] = k ^ 0x5c
	}
	inner[sha256.BlockSize] = ckMessageKeyByte
	ih := sha256.Sum256(inner[:])
	copy(outer[sha256.BlockSize:], ih[:])
	mk = sha256.Sum256(outer[:])
	inner[sha256.BlockSize] = ckChainKeyByte
	ih = sha256.Sum256(inner[:])
	copy(outer[sha256.BlockSize:], ih[:])
	next = sha256.Sum256(outer[:])
	clear(inner[:])
	clear(outer[:])
	clear(ih[:])
	return mk, next
}
