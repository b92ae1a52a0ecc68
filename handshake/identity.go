package handshake

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/rtcchat/rtcchat/handshake/falcon"
	xdh "github.com/rtcchat/rtcchat/internal/x25519"
)

// Identity encodings (docs/PROTOCOL.md §2.1). Both are fixed-size and versioned:
//
//	private: 0x01 || 0x53 ('S') || Ed25519 seed (32) || FALCON-1024 private key (2305)
//	public:  0x01 || 0x50 ('P') || Ed25519 public key (32) || FALCON-1024 public key (1793)
const (
	identityVersion = 0x01
	kindPrivate     = 'S'
	kindPublic      = 'P'

	// PrivateIdentitySize is the length of an encoded Identity.
	PrivateIdentitySize = 2 + ed25519.SeedSize + falcon.PrivateKeySize
	// PublicIdentitySize is the length of an encoded PublicIdentity.
	PublicIdentitySize = 2 + ed25519.PublicKeySize + falcon.PublicKeySize

	// FingerprintSize is the length of an identity fingerprint (SHA-256).
	FingerprintSize = sha256.Size
	// CommitmentSize is the length of the identity commitment carried in a blob's
	// application field: a truncated, domain-separated hash of the fingerprint.
	// 24 bytes leave a 192-bit second-preimage margin (96 bits against Grover).
	CommitmentSize = 24

	// EdSignatureSize is the size of an Ed25519 signature.
	EdSignatureSize = ed25519.SignatureSize
)

// Domain-separation labels for hashes and signatures over identities
// (docs/PROTOCOL.md §2.1). Every label ends in a NUL byte so that no label is a
// prefix of another label followed by data.
const (
	labelFingerprint = "rtcchat identity fingerprint v1\x00"
	labelCommitment  = "rtcchat blob commitment v1\x00"
	labelSignature   = "rtcchat handshake signature v1\x00"
)

// Errors about identities.
var (
	ErrIdentityEncoding  = errors.New("handshake: malformed identity encoding")
	ErrIdentityVersion   = errors.New("handshake: unknown identity encoding version")
	ErrEd25519PublicKey  = errors.New("handshake: invalid Ed25519 public key")
	ErrFalconPublicKey   = errors.New("handshake: invalid FALCON-1024 public key")
	ErrFalconPrivateKey  = errors.New("handshake: invalid FALCON-1024 private key")
	ErrEd25519Signature  = errors.New("handshake: Ed25519 signature does not verify")
	ErrFalconSignature   = errors.New("handshake: FALCON-1024 signature does not verify")
	ErrFalconMissing     = errors.New("handshake: FALCON-1024 signature missing at quantum level")
	ErrSignedHashLength  = errors.New("handshake: a bundle signature covers exactly one 32-byte transcript hash")
	ErrLowOrderPoint     = errors.New("handshake: X25519 produced an all-zero shared secret (low-order point)")
	ErrIdentityDestroyed = errors.New("handshake: identity has been destroyed")
)

// PublicIdentity is the public half of a long-term identity: an Ed25519 public
// key together with a FALCON-1024 public key. The zero value is not valid; obtain
// one from ParsePublicIdentity or Identity.Public.
type PublicIdentity struct {
	ed     ed25519.PublicKey // 32 bytes, canonical and on the curve
	falcon *falcon.PublicKey
	xpub   []byte // Montgomery (X25519) form of ed, for the static-ephemeral exchanges
}

// Identity is a long-term identity: an Ed25519 key pair and a FALCON-1024 key
// pair. It implements Signer, so the handshake can use it directly; a vault that
// keeps the keys in another process implements Signer by forwarding to an
// Identity held there.
type Identity struct {
	edSeed [ed25519.SeedSize]byte
	ed     ed25519.PrivateKey
	falcon *falcon.PrivateKey
	x      *xdh.Key // X25519 form of the Ed25519 secret scalar
	pub    *PublicIdentity
	dead   bool
}

