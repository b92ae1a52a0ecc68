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
// key = HMAC-SHA256(ck, 0x02). TestChainKDFVector checks it against Signal's
// vector.
func kdfCK(ck *[keySize]byte) (mk, next [keySize]byte) {
	return hmac32(ck, []byte{ckMessageKeyByte}), hmac32(ck, []byte{ckChainKeyByte})
}

// LabelBody binds a message key to the random header nonce of the message
// it encrypts (PROTOCOL.md §4.4): body key = HMAC-SHA256(MK, LabelBody ‖
// nonce). A session resumed from an older saved state may derive the same
// MK again; the fresh nonce still gives a fresh body key, so no key and
// nonce pair ever encrypts two plaintexts.
const LabelBody = "rtcchat ratchet v1 body"

// maxHMACMsg bounds hmac32's message (LabelBody ‖ 24-byte nonce fits).
const maxHMACMsg = 64

// bodyKey derives the body AEAD key from the message key and header nonce.
func bodyKey(mk *[keySize]byte, nonce []byte) [keySize]byte {
	var msg [len(LabelBody) + nonceSize]byte
	copy(msg[:], LabelBody)
	copy(msg[len(LabelBody):], nonce)
	return hmac32(mk, msg[:])
}

// hmac32 is HMAC-SHA256 (RFC 2104) for a 32-byte key and a message of at
// most maxHMACMsg bytes, computed on stack buffers so the per-message path
// does not allocate. TestHMAC32 checks it against crypto/hmac.
func hmac32(key *[keySize]byte, msg []byte) [sha256.Size]byte {
	if len(msg) > maxHMACMsg {
		panic("ratchet: hmac32 message too long")
	}
	var inner [sha256.BlockSize + maxHMACMsg]byte  // (K ^ ipad) ‖ msg
	var outer [sha256.BlockSize + sha256.Size]byte // (K ^ opad) ‖ H(inner)
	for i := range sha256.BlockSize {
		var k byte
		if i < keySize {
			k = key[i]
		}
		inner[i] = k ^ 0x36
		outer[i] = k ^ 0x5c
	}
	copy(inner[sha256.BlockSize:], msg)
	ih := sha256.Sum256(inner[:sha256.BlockSize+len(msg)])
	copy(outer[sha256.BlockSize:], ih[:])
	out := sha256.Sum256(outer[:])
	clear(inner[:])
	clear(outer[:])
	clear(ih[:])
	return out
}
