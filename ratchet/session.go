package ratchet

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// core is the fixed-size part of the ratchet state (spec §3.2 / §4.2 plus
// the KEM ratchet). It is a value: Decrypt works on a copy and commits it
// only on success. Byte slices and key objects inside are never modified in
// place, only replaced, so a shallow copy is a true snapshot.
type core struct {
	cfg Config
	ad  []byte

	dhs    *xKey    // DHs: our current ratchet key pair
	dhr    [32]byte // DHr: peer's current ratchet public key
	hasDHr bool

	rk     [keySize]byte // RK
	cks    [keySize]byte // CKs (always present: both roles start with a sending chain)
	ckr    [keySize]byte // CKr
	hasCKr bool
	hks    [keySize]byte // HKs (always present)
	hkr    [keySize]byte // HKr
	hasHKr bool
	nhks   [keySize]byte // NHKs
	nhkr   [keySize]byte // NHKr
	ns     uint32
	nr     uint32
	pn     uint32

	// KEM ratchet (PROTOCOL.md §4.6).
	sendMixed bool   // the current sending chain's root step mixed a KEM secret
	sendObj   byte   // KEM object attached to message 0 of the current sending chain
	nextKEMID uint32 // id of our last generated ML-KEM key pair
	lastPeer  uint32 // highest peer encapsulation key id seen
	kemPhase  uint32 // sending chains since the last one allowed a KEM object, mod PQInterval

	myDK   *kemDK // our pending key pair (its ek was sent, no ct yet)
	myDKID uint32

	peerEK   *kemEK // peer key not yet encapsulated to
	peerEKID uint32

	ctOut   []byte        // our ciphertext awaiting the peer's confirmation (flagMixed)
	ctOutID uint32        // id of the peer key it targets
	ssOut   [keySize]byte // its shared secret
	hasCt   bool

	// pend is the sending half of the last DH ratchet step while it is
	// still being computed (async.go); nil once applied. While it is set,
	// dhs is nil and RK, CKs, NHKs, myDK, peerEK and the KEM ciphertext are
	// those of before the sending half.
	pend *sendJob
}

// ready reports whether c was initialised.
func (c *core) ready() bool { return c.dhs != nil || c.pend != nil }

func (c *core) wipe() {
	clear(c.rk[:])
	clear(c.cks[:])
	clear(c.ckr[:])
	clear(c.hks[:])
	clear(c.hkr[:])
	clear(c.nhks[:])
	clear(c.nhkr[:])
	clear(c.ssOut[:])
	c.dhs = nil
	c.myDK = nil
	c.peerEK = nil
	c.pend = nil // the job itself is wiped by the Session that owns it
}

// keySource supplies fresh key pairs; tests replace it to record or
// replay the X25519 secrets (the "quantum attacker" tests).
type keySource interface {
	newX25519() (*xKey, error)
	newMLKEM() (*kemDK, error)
	encapsulate(ek *kemEK) (sharedKey, ciphertext []byte, err error)
}

type systemKeys struct{}

func (systemKeys) newX25519() (*xKey, error) {
	return generateXKey()
}

func (systemKeys) newMLKEM() (*kemDK, error) {
	return generateKEMDK()
}

func (systemKeys) encapsulate(ek *kemEK) ([]byte, []byte, error) {
	return ek.encapsulate()
}

// Session is one side of a ratchet session. It is safe for concurrent use.
type Session struct {
	mu      sync.Mutex
	st      core
	skipped []skippedChain // oldest first
	nskip   int            // total keys in skipped
	src     keySource
	closed  bool
	pool    *keyPool       // Config.KeysAhead, else nil
	bg      sync.WaitGroup // background goroutines (jobs, pool fills)
}

// settleLocked applies the pending sending half of the last ratchet step to
// the session state.
func (s *Session) settleLocked() error {
	j := s.st.pend
	if j == nil {
		return nil
	}
	if err := s.st.finish(); err != nil {
		return err
	}
	j.wipe()
	return nil
}

// commitLocked makes c, a working copy of s.st, the session state. A job
// that was pending in s.st and is no longer pending in c was applied to c:
// its secrets are wiped.
func (s *Session) commitLocked(c *core) {
	if old := s.st.pend; old != nil && old != c.pend {
		if old.newDHs != c.dhs {
			old.wipeAll() // applied to c, and its key already used up
		} else {
			old.wipe()
		}
	}
	if s.st.dhs != nil && s.st.dhs != c.dhs {
		s.st.dhs.wipe() // the ratchet key a step just replaced
	}
	s.st = *c
}

