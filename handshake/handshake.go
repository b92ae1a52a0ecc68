// Package handshake implements rtcchat's identities and its hybrid
// X3DH + ML-KEM-1024 handshake with Ed25519 + FALCON-1024 mutual
// authentication, channel binding, key confirmation, security levels and
// safety numbers. docs/PROTOCOL.md §2 and §3 specify everything this package
// puts on the wire; the doc comments name the subsections.
//
// The handshake is an interactive, four-message protocol between two online
// peers over any ordered, reliable message transport (Transport):
//
//	Init     I → R  level, blob and binding hashes, ephemeral X25519, ML-KEM-1024 key (no identity)
//	Response R → I  identity, ephemeral and ratchet X25519, ML-KEM-1024 key and ciphertext, signatures
//	Finish   I → R  exporter binding, identity, ML-KEM-1024 ciphertext, signatures, key-confirmation MAC
//	Confirm  R → I  key-confirmation MAC
//
// Init names no identity, so the chat layer sends it before its inner TLS
// session, and the responder completes Response while that session is set
// up. Each side signs its identity and fresh keys (with the blobs and DTLS
// fingerprints, nothing from the peer's messages) as soon as the handshake
// is created; the MACs cover the rest of the transcript.
//
// The key agreement combines three X25519 exchanges in the manner of X3DH
// (static-ephemeral both ways and ephemeral-ephemeral) with one ML-KEM-1024
// encapsulation in each direction, as PQXDH appends its KEM secret; each side
// signs with Ed25519 and, at the quantum level, FALCON-1024, and both
// confirm the whole transcript with MACs.
package handshake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rtcchat/rtcchat/handshake/falcon"
	"github.com/rtcchat/rtcchat/internal/pqkem"
	xdh "github.com/rtcchat/rtcchat/internal/x25519"
)

// Role says which side of the handshake a peer plays. By convention the
// offerer (who printed the offer blob) is the Initiator.
type Role uint8

const (
	Initiator Role = 1
	Responder Role = 2
)