// Signer performs the private-key operations of an identity for the handshake.
// All three operations are restricted so that a Signer in another process is
// not a general-purpose signing oracle:
//
//   - SignBundle signs labelSignature || transcriptHash, where transcriptHash is
//     exactly 32 bytes, with Ed25519 and, when level is LevelQuantum, also with
//     FALCON-1024 (falconSig is nil otherwise).
//   - IdentityDH computes X25519 between the identity's Montgomery-form secret
//     (derived from the Ed25519 seed as in RFC 8032 §5.1.5) and a peer's public
//     X25519 value, rejecting an all-zero result.
type Signer interface {
	Public() *PublicIdentity
	SignBundle(transcriptHash []byte, level Level) (edSig, falconSig []byte, err error)
	IdentityDH(peerPublic []byte) ([]byte, error)
}

var _ Signer = (*Identity)(nil)

// GenerateIdentity creates a new identity, reading randomness from r
// (crypto/rand.Reader if nil).
func GenerateIdentity(r io.Reader) (*Identity, error) {
	if r == nil {
		r = rand.Reader
	}
	var seed [ed25519.SeedSize]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return nil, fmt.Errorf("handshake: reading randomness: %w", err)
	}
	fsk, err := falcon.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("handshake: generating FALCON-1024 key: %w", err)
	}
	id, err := NewIdentity(seed[:], fsk)
	clear(seed[:])
	return id, err
}

// NewIdentity assembles an identity from an Ed25519 seed (RFC 8032 private key,
// 32 bytes) and a FALCON-1024 private key. The seed is copied.
func NewIdentity(edSeed []byte, falconKey *falcon.PrivateKey) (*Identity, error) {
	if len(edSeed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: Ed25519 seed must be %d bytes", ErrIdentityEncoding, ed25519.SeedSize)
	}
	if falconKey == nil {
		return nil, ErrFalconPrivateKey
	}
	id := &Identity{falcon: falconKey}
	copy(id.edSeed[:], edSeed)
	id.ed = ed25519.NewKeyFromSeed(id.edSeed[:])
	// RFC 8032 §5.1.5: the secret scalar is the clamped first half of
	// SHA-512(seed); X25519 clamps the same way (RFC 7748 §5), so the X25519
	// public key of this scalar is the Montgomery form of the Ed25519 key.
	h := sha512.Sum512(id.edSeed[:])
	x, err := xdh.NewKey(h[:32])
	clear(h[:])
	if err != nil {
		return nil, err
	}
	id.x = x
	pub, err := newPublicIdentity(id.ed.Public().(ed25519.PublicKey), falconKey.PublicKey())
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(pub.xpub, x.PublicKey()) != 1 {
		return nil, errors.New("handshake: internal error: Montgomery form of the Ed25519 key does not match")
	}
	id.pub = pub
	return id, nil
}

func newPublicIdentity(ed ed25519.PublicKey, fpk *falcon.PublicKey) (*PublicIdentity, error) {
	if fpk == nil {
		return nil, ErrFalconPublicKey
	}
	xpub, err := edwardsToMontgomery(ed)
	if err != nil {
		return nil, err
	}
	return &PublicIdentity{ed: append(ed25519.PublicKey(nil), ed...), falcon: fpk, xpub: xpub}, nil
}

// Public returns the public half of the identity.
func (id *Identity) Public() *PublicIdentity { return id.pub }

// Falcon returns the identity's FALCON-1024 private key.
func (id *Identity) Falcon() *falcon.PrivateKey { return id.falcon }