// discardLocked wipes a job started on working copy c that is not being
// committed.
func (s *Session) discardLocked(c *core) {
	if c.pend != nil && c.pend != s.st.pend {
		c.pend.wipeAll()
	}
}

func (s *Session) startPool(x, dk bool) {
	if !s.st.cfg.KeysAhead || s.st.cfg.Synchronous {
		return
	}
	s.pool = &keyPool{src: s.src, wg: &s.bg}
	s.pool.refill(x, dk)
}

// NewInitiator starts the session of the side that sent the first handshake
// message. responderKey is the responder's initial ratchet public key (a
// fresh X25519 key of the handshake); nil means both sides derive it from
// the secret (NewResponder must then also get nil). secret is the
// handshake's output (32..96 bytes); ad the session associated data
// (≤ MaxADSize bytes), identical on both sides.
func NewInitiator(cfg Config, secret, ad []byte, responderKey *ecdh.PublicKey) (*Session, error) {
	return newInitiator(cfg, secret, ad, responderKey, systemKeys{})
}

// NewResponder starts the responder's session. responderKey is the
// responder's initial X25519 ratchet key pair whose public half the
// initiator passes to NewInitiator (nil: derived from the secret).
func NewResponder(cfg Config, secret, ad []byte, responderKey *ecdh.PrivateKey) (*Session, error) {
	return newResponder(cfg, secret, ad, responderKey, systemKeys{})
}

func checkInputs(cfg Config, secret, ad []byte) (Config, error) {
	cfg, err := cfg.normalise()
	if err != nil {
		return cfg, err
	}
	if len(secret) < 32 || len(secret) > 96 {
		return cfg, fmt.Errorf("ratchet: secret is %d bytes, want 32..96", len(secret))
	}
	if len(ad) > MaxADSize {
		return cfg, fmt.Errorf("ratchet: associated data is %d bytes, limit %d", len(ad), MaxADSize)
	}
	return cfg, nil
}

func derivedResponderKey(secret []byte, pq bool) (*xKey, error) {
	b, err := deriveResponderScalar(secret, pq)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return newXKey(b)
}

func newInitiator(cfg Config, secret, ad []byte, responderKey *ecdh.PublicKey, src keySource) (*Session, error) {
	cfg, err := checkInputs(cfg, secret, ad)
	if err != nil {
		return nil, err
	}
	var peer [32]byte
	if responderKey == nil {
		k, err := derivedResponderKey(secret, cfg.PQ)
		if err != nil {
			return nil, err
		}
		peer = k.pub
		k.wipe()
	} else if responderKey.Curve() != ecdh.X25519() {
		return nil, errors.New("ratchet: responder key is not an X25519 key")
	} else {
		copy(peer[:], responderKey.Bytes())
	}
	ik, err := deriveInit(secret, cfg.PQ)
	if err != nil {
		return nil, err
	}
	defer ik.wipe()
	s := &Session{src: src}
	c := &s.st
	c.cfg = cfg
	c.cfg.Keys = nil
	c.ad = append([]byte(nil), ad...)
	c.dhr = peer
	c.hasDHr = true
	// The first sending chain: the sending half of a DH ratchet step from
	// RK0 (spec §3.3 RatchetInitAlice), computed synchronously.
	c.rk = ik.rk
	j := s.newJob(&peer)
	if cfg.Keys != nil {
		if j.dhs, j.presetDK, err = cfg.Keys.take(); err != nil {
			return nil, err
		}
	}
	if err := c.decideKEM(j); err != nil {
		return nil, err
	}
	j.prepare()
	c.pend = j
	err = c.finish()
	j.wipe()
	if err != nil {
		s.wipeLocked()
		if errors.Is(err, ErrProtocol) {
			return nil, fmt.Errorf("ratchet: responder key: %w", err)
		}
		return nil, err
	}
	c.hks = ik.hka
	c.nhkr = ik.nhkb
	c.hkr, c.hasHKr = ik.hkb, true
	c.ckr, c.hasCKr = ik.ckb, true
	s.startPool(true, cfg.PQ)
	return s, nil
}