func (r Role) String() string {
	switch r {
	case Initiator:
		return "initiator"
	case Responder:
		return "responder"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// KDF and transcript labels (docs/PROTOCOL.md §2.5).
const (
	// ProtocolName starts the transcript and names every primitive, so that
	// no transcript of this protocol equals one of another protocol or version.
	ProtocolName = "rtcchat-handshake-v3_X25519_SHA-256_ML-KEM-1024_Ed25519+FALCON-1024\x00"

	labelBlobs          = "rtcchat blobs v2\x00"
	labelBinding        = "rtcchat channel binding v2\x00"
	labelExporter       = "rtcchat inner tls binding v2\x00"
	labelInitiatorSig   = "rtcchat hs v3 initiator offer\x00"
	labelResponderSig   = "rtcchat hs v2 responder identity\x00"
	labelInitiatorMAC   = "rtcchat hs v2 initiator confirm"
	labelResponderMAC   = "rtcchat hs v2 responder confirm"
	labelSessionSecret  = "rtcchat hs v2 session secret"
	labelSessionCode    = "rtcchat session code v1\x00"
	labelNonce          = "rtcchat hs v2 responder nonce\x00"
	maxBlobLen          = 1024
	maxFingerprintLen   = 64
	maxExporterLen      = 64
	kemSeedSize         = pqkem.SeedSize
	encapsRandomnessLen = pqkem.RandomnessSize
)

const (
	// DefaultTimeout bounds a whole handshake in Run when Config.Timeout is zero.
	DefaultTimeout = 30 * time.Second
	// SessionSecretSize is the length of Result.SessionSecret (the ratchet's secret).
	SessionSecretSize = 64
	// TranscriptHashSize is the length of Result.TranscriptHash.
	TranscriptHashSize = hashSize
)

// Config describes one handshake from this side's point of view.
type Config struct {
	Role   Role
	Signer Signer // this side's identity (an *Identity, or a vault's key process)

	// LocalBlob and PeerBlob are the binary connection blobs exactly as this
	// side sent and received them (rtc: the bytes MarshalBinary produced and
	// the bytes the text form decoded to). At most 1024 bytes each.
	LocalBlob, PeerBlob []byte
	// LocalInfo and PeerInfo are the application fields of those blobs
	// (EncodeBlobInfo): commitment and accepted levels.
	LocalInfo, PeerInfo []byte
	// LocalDTLSFingerprint and PeerDTLSFingerprint are the certificate
	// fingerprints of the DTLS session the handshake runs over, as this side's
	// transport reports them (at most 64 bytes each, non-empty).
	LocalDTLSFingerprint, PeerDTLSFingerprint []byte
	// Exporter is an optional exported keying value of an inner TLS 1.3
	// session (RFC 8446 §7.5); both sides must pass the same value or none.
	// A caller that creates the handshake before that session exists sets it
	// later with SetExporter.
	Exporter []byte
	// PinnedPeer, if set, is the identity this contact is known to have; any
	// other identity is refused with ErrPinMismatch.
	PinnedPeer *PublicIdentity
	// Timeout bounds the whole handshake in Run (DefaultTimeout if zero).
	Timeout time.Duration
	// Ephemerals, if set, are this side's fresh keys made ahead of time by
	// Prepare (for this role and a level at least the negotiated one). New
	// takes them: they serve this handshake only, are dropped when it ends,
	// and a second New with the same value fails with ErrEphemeralsUsed.
	// Nil: the handshake makes its keys itself.
	Ephemerals *Ephemerals
}

// Result is what a completed handshake hands to the chat layer and the
// ratchet (ratchet.NewInitiator / ratchet.NewResponder, PROTOCOL.md §2.6).
type Result struct {
	Role  Role
	Level Level
	// Peer is the authenticated identity of the other side. It matched the
	// commitment in the peer's blob and, if one was configured, the pin.
	Peer *PublicIdentity
	// TranscriptHash covers everything both sides exchanged and saw.
	TranscriptHash [TranscriptHashSize]byte
	// SessionSecret (64 bytes) is the ratchet's shared secret; secret.
	SessionSecret []byte
	// AD is the ratchet's session associated data (the transcript hash).
	AD []byte
	// ResponderRatchetPublic is the responder's initial X25519 ratchet key,
	// signed in Response; ResponderRatchetPrivate is set on the responder only.
	ResponderRatchetPublic  *ecdh.PublicKey
	ResponderRatchetPrivate *ecdh.PrivateKey
	// WireBytes counts the handshake bytes sent plus received by this side.
	WireBytes int
}

// PQRatchet reports whether the session must use the post-quantum ratchet.
func (r *Result) PQRatchet() bool { return r.Level >= LevelQuantum }

// SessionCode returns the short per-session code (see SessionCode).
func (r *Result) SessionCode() string { return SessionCode(r.TranscriptHash) }

// Destroy wipes the session secret.
func (r *Result) Destroy() {
	clear(r.SessionSecret)
	r.ResponderRatchetPrivate = nil
}

type state uint8

const (
	stateStart         state = iota // nothing sent or received
	stateAwaitResponse              // initiator sent Init
	stateAwaitFinish                // responder sent Response
	stateAwaitConfirm               // initiator sent Finish
	stateDone                       // Result available
	stateFailed                     // any error; terminal
)

// Handshake is the message-level state machine of one handshake
// (docs/PROTOCOL.md §2.3). Use Run for the common case; Start and Handle let a
// caller drive the messages itself. A Handshake is not safe for concurrent use.
type Handshake struct {
	cfg       Config
	st        state
	level     Level
	localInfo BlobInfo
	peerInfo  BlobInfo
	blobsHash [hashSize]byte
	bindHash  [hashSize]byte
	xb        [hashSize]byte // exporter binding of our own view (SetExporter)
	self      *PublicIdentity

	transcript []byte // ProtocolName || level || blobs hash || binding hash || messages...

	initMsg  []byte           // initiator: Init, made in New
	initKeys []byte           // EK_I || [PQ_I] as in Init (what σ_I covers of it)
	respMsg  *responseMsg     // responder: Response's own fields, made in New
	presig   <-chan signature // σ_I or σ_R, started in New

	eph      *xdh.Key
	kem      *pqkem.DecapsulationKey
	ratchet  *ecdh.PrivateKey // responder (Result hands it on as such)
	nonce    []byte           // responder: N_R, committed to in Response
	nonceCmt [hashSize]byte   // initiator: the commitment received in Response
	peer     *PublicIdentity
	peerEph  []byte
	peerRat  []byte
	peerKEM  *pqkem.EncapsulationKey
	dh2, dh3 []byte // responder: computed at Init, DH1 follows at Finish; initiator: DH2
	dh2Err   error  // initiator: DH2's failure, reported after DH1's
	dh       []byte // F || DH1 || DH2 || DH3
	ssToInit []byte // ML-KEM secret the responder encapsulated to the initiator
	ssToResp []byte // ML-KEM secret the initiator encapsulated to the responder
	prk      []byte
	wire     int

	presigned *presignature // initiator: σ_I made by Ephemerals.Presign (used if its th_I is ours)
	result    *Result

	rand io.Reader // nil: crypto/rand; tests set a deterministic stream
}

// New checks cfg and returns a handshake in its initial state. On the
// initiator it also makes Init and starts signing it (see Start).
func New(cfg Config) (*Handshake, error) { return newHandshake(cfg, nil) }

// newHandshake is New with a randomness source (nil: crypto/rand; tests pass
// a deterministic stream).
func newHandshake(cfg Config, r io.Reader) (*Handshake, error) {
	if cfg.Role != Initiator && cfg.Role != Responder {
		return nil, fmt.Errorf("%w: role %v", ErrConfig, cfg.Role)
	}
	if cfg.Signer == nil || cfg.Signer.Public() == nil {
		return nil, fmt.Errorf("%w: no identity", ErrConfig)
	}
	for _, f := range []struct {
		name string
		b    []byte
		min  int
		max  int
	}{
		{"local blob", cfg.LocalBlob, 1, maxBlobLen},
		{"peer blob", cfg.PeerBlob, 1, maxBlobLen},
		{"local DTLS fingerprint", cfg.LocalDTLSFingerprint, 1, maxFingerprintLen},
		{"peer DTLS fingerprint", cfg.PeerDTLSFingerprint, 1, maxFingerprintLen},
		{"TLS exporter", cfg.Exporter, 0, maxExporterLen},
	} {
		if len(f.b) < f.min || len(f.b) > f.max {
			return nil, fmt.Errorf("%w: %s of %d bytes (allowed %d..%d)", ErrConfig, f.name, len(f.b), f.min, f.max)
		}
	}
	h := &Handshake{cfg: cfg, self: cfg.Signer.Public(), rand: r}
	var err error
	if h.localInfo, err = ParseBlobInfo(cfg.LocalInfo); err != nil {
		return nil, fmt.Errorf("%w: own blob: %w", ErrConfig, err)
	}
	if !h.self.MatchesCommitment(h.localInfo.Commitment[:]) {
		return nil, fmt.Errorf("%w: own blob commits to a different identity", ErrConfig)
	}
	if h.peerInfo, err = ParseBlobInfo(cfg.PeerInfo); err != nil {
		return nil, fmt.Errorf("peer blob: %w", err)
	}
	if h.level, err = NegotiateLevel(h.localInfo, h.peerInfo); err != nil {
		return nil, err
	}
	initBlob, respBlob := cfg.LocalBlob, cfg.PeerBlob
	initFP, respFP := cfg.LocalDTLSFingerprint, cfg.PeerDTLSFingerprint
	if cfg.Role == Responder {
		initBlob, respBlob = respBlob, initBlob
		initFP, respFP = respFP, initFP
	}
	h.blobsHash = hashParts(labelBlobs, initBlob, respBlob)
	h.bindHash = hashParts(labelBinding, initFP, respFP)
	h.xb = hashParts(labelExporter, cfg.Exporter)
	h.transcript = append(h.transcript, ProtocolName...)
	h.transcript = append(h.transcript, byte(h.level))
	h.transcript = append(h.transcript, h.blobsHash[:]...)
	h.transcript = append(h.transcript, h.bindHash[:]...)
	if cfg.Ephemerals != nil {
		// Last, so that a configuration refused above leaves them unused.
		if h.eph, h.kem, h.ratchet, h.presigned, err = cfg.Ephemerals.take(cfg.Role, h.level); err != nil {
			return nil, err
		}
		h.cfg.Ephemerals = nil
	}
	prepare := h.prepareInit
	if cfg.Role == Responder {
		prepare = h.prepareResponse
	}
	if err := prepare(); err != nil {
		h.fail()
		return nil, err
	}
	return h, nil
}

// SetExporter sets the inner TLS exporter value (Config.Exporter) once that
// session exists: the initiator before it handles Response, the responder
// before it handles Finish. Both sides must set the same value or none.
func (h *Handshake) SetExporter(exporter []byte) error {
	if len(exporter) > maxExporterLen {
		return fmt.Errorf("%w: TLS exporter of %d bytes (allowed 0..%d)", ErrConfig, len(exporter), maxExporterLen)
	}
	// XB goes into Finish (initiator, then awaiting Confirm) or is checked
	// against it (responder, then done or failed).
	if h.st == stateAwaitConfirm || h.st == stateFailed || h.st == stateDone {
		return fmt.Errorf("%w: exporter set after it was used", ErrState)
	}
	h.cfg.Exporter = append([]byte(nil), exporter...)
	h.xb = hashParts(labelExporter, exporter)
	return nil
}

// WaitSigned waits until this side's signature, which New made or started
// (σ_I or σ_R), is ready, and returns the signer's error if it failed (the
// handshake reports it again when it needs the signature). The chat layer
// calls it so that an answer blob is handed out only once the answering
// side's signature exists. Like every method, not concurrently with others.
func (h *Handshake) WaitSigned() error {
	if h.presig == nil {
		return nil
	}
	sg := <-h.presig
	h.presig = signed(sg)
	return sg.err
}

// Matches reports whether h was made for these blobs and DTLS fingerprints
// (this side's view, as in Config).
func (h *Handshake) Matches(localBlob, peerBlob, localFP, peerFP []byte) bool {
	return bytes.Equal(h.cfg.LocalBlob, localBlob) && bytes.Equal(h.cfg.PeerBlob, peerBlob) &&
		bytes.Equal(h.cfg.LocalDTLSFingerprint, localFP) && bytes.Equal(h.cfg.PeerDTLSFingerprint, peerFP)
}

// Close gives up a handshake that will not be completed (the connection
// failed first): it drops its secrets and refuses further input. It is a
// no-op once the handshake ended.
func (h *Handshake) Close() {
	if h != nil && h.st != stateDone && h.st != stateFailed {
		h.fail()
	}
}

// AbortMessage returns the Abort message (PROTOCOL.md §2.4) that tells the
// peer why a handshake failed with err, for a caller that drives the
// messages itself (Run sends it on its own).
func AbortMessage(err error) []byte { return abortMessage(abortCode(err)) }

// Level returns the negotiated level (known from the two blobs).
func (h *Handshake) Level() Level { return h.level }

// signerErr marks an error of the Signer (for example a key process that
// went away) unless it is already one of ours (a low-order point).
func signerErr(err error) error {
	if errors.Is(err, ErrLowOrderPoint) || errors.Is(err, ErrMessageFormat) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrSigner, err)
}

// hashParts returns SHA-256(label || for each part: u16 length || part).
func hashParts(label string, parts ...[]byte) (out [hashSize]byte) {
	d := sha256.New()
	d.Write([]byte(label))
	for _, p := range parts {
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(p)))
		d.Write(l[:])
		d.Write(p)
	}
	d.Sum(out[:0])
	return out
}