// SignBundle implements Signer.
func (id *Identity) SignBundle(transcriptHash []byte, level Level) (edSig, falconSig []byte, err error) {
	if id.dead {
		return nil, nil, ErrIdentityDestroyed
	}
	if len(transcriptHash) != sha256.Size {
		return nil, nil, ErrSignedHashLength
	}
	if !level.Valid() {
		return nil, nil, fmt.Errorf("%w: %d", ErrUnknownLevel, level)
	}
	msg := signedMessage(transcriptHash)
	edSig = ed25519.Sign(id.ed, msg)
	if level >= LevelQuantum {
		falconSig, err = id.falcon.Sign(rand.Reader, msg)
		if err != nil {
			return nil, nil, fmt.Errorf("handshake: FALCON-1024 signing: %w", err)
		}
	}
	return edSig, falconSig, nil
}

// signBundleWith is SignBundle with an explicit randomness source for the
// FALCON-1024 signature (deterministic test vectors).
func (id *Identity) signBundleWith(r io.Reader, transcriptHash []byte, level Level) (edSig, falconSig []byte, err error) {
	if r == nil {
		return id.SignBundle(transcriptHash, level)
	}
	if id.dead {
		return nil, nil, ErrIdentityDestroyed
	}
	if len(transcriptHash) != sha256.Size {
		return nil, nil, ErrSignedHashLength
	}
	msg := signedMessage(transcriptHash)
	edSig = ed25519.Sign(id.ed, msg)
	if level >= LevelQuantum {
		if falconSig, err = id.falcon.Sign(r, msg); err != nil {
			return nil, nil, fmt.Errorf("handshake: FALCON-1024 signing: %w", err)
		}
	}
	return edSig, falconSig, nil
}

// IdentityDH implements Signer.
func (id *Identity) IdentityDH(peerPublic []byte) ([]byte, error) {
	if id.dead {
		return nil, ErrIdentityDestroyed
	}
	return x25519(id.x, peerPublic)
}

// Destroy wipes the identity's secret keys as far as Go allows. The identity
// cannot be used afterwards.
func (id *Identity) Destroy() {
	clear(id.edSeed[:])
	clear(id.ed)
	id.falcon.Destroy()
	if id.x != nil {
		id.x.Wipe()
	}
	id.x = nil
	id.dead = true
}

func signedMessage(transcriptHash []byte) []byte {
	msg := make([]byte, 0, len(labelSignature)+len(transcriptHash))
	msg = append(msg, labelSignature...)
	return append(msg, transcriptHash...)
}

// VerifyBundle checks the signatures a peer made with SignBundle. Below
// LevelQuantum only the Ed25519 signature is checked and falconSig must be
// empty; at LevelQuantum both must verify. Each failure has its own error.
func (p *PublicIdentity) VerifyBundle(transcriptHash, edSig, falconSig []byte, level Level) error {
	if len(transcriptHash) != sha256.Size {
		return ErrSignedHashLength
	}
	msg := signedMessage(transcriptHash)
	if len(edSig) != ed25519.SignatureSize || !ed25519.Verify(p.ed, msg, edSig) {
		return ErrEd25519Signature
	}
	if level < LevelQuantum {
		if len(falconSig) != 0 {
			return fmt.Errorf("%w: FALCON-1024 signature present below quantum level", ErrMessageFormat)
		}
		return nil
	}
	if len(falconSig) == 0 {
		return ErrFalconMissing
	}
	if len(falconSig) > falcon.MaxSignatureSize || !falcon.Verify(p.falcon, msg, falconSig) {
		return ErrFalconSignature
	}
	return nil
}

// Ed25519 returns the Ed25519 public key.
func (p *PublicIdentity) Ed25519() ed25519.PublicKey { return append(ed25519.PublicKey(nil), p.ed...) }

// Falcon returns the FALCON-1024 public key.
func (p *PublicIdentity) Falcon() *falcon.PublicKey { return p.falcon }

// Equal reports whether p and q are the same identity (both keys equal).
func (p *PublicIdentity) Equal(q *PublicIdentity) bool {
	if p == nil || q == nil {
		return p == q
	}
	return subtle.ConstantTimeCompare(p.ed, q.ed) == 1 && p.falcon.Equal(q.falcon)
}