func newResponder(cfg Config, secret, ad []byte, responderKey *ecdh.PrivateKey, src keySource) (*Session, error) {
	cfg, err := checkInputs(cfg, secret, ad)
	if err != nil {
		return nil, err
	}
	var own *xKey
	if responderKey == nil {
		if own, err = derivedResponderKey(secret, cfg.PQ); err != nil {
			return nil, err
		}
	} else if responderKey.Curve() != ecdh.X25519() {
		return nil, errors.New("ratchet: responder key is not an X25519 key")
	} else {
		// A copy: wiping the session's key must not touch the caller's.
		own = new(xKey)
		copy(own.priv[:], responderKey.Bytes())
		copy(own.pub[:], responderKey.PublicKey().Bytes())
	}
	ik, err := deriveInit(secret, cfg.PQ)
	if err != nil {
		return nil, err
	}
	defer ik.wipe()
	s := &Session{src: src}
	c := &s.st
	c.cfg = cfg
	c.ad = append([]byte(nil), ad...)
	c.dhs = own
	c.rk = ik.rk
	c.hks = ik.hkb
	c.cks = ik.ckb
	c.nhks = ik.nhkb
	c.nhkr = ik.hka
	c.cfg.Keys = nil
	// The responder's initial chain carries no KEM object: the initiator's
	// first chain starts the KEM ratchet.
	s.startPool(true, false)
	return s, nil
}

func (k *initKeys) wipe() {
	clear(k.rk[:])
	clear(k.hka[:])
	clear(k.nhkb[:])
	clear(k.ckb[:])
	clear(k.hkb[:])
}

// PQ reports whether the ML-KEM-1024 ratchet is on.
func (s *Session) PQ() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.cfg.PQ
}

// Close wipes the session's key material. Later calls return ErrClosed.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wipeLocked()
	return nil
}

func (s *Session) wipeLocked() {
	if j := s.st.pend; j != nil {
		j.wipeAll()
	}
	if s.st.dhs != nil {
		s.st.dhs.wipe()
	}
	if s.pool != nil {
		s.pool.close()
		s.pool = nil
	}
	s.bg.Wait()
	s.st.wipe()
	for i := range s.skipped {
		clear(s.skipped[i].hk[:])
		for j := range s.skipped[i].keys {
			clear(s.skipped[i].keys[j].mk[:])
		}
	}
	s.skipped = nil
	s.nskip = 0
	s.closed = true
}

// headerAD is the header AEAD's associated data: len(AD) ‖ AD ‖ prefix byte.
func headerAD(ad []byte, prefix byte) []byte {
	b := make([]byte, 0, 2+len(ad)+1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ad)))
	b = append(b, ad...)
	return append(b, prefix)
}

// messageAD is the body AEAD's associated data: len(AD) ‖ AD ‖ everything
// before the body (prefix byte, header nonce, encrypted header).
func messageAD(ad, prefix []byte) []byte {
	b := make([]byte, 0, 2+len(ad)+len(prefix))
	b = binary.BigEndian.AppendUint16(b, uint16(len(ad)))
	b = append(b, ad...)
	return append(b, prefix...)
}

var zeroNonce [chacha20poly1305.NonceSize]byte

// Encrypt pads and encrypts plaintext as the next message of the sending
// chain (spec §4.3 RatchetEncryptHE).
func (s *Session) Encrypt(plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintextSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(plaintext), MaxPlaintextSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if !s.st.ready() {
		return nil, ErrUninitialised
	}
	if err := s.settleLocked(); err != nil {
		return nil, err
	}
	c := &s.st
	if c.ns == math.MaxUint32 {
		return nil, ErrExhausted
	}
	h := header{pn: c.pn, n: c.ns}
	h.dh = c.dhs.pub
	if c.sendMixed {
		h.flags |= flagMixed
	}
	kind := byte(kindShort)
	if c.ns == 0 && c.sendObj != objNone {
		kind = kindLong
		switch c.sendObj {
		case objEK:
			h.flags |= flagEK
			h.kemID = c.myDKID
			h.obj = c.myDK.ek
		case objCT:
			h.flags |= flagCT
			h.kemID = c.ctOutID
			h.obj = c.ctOut
		}
	}
	hlen := shortHeaderSize
	if kind == kindLong {
		hlen = longHeaderSize
	}
	plen := paddedLen(len(plaintext))
	out := make([]byte, 1+nonceSize, 1+nonceSize+hlen+tagSize+plen+tagSize)
	out[0] = wireVersion<<4 | kind
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, err
	}
	// The header plaintext is written where its ciphertext goes and
	// sealed in place (no separate buffer of a long header's size).
	hpt := h.appendTo(out[1+nonceSize : 1+nonceSize])
	haead, err := chacha20poly1305.NewX(c.hks[:])
	if err != nil {
		clear(hpt)
		return nil, err
	}
	out = haead.Seal(out[:1+nonceSize], out[1:1+nonceSize], hpt, headerAD(c.ad, out[0]))
	prefixLen := len(out)

	mk, next := kdfCK(&c.cks)
	defer clear(mk[:])
	bk := bodyKey(&mk, out[1:1+nonceSize])
	defer clear(bk[:])
	maead, err := chacha20poly1305.New(bk[:])
	if err != nil {
		return nil, err
	}
	body := pad(out[prefixLen:prefixLen], plaintext)
	out = maead.Seal(out[:prefixLen], zeroNonce[:], body, messageAD(c.ad, out[:prefixLen]))
	c.cks = next
	clear(next[:])
	c.ns++
	return out, nil
}