func (h *Handshake) randReader() io.Reader {
	if h.rand != nil {
		return h.rand
	}
	return rand.Reader
}

func (h *Handshake) randBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(h.randReader(), b); err != nil {
		return nil, fmt.Errorf("handshake: reading randomness: %w", err)
	}
	return b, nil
}

// freshKeys makes the ephemeral X25519 key and, at level ≥ enhanced, the
// ML-KEM-1024 key pair (from a 64-byte seed, FIPS 203 §6.1 ML-KEM.KeyGen_internal),
// unless they were prepared (Config.Ephemerals).
func (h *Handshake) freshKeys() error {
	if h.eph != nil {
		if h.level >= LevelEnhanced && h.kem == nil {
			return fmt.Errorf("%w: prepared ephemeral keys lack the ML-KEM-1024 key", ErrConfig)
		}
		return nil
	}
	b, err := h.randBytes(x25519Size)
	if err != nil {
		return err
	}
	h.eph, err = xdh.NewKey(b)
	clear(b)
	if err != nil {
		return err
	}
	if h.level >= LevelEnhanced {
		seed, err := h.randBytes(kemSeedSize)
		if err != nil {
			return err
		}
		h.kem, err = pqkem.NewDecapsulationKey(seed)
		clear(seed)
		if err != nil {
			return err
		}
		// As Prepare does (its own randomness: the stream is not read).
		if err := h.kem.PairwiseCheck(); err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
	}
	return nil
}