// Fingerprint returns SHA-256(labelFingerprint || Ed25519 pub || FALCON-1024 pub).
func (p *PublicIdentity) Fingerprint() [FingerprintSize]byte {
	h := sha256.New()
	h.Write([]byte(labelFingerprint))
	h.Write(p.ed)
	h.Write(p.falcon.Bytes())
	var fp [FingerprintSize]byte
	h.Sum(fp[:0])
	return fp
}

// Commitment returns the first CommitmentSize bytes of
// SHA-256(labelCommitment || Fingerprint()); it goes into the blob's
// application field (EncodeBlobInfo).
func (p *PublicIdentity) Commitment() [CommitmentSize]byte {
	fp := p.Fingerprint()
	h := sha256.New()
	h.Write([]byte(labelCommitment))
	h.Write(fp[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var c [CommitmentSize]byte
	copy(c[:], sum[:])
	return c
}

// MatchesCommitment reports, in constant time, whether c is p's commitment.
func (p *PublicIdentity) MatchesCommitment(c []byte) bool {
	own := p.Commitment()
	return subtle.ConstantTimeCompare(own[:], c) == 1
}

// MarshalBinary encodes p as 0x01 || 'P' || Ed25519 pub || FALCON-1024 pub.
func (p *PublicIdentity) MarshalBinary() ([]byte, error) { return p.Bytes(), nil }

// Bytes returns the encoding of p (see MarshalBinary).
func (p *PublicIdentity) Bytes() []byte {
	out := make([]byte, 0, PublicIdentitySize)
	out = append(out, identityVersion, kindPublic)
	out = append(out, p.ed...)
	return append(out, p.falcon.Bytes()...)
}

// ParsePublicIdentity decodes the encoding made by PublicIdentity.Bytes. It is
// strict: exact length, known version, a canonical Ed25519 point on the curve
// that is not of small order, and a strictly decoded FALCON-1024 key.
func ParsePublicIdentity(b []byte) (*PublicIdentity, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrIdentityEncoding, len(b))
	}
	if b[0] != identityVersion {
		return nil, fmt.Errorf("%w: 0x%02x", ErrIdentityVersion, b[0])
	}
	if b[1] != kindPublic {
		return nil, fmt.Errorf("%w: kind 0x%02x is not a public identity", ErrIdentityEncoding, b[1])
	}
	if len(b) != PublicIdentitySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrIdentityEncoding, len(b), PublicIdentitySize)
	}
	ed := ed25519.PublicKey(b[2 : 2+ed25519.PublicKeySize])
	fpk, err := falcon.NewPublicKey(b[2+ed25519.PublicKeySize:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFalconPublicKey, err)
	}
	return newPublicIdentity(ed, fpk)
}

// UnmarshalBinary is ParsePublicIdentity into p.
func (p *PublicIdentity) UnmarshalBinary(b []byte) error {
	q, err := ParsePublicIdentity(b)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// MarshalBinary encodes the identity's secret keys as
// 0x01 || 'S' || Ed25519 seed || FALCON-1024 private key. The result is secret.
func (id *Identity) MarshalBinary() ([]byte, error) {
	if id.dead {
		return nil, ErrIdentityDestroyed
	}
	out := make([]byte, 0, PrivateIdentitySize)
	out = append(out, identityVersion, kindPrivate)
	out = append(out, id.edSeed[:]...)
	return append(out, id.falcon.Bytes()...), nil
}

// ParseIdentity decodes the encoding made by Identity.MarshalBinary (strict:
// exact length, known version, strictly decoded FALCON-1024 key). The input is
// not retained.
func ParseIdentity(b []byte) (*Identity, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrIdentityEncoding, len(b))
	}
	if b[0] != identityVersion {
		return nil, fmt.Errorf("%w: 0x%02x", ErrIdentityVersion, b[0])
	}
	if b[1] != kindPrivate {
		return nil, fmt.Errorf("%w: kind 0x%02x is not a private identity", ErrIdentityEncoding, b[1])
	}
	if len(b) != PrivateIdentitySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrIdentityEncoding, len(b), PrivateIdentitySize)
	}
	fsk, err := falcon.NewPrivateKey(b[2+ed25519.SeedSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFalconPrivateKey, err)
	}
	return NewIdentity(b[2:2+ed25519.SeedSize], fsk)
}