func openHeader(hk *[keySize]byte, w *wireMsg, ad []byte) ([]byte, bool) {
	a, err := chacha20poly1305.NewX(hk[:])
	if err != nil {
		return nil, false
	}
	pt, err := a.Open(nil, w.nonce, w.hdrCT, ad)
	return pt, err == nil
}

func openBody(mk *[keySize]byte, w *wireMsg, ad []byte) ([]byte, error) {
	bk := bodyKey(mk, w.nonce)
	defer clear(bk[:])
	a, err := chacha20poly1305.New(bk[:])
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, zeroNonce[:], w.body, messageAD(ad, w.prefix))
	if err != nil {
		return nil, ErrAuth
	}
	out, err := unpad(pt)
	if err != nil {
		clear(pt)
		return nil, err
	}
	return out, nil
}

// Decrypt authenticates and decrypts a message (spec §4.3
// RatchetDecryptHE). On any error the Session is left exactly as it was.
func (s *Session) Decrypt(message []byte) ([]byte, error) {
	w, err := parseWire(message)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if !s.st.ready() {
		return nil, ErrUninitialised
	}
	c := s.st // working copy; committed only on success
	defer c.wipe()
	defer s.discardLocked(&c)
	var pending []pendingSkip
	defer func() { wipePending(pending) }()
	hAD := headerAD(c.ad, message[0])

	// 1. The current receiving header key: no DH ratchet step.
	if c.hasHKr {
		if hpt, ok := openHeader(&c.hkr, w, hAD); ok {
			h, err := parseHeader(hpt, w.kind)
			if err != nil {
				return nil, err
			}
			if h.n < c.nr {
				return s.decryptSkipped(&c.hkr, h, w)
			}
			if subtle.ConstantTimeCompare(h.dh[:], c.dhr[:]) != 1 {
				return nil, fmt.Errorf("%w: ratchet key changed without a header key change", ErrProtocol)
			}
			return s.decryptInChain(&c, h, w, &pending)
		}
	}
	// 2. Header keys of earlier chains with stored skipped keys.
	for i := len(s.skipped) - 1; i >= 0; i-- {
		sc := &s.skipped[i]
		if c.hasHKr && subtle.ConstantTimeCompare(sc.hk[:], c.hkr[:]) == 1 {
			continue
		}
		if hpt, ok := openHeader(&sc.hk, w, hAD); ok {
			h, err := parseHeader(hpt, w.kind)
			if err != nil {
				return nil, err
			}
			return s.decryptSkipped(&sc.hk, h, w)
		}
	}
	// 3. The next receiving header key: a DH (and maybe KEM) ratchet step.
	hpt, ok := openHeader(&c.nhkr, w, hAD)
	if !ok {
		return nil, ErrUnknownKey
	}
	h, err := parseHeader(hpt, w.kind)
	if err != nil {
		return nil, err
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	if err := c.skipTo(h.pn, &pending); err != nil {
		return nil, err
	}
	if err := c.ratchetRecv(h, s.newJob(&h.dh)); err != nil {
		return nil, err
	}
	return s.decryptInChain(&c, h, w, &pending)
}

// decryptInChain decrypts message h.n of c's current receiving chain and,
// on success, commits c and the pending skipped keys.
func (s *Session) decryptInChain(c *core, h *header, w *wireMsg, pending *[]pendingSkip) ([]byte, error) {
	if h.n == math.MaxUint32 {
		return nil, fmt.Errorf("%w: message number overflow", ErrMalformed)
	}
	if err := c.skipTo(h.n, pending); err != nil {
		return nil, err
	}
	mk, next := kdfCK(&c.ckr)
	defer clear(mk[:])
	defer clear(next[:])
	pt, err := openBody(&mk, w, c.ad)
	if err != nil {
		return nil, err
	}
	c.ckr = next
	c.nr = h.n + 1
	s.commitLocked(c)
	s.commitSkipped(*pending)
	return pt, nil
}