// encapsulate is ML-KEM.Encaps (FIPS 203 §7.2) to ek with 32 bytes of
// randomness m read from the handshake's source (crypto/rand, or the
// tests' deterministic stream), ML-KEM.Encaps_internal(ek, m).
func (h *Handshake) encapsulate(ek *pqkem.EncapsulationKey) (ss, ct []byte, err error) {
	m, err := h.randBytes(encapsRandomnessLen)
	if err != nil {
		return nil, nil, err
	}
	ss, ct, err = ek.EncapsulateWith(m)
	clear(m)
	return ss, ct, err
}

func (h *Handshake) sign(th []byte) (edSig, falconSig []byte, err error) {
	if id, ok := h.cfg.Signer.(*Identity); ok && h.rand != nil {
		if edSig, falconSig, err = id.signBundleWith(h.rand, th, h.level); err != nil {
			return nil, nil, err
		}
		return edSig, falconSig, checkOwnSignatures(h.self, th, edSig, falconSig, h.level)
	}
	return signChecked(h.cfg.Signer, th, h.level)
}

// signChecked has s sign th at level and checks what it returns: the shape,
// and that the signatures verify under s's public identity.
func signChecked(s Signer, th []byte, level Level) (edSig, falconSig []byte, err error) {
	edSig, falconSig, err = s.SignBundle(th, level)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSigner, err)
	}
	if len(edSig) != EdSignatureSize || (level >= LevelQuantum) != (len(falconSig) > 0) || len(falconSig) > falcon.MaxSignatureSize {
		return nil, nil, fmt.Errorf("%w: malformed signatures (Ed25519 %d bytes, FALCON-1024 %d bytes at level %v)", ErrSigner, len(edSig), len(falconSig), level)
	}
	if _, attacker := s.(modelsAttacker); !attacker {
		if err := checkOwnSignatures(s.Public(), th, edSig, falconSig, level); err != nil {
			return nil, nil, err
		}
	}
	return edSig, falconSig, nil
}

// modelsAttacker is implemented only by test Signers that play an attacker
// with stolen or forged keys: an attacker runs its own code, not our check
// of our own signatures, so those tests skip it to reach the peer's checks.
type modelsAttacker interface{ modelsAttacker() }

// checkOwnSignatures verifies our own signatures before they leave
// (PROTOCOL.md §2.8): a signer fault (a glitch in FALCON-1024's
// floating-point sampler, a key process gone wrong) is caught here instead
// of by the peer, and a faulty FALCON-1024 signature, which can leak key
// information, is never sent. It also runs the verification code that the
// peer's signature needs next, before the connection does.
func checkOwnSignatures(self *PublicIdentity, th, edSig, falconSig []byte, level Level) error {
	if err := self.VerifyBundle(th, edSig, falconSig, level); err != nil {
		return fmt.Errorf("%w: our own signature does not verify: %w", ErrSigner, err)
	}
	return nil
}

// signature is the outcome of a signing started by signAsync.
type signature struct {
	ed, falcon []byte
	err        error
}

// signAsync signs th on another goroutine, so that the work that does not
// feed the signed transcript (the X25519 exchanges, decapsulation, checking
// the peer's signature) runs beside it on another core: the signature is
// the largest single cost of a side's step (PROTOCOL.md §2.8). The result
// must always be received, and a signature is sent only after every check
// of the peer's message has passed. It reads h.rand (deterministic tests),
// which nothing else reads until the result is received.
func (h *Handshake) signAsync(th []byte) <-chan signature {
	ch := make(chan signature, 1)
	go func() {
		var s signature
		s.ed, s.falcon, s.err = h.sign(th)
		ch <- s
	}()
	return ch
}

func (h *Handshake) transcriptHash(extra ...[]byte) []byte {
	d := sha256.New()
	d.Write(h.transcript)
	for _, e := range extra {
		d.Write(e)
	}
	return d.Sum(nil)
}