// x25519 computes X25519(priv, peer) with internal/x25519 (CIRCL's
// implementation), checking the peer value's length (ErrMessageFormat) and
// rejecting the all-zero output of low-order points (RFC 7748 §6.1,
// ErrLowOrderPoint).
func x25519(priv *xdh.Key, peer []byte) ([]byte, error) {
	if len(peer) != xdh.Size {
		return nil, fmt.Errorf("%w: X25519 public value of %d bytes", ErrMessageFormat, len(peer))
	}
	ss, err := priv.ECDH(peer)
	if errors.Is(err, xdh.ErrLowOrder) {
		return nil, ErrLowOrderPoint
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMessageFormat, err)
	}
	return ss, nil
}

// Field constants for the Edwards-to-Montgomery map (RFC 7748 §4.1).
var (
	fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	// d = -121665/121666 mod p
	edD = func() *big.Int {
		num := new(big.Int).Neg(big.NewInt(121665))
		den := new(big.Int).ModInverse(big.NewInt(121666), fieldP)
		d := new(big.Int).Mul(num, den)
		return d.Mod(d, fieldP)
	}()
)

// edwardsToMontgomery validates an Ed25519 public key (RFC 8032 §5.1.3:
// canonical y, a square x² with a consistent sign bit) and returns the X25519
// u-coordinate u = (1+y)/(1-y) (RFC 7748 §4.1). Public data only, so the
// variable-time big.Int arithmetic is fine. Points with y = ±1 or x = 0 (the
// identity and the small-order points of order 2 and 4) are rejected.
func edwardsToMontgomery(pub []byte) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %d bytes", ErrEd25519PublicKey, len(pub))
	}
	le := make([]byte, 32)
	copy(le, pub)
	sign := le[31] >> 7
	le[31] &= 0x7f
	y := new(big.Int).SetBytes(reverse(le))
	if y.Cmp(fieldP) >= 0 {
		return nil, fmt.Errorf("%w: non-canonical y", ErrEd25519PublicKey)
	}
	one := big.NewInt(1)
	y2 := new(big.Int).Mul(y, y)
	y2.Mod(y2, fieldP)
	num := new(big.Int).Sub(y2, one)
	num.Mod(num, fieldP)
	den := new(big.Int).Mul(edD, y2)
	den.Add(den, one)
	den.Mod(den, fieldP)
	if den.Sign() == 0 || num.Sign() == 0 {
		// num = 0 ⇔ y = ±1 ⇔ x = 0: the identity or the point of order 2.
		return nil, fmt.Errorf("%w: small-order point", ErrEd25519PublicKey)
	}
	x2 := new(big.Int).Mul(num, new(big.Int).ModInverse(den, fieldP))
	x2.Mod(x2, fieldP)
	// x² ≠ 0 here; for the prime p the Jacobi symbol is Euler's criterion
	// x²^((p-1)/2) mod p, computed without a modular exponentiation.
	if big.Jacobi(x2, fieldP) != 1 {
		return nil, fmt.Errorf("%w: not on the curve", ErrEd25519PublicKey)
	}
	_ = sign // x ≠ 0 here, so either sign bit names a valid point
	oneMinusY := new(big.Int).Sub(one, y)
	oneMinusY.Mod(oneMinusY, fieldP)
	u := new(big.Int).Add(one, y)
	u.Mul(u, new(big.Int).ModInverse(oneMinusY, fieldP))
	u.Mod(u, fieldP)
	out := make([]byte, 32)
	u.FillBytes(out)
	return reverse(out), nil
}

func reverse(b []byte) []byte {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}