// checkPeer validates the peer's identity encoding, commitment and pin.
func (h *Handshake) checkPeer(enc []byte) (*PublicIdentity, error) {
	p, err := ParsePublicIdentity(enc)
	if err != nil {
		return nil, err
	}
	if !p.MatchesCommitment(h.peerInfo.Commitment[:]) {
		return nil, ErrCommitment
	}
	if h.cfg.PinnedPeer != nil && !h.cfg.PinnedPeer.Equal(p) {
		return nil, ErrPinMismatch
	}
	return p, nil
}

// Start returns the Init message. Only the initiator calls it, once.
func (h *Handshake) Start() ([]byte, error) {
	if h.cfg.Role != Initiator || h.st != stateStart {
		return nil, fmt.Errorf("%w: Start as %v in state %d", ErrState, h.cfg.Role, h.st)
	}
	msg, err := h.start()
	if err != nil {
		h.fail()
		return nil, err
	}
	h.st = stateAwaitResponse
	return msg, nil
}

// prepareInit makes the initiator's Init (it depends only on the blobs, the
// DTLS fingerprints and our fresh keys) and takes σ_I over th_I (our offer
// blob, identity and Init keys; initiatorSigHash) from the Ephemerals if
// Presign made it for exactly that, or else starts signing it at once, so
// that the signature is ready long before Response arrives.
func (h *Handshake) prepareInit() error {
	if err := h.freshKeys(); err != nil {
		return err
	}
	m := &initMsg{
		level:       h.level,
		blobsHash:   h.blobsHash,
		bindingHash: h.bindHash,
		ephemeral:   h.eph.PublicKey(),
	}
	if h.kem != nil {
		m.kemKey = h.kem.EncapsulationKey()
	}
	h.initMsg = m.marshal()
	h.initKeys = append(append([]byte(nil), m.ephemeral...), m.kemKey...)
	th := initiatorSigHash(h.level, h.cfg.LocalBlob, h.self.Bytes(), h.initKeys)
	if ps := h.presigned; ps != nil && bytes.Equal(ps.th, th) {
		h.presig = signed(ps.sig) // made with the offer (Ephemerals.Presign)
	} else {
		h.startSigning(th)
	}
	h.presigned = nil
	return nil
}

// prepareResponse makes the responder's own part of Response (its fresh
// keys and nonce commitment, which depend on nothing from the initiator but
// the blobs) and starts signing
// th_R = SHA-256(T0 || labelResponderSig || identity || EK_R || RK_R || C_R [|| PQ_R])
// at once, so that the signature is ready before Init arrives.
func (h *Handshake) prepareResponse() error {
	if err := h.freshKeys(); err != nil {
		return err
	}
	if h.ratchet == nil {
		rb, err := h.randBytes(x25519Size)
		if err != nil {
			return err
		}
		h.ratchet, err = ecdh.X25519().NewPrivateKey(rb)
		clear(rb)
		if err != nil {
			return err
		}
	}
	var err error
	if h.nonce, err = h.randBytes(nonceSize); err != nil {
		return err
	}
	r := &responseMsg{
		level:     h.level,
		identity:  h.self.Bytes(),
		ephemeral: h.eph.PublicKey(),
		ratchet:   h.ratchet.PublicKey().Bytes(),
		nonceCmt:  nonceCommitment(h.nonce),
	}
	if h.kem != nil {
		r.kemKey = h.kem.EncapsulationKey()
	}
	h.respMsg = r
	h.startSigning(h.responderSigHash(r))
	return nil
}

// startSigning signs th in the background (h.presig); with a deterministic
// randomness source (tests) it signs at once, so that the randomness is
// read in a fixed order.
func (h *Handshake) startSigning(th []byte) {
	if h.rand != nil {
		var sg signature
		sg.ed, sg.falcon, sg.err = h.sign(th)
		h.presig = signed(sg)
		return
	}
	h.presig = h.signAsync(th)
}

// signed is a signature that is ready, in the form of h.presig.
func signed(sg signature) <-chan signature {
	ch := make(chan signature, 1)
	ch <- sg
	return ch
}

// responderSigHash is th_R, what the responder signs (PROTOCOL.md §2.5):
// T0 and the responder's own fields of Response.
func (h *Handshake) responderSigHash(r *responseMsg) []byte {
	d := sha256.New()
	d.Write(h.transcript[:h.transcript0Len()])
	d.Write([]byte(labelResponderSig))
	d.Write(r.identity)
	d.Write(r.ephemeral)
	d.Write(r.ratchet)
	d.Write(r.nonceCmt[:])
	d.Write(r.kemKey)
	return d.Sum(nil)
}

// transcript0Len is the length of T0 = ProtocolName || level || BH || CB.
func (h *Handshake) transcript0Len() int { return len(ProtocolName) + 1 + 2*hashSize }

// initiatorSigHash is th_I, what the initiator signs (PROTOCOL.md §2.5):
// its own offer blob, identity and Init keys EK_I [|| PQ_I] at level, and
// nothing of the responder's, so that it can be signed as soon as the offer
// exists (Ephemerals.Presign). The MACs and the session secret bind the rest.
func initiatorSigHash(level Level, offerBlob, identity, initKeys []byte) []byte {
	th := hashParts(labelInitiatorSig, append([]byte(ProtocolName), byte(level)), offerBlob, identity, initKeys)
	return th[:]
}

func (h *Handshake) start() ([]byte, error) {
	b := h.initMsg
	h.transcript = append(h.transcript, b...)
	h.wire += len(b)
	return b, nil
}

// Handle processes one received message and returns the reply to send (nil if
// none) and whether the handshake is complete. Any error is final: the state
// machine moves to a failed state and refuses further input.
func (h *Handshake) Handle(msg []byte) (reply []byte, done bool, err error) {
	if h.st == stateFailed || h.st == stateDone {
		return nil, false, fmt.Errorf("%w: handshake already ended", ErrState)
	}
	h.wire += len(msg)
	switch {
	case h.cfg.Role == Responder && h.st == stateStart:
		reply, err = h.handleInit(msg)
		if err == nil {
			h.st = stateAwaitFinish
		}
	case h.cfg.Role == Initiator && h.st == stateAwaitResponse:
		reply, err = h.handleResponse(msg)
		if err == nil {
			h.st = stateAwaitConfirm
		}
	case h.cfg.Role == Responder && h.st == stateAwaitFinish:
		reply, err = h.handleFinish(msg)
		if err == nil {
			h.st, done = stateDone, true
		}
	case h.cfg.Role == Initiator && h.st == stateAwaitConfirm:
		err = h.handleConfirm(msg)
		if err == nil {
			h.st, done = stateDone, true
		}
	default:
		err = fmt.Errorf("%w: initiator must call Start first", ErrState)
	}
	if err != nil {
		h.fail()
		return nil, false, err
	}
	h.wire += len(reply)
	if done {
		h.result.WireBytes = h.wire
	}
	return reply, done, nil
}

// Result returns the outcome once Handle reported done.
func (h *Handshake) Result() (*Result, error) {
	if h.st != stateDone {
		return nil, fmt.Errorf("%w: handshake not complete", ErrState)
	}
	return h.result, nil
}

func (h *Handshake) fail() {
	h.st = stateFailed
	h.wipe()
}

func (h *Handshake) wipe() {
	if h.presig != nil {
		// The signing started in New may still use the Signer:
		// wait for it, so that a caller may destroy the identity once the
		// handshake has ended or been closed.
		<-h.presig
		h.presig = nil
	}
	clear(h.dh)
	clear(h.dh2)
	clear(h.dh3)
	clear(h.ssToInit)
	clear(h.ssToResp)
	clear(h.prk)
	clear(h.nonce)
	if h.eph != nil {
		h.eph.Wipe()
	}
	h.eph, h.kem, h.ratchet = nil, nil, nil
}

// handleInit is the responder's step: check Init, make Response. Init names
// no identity; the initiator's identity, commitment and pin are checked in
// Finish, before anything is accepted from it.
func (h *Handshake) handleInit(b []byte) ([]byte, error) {
	m, err := parseInit(b, h.level)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(m.blobsHash[:], h.blobsHash[:]) != 1 {
		return nil, ErrBlobMismatch
	}
	if subtle.ConstantTimeCompare(m.bindingHash[:], h.bindHash[:]) != 1 {
		return nil, ErrChannelBinding
	}
	h.peerEph = m.ephemeral
	h.initKeys = append(append([]byte(nil), m.ephemeral...), m.kemKey...)
	if m.kemKey != nil {
		// FIPS 203 §7.2 encapsulation key check (the modulus check).
		if h.peerKEM, err = pqkem.NewEncapsulationKey(m.kemKey); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMLKEMKey, err)
		}
	}
	h.transcript = append(h.transcript, b...)
	r := h.respMsg
	h.respMsg = nil
	copy(r.prevHash[:], h.transcriptHash())
	if h.peerKEM != nil {
		var ct []byte
		if h.ssToInit, ct, err = h.encapsulate(h.peerKEM); err != nil {
			return nil, err
		}
		r.kemCT = ct
	}
	// Our signature was started in New; compute the exchanges with the
	// initiator's ephemeral key meanwhile. The signature is dropped if a
	// check fails.
	checkErr := h.checkInit()
	sg := <-h.presig
	h.presig = nil
	if checkErr != nil {
		return nil, checkErr
	}
	if sg.err != nil {
		return nil, sg.err
	}
	r.edSig, r.falconSig = sg.ed, sg.falcon
	out := r.marshal()
	h.transcript = append(h.transcript, out...)
	return out, nil
}

// checkInit checks reflection and computes the two exchanges that need only
// the initiator's ephemeral key (PROTOCOL.md §2.5): DH2 = DH(EK_I, IK_R) and
// DH3 = DH(EK_I, EK_R). DH1 = DH(IK_I, EK_R) follows in Finish, which
// carries the initiator's identity. The identity exchange goes last: a
// Signer in another process is busy signing.
func (h *Handshake) checkInit() error {
	if bytes.Equal(h.eph.PublicKey(), h.peerEph) {
		return ErrReflection
	}
	dh3, err := x25519(h.eph, h.peerEph)
	if err != nil {
		return err
	}
	dh2, err := h.cfg.Signer.IdentityDH(h.peerEph)
	if err != nil {
		clear(dh3)
		return signerErr(err)
	}
	h.dh2, h.dh3 = dh2, dh3
	return nil
}

func (h *Handshake) setDH(dh1, dh2, dh3 []byte) {
	// F = 32 × 0xFF as in X3DH §2.2 / PQXDH §2.2, then the DH outputs.
	h.dh = make([]byte, 0, 4*32)
	h.dh = append(h.dh, bytes.Repeat([]byte{0xff}, 32)...)
	h.dh = append(h.dh, dh1...)
	h.dh = append(h.dh, dh2...)
	h.dh = append(h.dh, dh3...)
	clear(dh1)
	clear(dh2)
	clear(dh3)
}

// handleResponse is the initiator's step: check Response, make Finish. Our
// signature over Init and our identity was started in New. The work that
// does not need the responder's identity (the ML-KEM-1024 encapsulation to
// its key and the decapsulation of its ciphertext, the exchanges with its
// ephemeral key) runs beside the identity and signature checks; errors are
// still reported in the order of §2.5, and nothing is sent unless every
// check passed.
func (h *Handshake) handleResponse(b []byte) ([]byte, error) {
	m, err := parseResponse(b, h.level)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(m.prevHash[:], h.transcriptHash()) != 1 {
		return nil, fmt.Errorf("%w: Response does not answer our Init", ErrTranscript)
	}
	thR := h.responderSigHash(m)
	f := &finishMsg{exporter: h.xb, identity: h.self.Bytes()}
	var side responseSide
	done := make(chan struct{})
	if h.rand != nil {
		side.run(h, m) // deterministic tests: randomness in a fixed order
		close(done)
	} else {
		go func() {
			defer close(done)
			side.run(h, m)
		}()
	}
	err = h.checkResponse(m, thR)
	<-done
	sg := <-h.presig
	h.presig = nil
	if err == nil {
		err = side.result(h)
	}
	if err == nil {
		err = sg.err
	}
	if err != nil {
		side.wipe()
		return nil, err
	}
	h.ssToResp, h.ssToInit, f.kemCT = side.ssOut, side.ssIn, side.ct
	f.edSig, f.falconSig = sg.ed, sg.falcon
	h.transcript = append(h.transcript, b...)
	copy(f.prevHash[:], h.transcriptHash())
	th3 := h.transcriptHash(f.marshalHead())
	h.deriveKeys(th3)
	maced := f.marshalMACed(h.level)
	mac := h.mac(labelInitiatorMAC, h.transcriptHash(maced))
	out := append(maced, mac...)
	h.transcript = append(h.transcript, out...)
	return out, nil
}

// responseSide is the initiator's work on Response that needs no identity:
// DH1 = DH(IK_I, EK_R) and DH3 = DH(EK_I, EK_R), the encapsulation to the
// responder's ML-KEM-1024 key and the decapsulation of CT_R.
type responseSide struct {
	dh1, dh3       []byte
	dh1Err, dh3Err error
	ssOut, ct      []byte // encapsulated to PQ_R
	ssIn           []byte // decapsulated from CT_R
	kemErr, decErr error
	peerKEM        *pqkem.EncapsulationKey
}

func (r *responseSide) run(h *Handshake, m *responseMsg) {
	if h.level >= LevelEnhanced {
		var ek *pqkem.EncapsulationKey
		if ek, r.kemErr = pqkem.NewEncapsulationKey(m.kemKey); r.kemErr != nil {
			r.kemErr = fmt.Errorf("%w: %v", ErrMLKEMKey, r.kemErr)
		} else if r.ssOut, r.ct, r.kemErr = h.encapsulate(ek); r.kemErr == nil {
			r.peerKEM = ek
		}
		if r.ssIn, r.decErr = h.kem.Decapsulate(m.kemCT); r.decErr != nil {
			r.decErr = fmt.Errorf("%w: %v", ErrMLKEMCiphertext, r.decErr)
		}
	}
	r.dh3, r.dh3Err = x25519(h.eph, m.ephemeral)
	if r.dh1, r.dh1Err = h.cfg.Signer.IdentityDH(m.ephemeral); r.dh1Err != nil {
		r.dh1Err = signerErr(r.dh1Err)
	}
}

// result combines the side work with DH2 (computed by checkResponse) and
// reports the first error in the order of §2.5.
func (r *responseSide) result(h *Handshake) error {
	for _, err := range []error{r.dh1Err, h.dh2Err, r.dh3Err, r.kemErr, r.decErr} {
		if err != nil {
			return err
		}
	}
	h.peerKEM = r.peerKEM
	h.setDH(r.dh1, h.dh2, r.dh3)
	h.dh2 = nil
	return nil
}

func (r *responseSide) wipe() {
	clear(r.dh1)
	clear(r.dh3)
	clear(r.ssOut)
	clear(r.ssIn)
}

// checkResponse is the initiator's checks of Response (identity, signatures
// over thR, reflection, ratchet key) and DH2 = DH(EK_I, IK_R); a failure of
// DH2 is kept in h.dh2Err, to be reported after DH1's.
func (h *Handshake) checkResponse(m *responseMsg, thR []byte) error {
	var err error
	if h.peer, err = h.checkPeer(m.identity); err != nil {
		return err
	}
	if err := h.peer.VerifyBundle(thR, m.edSig, m.falconSig, h.level); err != nil {
		return err
	}
	if bytes.Equal(m.ephemeral, h.eph.PublicKey()) {
		return ErrReflection
	}
	h.peerEph, h.peerRat, h.nonceCmt = m.ephemeral, m.ratchet, m.nonceCmt
	if _, err := ecdh.X25519().NewPublicKey(h.peerRat); err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrMessageFormat, err)
	}
	h.dh2, h.dh2Err = x25519(h.eph, h.peer.xpub)
	return nil
}

// deriveKeys computes PRK = HKDF-Extract(salt = th3, F || DH1 || DH2 || DH3
// [|| ss_R→I || ss_I→R]) (PROTOCOL.md §2.5).
func (h *Handshake) deriveKeys(th3 []byte) {
	ikm := make([]byte, 0, len(h.dh)+64)
	ikm = append(ikm, h.dh...)
	ikm = append(ikm, h.ssToInit...)
	ikm = append(ikm, h.ssToResp...)
	prk, err := hkdf.Extract(sha256.New, ikm, th3)
	if err != nil {
		panic(err) // cannot happen for SHA-256
	}
	clear(ikm)
	h.prk = prk
}

func (h *Handshake) expand(label string, th []byte, n int) []byte {
	out, err := hkdf.Expand(sha256.New, h.prk, label+"\x00"+string(th), n)
	if err != nil {
		panic(err) // cannot happen for these lengths
	}
	return out
}

func (h *Handshake) mac(label string, th []byte) []byte {
	k := h.expand(label, nil, 32)
	m := hmac.New(sha256.New, k)
	m.Write(th)
	clear(k)
	return m.Sum(nil)
}

// handleFinish is the responder's step: check Finish, make Confirm, finish.
func (h *Handshake) handleFinish(b []byte) ([]byte, error) {
	m, err := parseFinish(b, h.level)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(m.prevHash[:], h.transcriptHash()) != 1 {
		return nil, fmt.Errorf("%w: Finish does not follow our Response", ErrTranscript)
	}
	if subtle.ConstantTimeCompare(m.exporter[:], h.xb[:]) != 1 {
		return nil, fmt.Errorf("%w: the inner TLS sessions differ", ErrChannelBinding)
	}
	if h.peer, err = h.checkPeer(m.identity); err != nil {
		return nil, err
	}
	thI := initiatorSigHash(h.level, h.cfg.PeerBlob, m.identity, h.initKeys)
	// Decapsulate beside the signature checks (another core); the
	// signatures' verdict comes first, as in §2.5.
	var ss []byte
	var decErr error
	decapsulated := make(chan struct{})
	if h.level >= LevelEnhanced {
		go func() {
			defer close(decapsulated)
			ss, decErr = h.kem.Decapsulate(m.kemCT)
		}()
	} else {
		close(decapsulated)
	}
	err = h.peer.VerifyBundle(thI, m.edSig, m.falconSig, h.level)
	<-decapsulated
	h.ssToResp = ss
	if err != nil {
		return nil, err
	}
	dh1, err := x25519(h.eph, h.peer.xpub)
	if err != nil {
		return nil, err
	}
	h.setDH(dh1, h.dh2, h.dh3)
	h.dh2, h.dh3 = nil, nil
	if decErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrMLKEMCiphertext, decErr)
	}
	h.deriveKeys(h.transcriptHash(b[:m.th3Len]))
	want := h.mac(labelInitiatorMAC, h.transcriptHash(b[:m.macLen]))
	if !hmac.Equal(want, m.mac[:]) {
		return nil, ErrKeyConfirmation
	}
	h.transcript = append(h.transcript, b...)
	c := &confirmMsg{}
	copy(c.prevHash[:], h.transcriptHash())
	copy(c.nonce[:], h.nonce)
	maced := c.marshalMACed()
	copy(c.mac[:], h.mac(labelResponderMAC, h.transcriptHash(maced)))
	out := c.marshal()
	h.transcript = append(h.transcript, out...)
	h.finish()
	h.result.ResponderRatchetPrivate = h.ratchet
	h.result.ResponderRatchetPublic = h.ratchet.PublicKey()
	h.wipe()
	return out, nil
}

// handleConfirm is the initiator's last step.
func (h *Handshake) handleConfirm(b []byte) error {
	m, err := parseConfirm(b)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(m.prevHash[:], h.transcriptHash()) != 1 {
		return fmt.Errorf("%w: Confirm does not follow our Finish", ErrTranscript)
	}
	if !hmac.Equal(h.mac(labelResponderMAC, h.transcriptHash(b[:m.macLen])), m.mac[:]) {
		return ErrKeyConfirmation
	}
	cmt := nonceCommitment(m.nonce[:])
	if subtle.ConstantTimeCompare(cmt[:], h.nonceCmt[:]) != 1 {
		return ErrNonceCommitment
	}
	h.transcript = append(h.transcript, b...)
	h.finish()
	pub, err := ecdh.X25519().NewPublicKey(h.peerRat)
	if err != nil {
		return fmt.Errorf("%w: ratchet key: %v", ErrMessageFormat, err)
	}
	h.result.ResponderRatchetPublic = pub
	h.wipe()
	return nil
}

// nonceCommitment is SHA-256(labelNonce || N_R) (PROTOCOL.md §3.3).
func nonceCommitment(n []byte) (c [hashSize]byte) {
	d := sha256.New()
	d.Write([]byte(labelNonce))
	d.Write(n)
	d.Sum(c[:0])
	return c
}

// finish computes the outputs from the complete transcript (all four
// messages): TranscriptHash = th5, SessionSecret = HKDF-Expand(PRK,
// labelSessionSecret || 0x00 || th5, 64).
func (h *Handshake) finish() {
	th5 := h.transcriptHash()
	r := &Result{Role: h.cfg.Role, Level: h.level, Peer: h.peer}
	copy(r.TranscriptHash[:], th5)
	r.AD = append([]byte(nil), th5...)
	r.SessionSecret = h.expand(labelSessionSecret, th5, SessionSecretSize)
	h.result = r
}
