package chat

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/ratchet"
	"github.com/rtcchat/rtcchat/rtc"
	"github.com/rtcchat/rtcchat/vault"
)

// Contacts decides whether an authenticated peer may talk to us and keeps
// what belongs to each contact. The vault implements it for the CLI.
type Contacts interface {
	// Admit is called once the handshake has authenticated peer. It pins a
	// first contact, or refuses a known contact whose identity changed. It
	// returns the contact's name and whether the identity was pinned now and
	// whether it was verified.
	Admit(peer *handshake.PublicIdentity) (name string, first, verified bool, err error)
	// MarkVerified records that the safety number with peer was compared.
	MarkVerified(peer *handshake.PublicIdentity) error
	// Store returns the sealed per-contact store (pending messages, seen ids).
	Store(peer *handshake.PublicIdentity) (Store, error)
}

// Config configures one side of a connection.
type Config struct {
	RTC rtc.Config
	// Signer is this side's identity (an in-process *handshake.Identity, or
	// the vault's isolated key process).
	Signer handshake.Signer
	// MinLevel is the lowest security level this side accepts
	// (handshake.DefaultLevel if zero).
	MinLevel handshake.Level
	// MaxLevel is the highest level this side offers
	// (handshake.MaxSupportedLevel if zero).
	MaxLevel handshake.Level
	// PinnedPeer, when the user named a known contact, is that contact's
	// identity: a peer with any other identity is refused.
	PinnedPeer *handshake.PublicIdentity
	// Contacts admits the peer after the handshake; nil admits anyone (tests).
	Contacts Contacts
	// OnReject, if set, hears about input from the peer that was refused
	// (messages failing authentication, malformed frames): for a security
	// log. It never receives secrets or message content.
	OnReject func(what string, err error)
	// SetupTimeout bounds inner TLS plus handshake (DefaultSetupTimeout if zero).
	SetupTimeout time.Duration
}

// DefaultSetupTimeout bounds everything between the open data channel and a
// running session: a silent or stalling peer cannot hold us longer.
const DefaultSetupTimeout = 60 * time.Second

// Errors of the connection flow.
var (
	ErrLevel = errors.New("chat: no acceptable security level")
)

func (c *Config) blobInfo() ([]byte, error) {
	if c.Signer == nil {
		return nil, errors.New("chat: no identity to connect with")
	}
	bi := handshake.NewBlobInfo(c.Signer.Public(), handshake.DefaultLevel)
	if c.MinLevel != 0 {
		bi.MinLevel = c.MinLevel
	}
	if c.MaxLevel != 0 {
		bi.MaxLevel = c.MaxLevel
	}
	return handshake.EncodeBlobInfo(bi)
}

// maxLevel is the highest level this side may negotiate.
func (c *Config) maxLevel() handshake.Level {
	if c.MaxLevel != 0 {
		return c.MaxLevel
	}
	return handshake.MaxSupportedLevel
}

// prepared is the set-up work that does not depend on the peer, done in the
// background while the people exchange blobs (docs/PROTOCOL.md §2.8, §6.1):
// the inner TLS certificate, the handshake's ephemeral keys
// (handshake.Prepare), the signer's own precomputation (the expanded
// FALCON-1024 key), on the offering side σ_I over its offer
// (Ephemerals.Presign) and the ratchet's first key pairs
// (ratchet.GenerateKeys), and last a warm-up of inner TLS (warmUpTLS).
// establish waits for each piece when it needs it; a piece that failed or
// was taken already is made on the spot as before.
type prepared struct {
	certReady chan struct{} // closed once cert/certErr are set
	ephReady  chan struct{} // closed once eph is set (or could not be made)
	done      chan struct{} // closed when the goroutine has ended
	offerBlob chan []byte   // initiator: our offer blob, once it exists (one value)
	quit      chan struct{} // closed by destroy: stop waiting for the blob

	mu      sync.Mutex
	closed  bool // destroy ran: nothing may be handed out any more
	cert    *tls.Certificate
	certErr error
	eph     *handshake.Ephemerals
	given   *handshake.Ephemerals // eph once handed out (spent: it holds no keys)
	rkeys   *ratchet.Keys         // initiator only
	rkeysPQ bool                  // rkeys include the ML-KEM-1024 key pair
}

// startPrepare starts the background work for role, for levels up to level.
// The initiator's goroutine waits for setOfferBlob before it signs.
func startPrepare(cfg Config, role handshake.Role, level handshake.Level) *prepared {
	p := &prepared{certReady: make(chan struct{}), ephReady: make(chan struct{}), done: make(chan struct{}),
		offerBlob: make(chan []byte, 1), quit: make(chan struct{})}
	signer := cfg.Signer
	go func() {
		defer close(p.done)
		// In the order establish needs them: inner TLS first.
		var cert *tls.Certificate
		var certErr error
		if level >= handshake.LevelEnhanced && role == handshake.Initiator {
			// The offering side is the inner TLS server; the client
			// presents no certificate (§6.1).
			c, err := newEphemeralCert()
			cert, certErr = &c, err
		}
		p.mu.Lock()
		if p.closed {
			wipeCert(cert)
		} else {
			p.cert, p.certErr = cert, certErr
		}
		p.mu.Unlock()
		close(p.certReady)
		p.prepareHandshake(signer, role, level)
		close(p.ephReady)
		if role == handshake.Initiator && !p.isClosed() {
			pq := level >= handshake.LevelQuantum // as handshake.Result.PQRatchet
			if k, err := ratchet.GenerateKeys(pq); err == nil {
				p.mu.Lock()
				if p.closed {
					k.Wipe()
				} else {
					p.rkeys, p.rkeysPQ = k, pq
				}
				p.mu.Unlock()
			}
		}
		if level >= handshake.LevelEnhanced && !p.isClosed() {
			_ = warmUpTLS() // a failure only means the connection's TLS runs cold
		}
	}()
	return p
}

// prepareHandshake makes the ephemeral keys and the signer's
// precomputation and, on the initiator, σ_I over the offer blob once it is
// known. Errors are not kept: the handshake does the same work again and
// reports them.
func (p *prepared) prepareHandshake(signer handshake.Signer, role handshake.Role, level handshake.Level) {
	if p.isClosed() {
		return // given up: skip the rest
	}
	eph, err := handshake.Prepare(nil, role, level)
	if err != nil {
		return
	}
	// Before signing: the first signature would otherwise expand the key.
	if pc, ok := signer.(handshake.Precomputer); ok {
		_ = pc.Precompute()
	}
	if role == handshake.Initiator {
		select {
		case blob := <-p.offerBlob:
			_ = eph.Presign(signer, level, blob)
		case <-p.quit:
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		eph.Destroy()
		return
	}
	p.eph = eph
}

// setOfferBlob hands the initiator's goroutine our offer blob, for σ_I.
func (p *prepared) setOfferBlob(blob []byte) {
	select {
	case p.offerBlob <- bytes.Clone(blob):
	default: // given already
	}
}

func (p *prepared) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// takeCert waits for the prepared certificate and hands it out once (nil
// if none: the caller makes one).
func (p *prepared) takeCert(ctx context.Context) *tls.Certificate {
	if p == nil {
		return nil
	}
	select {
	case <-p.certReady:
	case <-ctx.Done():
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cert
	p.cert = nil
	if p.certErr != nil {
		return nil
	}
	return c
}

// takeEphemerals waits for the ephemeral keys (and σ_I on the initiator)
// and hands them out once (nil if none: the handshake makes its own).
func (p *prepared) takeEphemerals(ctx context.Context) *handshake.Ephemerals {
	if p == nil {
		return nil
	}
	select {
	case <-p.ephReady:
	case <-ctx.Done():
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.eph
	p.eph = nil
	if e != nil {
		p.given = e
	}
	return e
}

// takeRatchetKeys hands out the prepared first ratchet keys once, if they
// suit a ratchet with pq as given (nil otherwise: the ratchet makes its own).
func (p *prepared) takeRatchetKeys(pq bool) *ratchet.Keys {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.rkeys
	p.rkeys = nil
	if k != nil && p.rkeysPQ != pq {
		k.Wipe()
		return nil
	}
	return k
}

// destroy drops whatever was not handed out. It waits for the background
// work (a few milliseconds at most), so nothing of it outlives the Offer or
// Answer (the caller may destroy its identity next).
func (p *prepared) destroy() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if !p.closed {
		close(p.quit)
	}
	p.closed = true
	wipeCert(p.cert)
	p.cert = nil
	p.eph.Destroy()
	p.eph = nil
	if p.rkeys != nil {
		p.rkeys.Wipe()
		p.rkeys = nil
	}
	p.mu.Unlock()
	<-p.done
}

// Offer is the offering side of a connection in progress.
type Offer struct {
	cfg  Config
	o    *rtc.Offerer
	prep *prepared
}

// NewOffer gathers candidates and prepares the offer blob. The set-up work
// that does not depend on the peer starts in the background at once.
func NewOffer(ctx context.Context, cfg Config) (*Offer, error) {
	app, err := cfg.blobInfo()
	if err != nil {
		return nil, err
	}
	prep := startPrepare(cfg, handshake.Initiator, cfg.maxLevel())
	o, err := rtc.NewOfferer(ctx, cfg.RTC, app)
	if err != nil {
		prep.destroy()
		return nil, err
	}
	prep.setOfferBlob(o.LocalBinary()) // σ_I covers it: signed while the blob travels
	return &Offer{cfg: cfg, o: o, prep: prep}, nil
}

// Blob is the text to give to the peer.
func (o *Offer) Blob() string { return o.o.Blob() }

// Notes says what the user should know about gathering.
func (o *Offer) Notes() []string { return o.o.Notes() }

// Close gives up the offer (a conversation already made stays open) and
// drops the prepared keys it did not use.
func (o *Offer) Close() error {
	err := o.o.Close()
	o.prep.destroy()
	return err
}

// Connect takes the peer's answer blob, connects, authenticates and returns
// the running conversation.
func (o *Offer) Connect(ctx context.Context, answer string) (*Conversation, error) {
	var h *handshake.Handshake
	if raw, err := rtc.DecodeText(answer); err == nil {
		if blob, err := rtc.ParseBinary(raw); err == nil {
			// Check the level range before any network work: a clear early error.
			if err := checkPeerInfo(o.cfg, blob.App); err != nil {
				return nil, err
			}
			// Everything the initiator's Init and signature cover is known
			// now (PROTOCOL.md §2.8): start the handshake, so that the
			// FALCON-1024 signature is made while ICE and DTLS run.
			localApp, err := o.cfg.blobInfo()
			if err != nil {
				return nil, err
			}
			h, err = newHandshake(ctx, o.cfg, handshake.Initiator, o.prep, o.o.LocalBinary(), raw,
				localApp, blob.App, o.o.Local().Fingerprint[:], blob.Fingerprint[:])
			if err != nil {
				return nil, err
			}
		}
	}
	conn, err := o.o.Accept(ctx, answer)
	if err != nil {
		h.Close()
		return nil, err
	}
	return establish(ctx, o.cfg, conn, o.prep, h, nil)
}

// newHandshake creates this side's handshake (handshake.New) for the given
// blobs and DTLS fingerprints, with the prepared ephemeral keys if any.
func newHandshake(ctx context.Context, cfg Config, role handshake.Role, prep *prepared, localBlob, peerBlob, localApp, peerApp, localFP, peerFP []byte) (*handshake.Handshake, error) {
	eph := prep.takeEphemerals(ctx)
	defer eph.Destroy() // a no-op once the handshake took them
	return handshake.New(handshake.Config{
		Role:                 role,
		Signer:               cfg.Signer,
		LocalBlob:            localBlob,
		PeerBlob:             peerBlob,
		LocalInfo:            localApp,
		PeerInfo:             peerApp,
		LocalDTLSFingerprint: localFP,
		PeerDTLSFingerprint:  peerFP,
		PinnedPeer:           cfg.PinnedPeer,
		Ephemerals:           eph,
	})
}

// Answer is the answering side of a connection in progress.
type Answer struct {
	cfg   Config
	a     *rtc.Answerer
	prep  *prepared
	level handshake.Level // negotiated from the two blobs

	mu sync.Mutex
	h  *handshake.Handshake // made and signed by NewAnswer; nil once taken
}

// takeHandshake hands out the handshake NewAnswer made, once (nil after).
func (a *Answer) takeHandshake() *handshake.Handshake {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.h
	a.h = nil
	return h
}

// NewAnswer reads the peer's offer blob, gathers and prepares the answer.
func NewAnswer(ctx context.Context, cfg Config, offer string) (*Answer, error) {
	raw, err := rtc.DecodeText(offer) // rtc.Parse in two steps: the handshake binds raw
	if err != nil {
		return nil, err
	}
	blob, err := rtc.ParseBinary(raw)
	if err != nil {
		return nil, err
	}
	level, err := negotiate(cfg, blob.App)
	if err != nil {
		return nil, err
	}
	app, err := cfg.blobInfo()
	if err != nil {
		return nil, err
	}
	prep := startPrepare(cfg, handshake.Responder, level)
	a, err := rtc.NewAnswerer(ctx, cfg.RTC, offer, app)
	if err != nil {
		prep.destroy()
		return nil, err
	}
	// Everything the responder's signature covers is known now: make the
	// handshake and its signature, and finish the preparation, before the
	// answer is handed out (PROTOCOL.md §2.8). This adds about 2 ms to
	// making the answer, which people then carry to the peer; the
	// connection, which starts when the peer has it, finds everything done
	// instead of competing with it for the CPU during ICE and DTLS.
	local := a.Local()
	h, err := newHandshake(ctx, cfg, handshake.Responder, prep, a.LocalBinary(), raw,
		app, blob.App, local.Fingerprint[:], blob.Fingerprint[:])
	if err == nil {
		err = h.WaitSigned()
	}
	if err != nil {
		h.Close()
		a.Close()
		prep.destroy()
		return nil, err
	}
	select {
	case <-prep.done:
	case <-ctx.Done():
	}
	return &Answer{cfg: cfg, a: a, prep: prep, level: level, h: h}, nil
}

// Blob is the answer text to give back to the offering peer.
func (a *Answer) Blob() string { return a.a.Blob() }

// Notes says what the user should know about gathering.
func (a *Answer) Notes() []string { return a.a.Notes() }

// Close stops waiting for the offering side and drops the prepared keys it
// did not use.
func (a *Answer) Close() error {
	err := a.a.Close()
	a.takeHandshake().Close() // nil-safe; waits for a pending signature
	a.prep.destroy()
	return err
}

// Connect waits for the offering side, authenticates and returns the running
// conversation.
func (a *Answer) Connect(ctx context.Context) (*Conversation, error) {
	var early *clientTLS
	if a.level >= handshake.LevelEnhanced {
		// Start inner TLS (we are its client) now: its ClientHello, with
		// the hybrid key share, is made during ICE and DTLS and leaves as
		// soon as the data channel opens.
		lc := newLateConn()
		early = startClientTLS(ctx, lc)
		defer func() {
			if !lc.isSet() {
				lc.fail(errors.New("chat: the connection was not established"))
				early.wait()
			}
		}()
	}
	h := a.takeHandshake()
	conn, err := a.a.Wait(ctx)
	if err != nil {
		h.Close()
		return nil, err
	}
	if early != nil {
		early.under.(*lateConn).set(rtcConn{conn})
	}
	return establish(ctx, a.cfg, conn, a.prep, h, early)
}

// checkPeerInfo parses the peer's blob application field and checks that a
// level both sides accept exists.
func checkPeerInfo(cfg Config, app []byte) error {
	_, err := negotiate(cfg, app)
	return err
}

// negotiate is checkPeerInfo that also returns the level.
func negotiate(cfg Config, app []byte) (handshake.Level, error) {
	peer, err := handshake.ParseBlobInfo(app)
	if err != nil {
		return 0, fmt.Errorf("chat: the peer's blob carries no valid identity commitment: %w", err)
	}
	mine, err := cfg.blobInfo()
	if err != nil {
		return 0, err
	}
	local, _ := handshake.ParseBlobInfo(mine)
	level, err := handshake.NegotiateLevel(local, peer)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrLevel, err)
	}
	return level, nil
}

// establish runs the layers above the data channel: inner TLS 1.3 (enhanced
// and quantum levels), the handshake bound to both blobs, both DTLS
// fingerprints and the TLS exporter, admission of the peer, the ratchet, and
// finally the session. prep (may be nil) holds what was made while the
// blobs were exchanged; h (may be nil) is the handshake the offering side
// started before connecting.
//
// The handshake's Init carries no identity, so the offering side (the
// initiator) sends it on the data channel before inner TLS; the answering
// side (TLS client) builds and signs its Response while the TLS handshake
// runs and sends it inside TLS (PROTOCOL.md §2.8, §6.1).
func establish(ctx context.Context, cfg Config, conn *rtc.Conn, prep *prepared, h *handshake.Handshake, early *clientTLS) (conv *Conversation, err error) {
	timeout := cfg.SetupTimeout
	if timeout <= 0 {
		timeout = DefaultSetupTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dc := rtcConn{conn}
	var mc MessageConn = dc
	if early != nil {
		// The early TLS client runs under the caller's context; bound it
		// by the set-up timeout from here on.
		stop := context.AfterFunc(ctx, early.cancel)
		defer stop()
	}
	defer func() {
		if err != nil {
			h.Close()
			mc.Close()
			if early != nil {
				early.wait()
			}
		}
	}()
	localApp, err := cfg.blobInfo()
	if err != nil {
		return nil, err
	}
	localInfo, _ := handshake.ParseBlobInfo(localApp)
	peerInfo, err := handshake.ParseBlobInfo(conn.RemoteApp())
	if err != nil {
		return nil, fmt.Errorf("chat: peer blob: %w", err)
	}
	level, err := handshake.NegotiateLevel(localInfo, peerInfo)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLevel, err)
	}
	role := handshake.Responder
	if conn.IsOfferer() {
		role = handshake.Initiator
	}
	lfp, rfp := conn.LocalFingerprint(), conn.RemoteFingerprint()
	if h != nil && (h.Level() != level || !h.Matches(conn.LocalBlob(), conn.RemoteBlob(), lfp[:], rfp[:])) {
		// Made from other values than the connection has (cannot happen
		// with rtc's blobs): start over from the connection's own.
		h.Close()
		h = nil
	}
	if h == nil {
		if h, err = newHandshake(ctx, cfg, role, prep, conn.LocalBlob(), conn.RemoteBlob(), localApp, conn.RemoteApp(), lfp[:], rfp[:]); err != nil {
			return nil, err
		}
	}
	tlsDesc := ""
	var res *handshake.Result
	switch {
	case level < handshake.LevelEnhanced:
		res, err = h.Run(ctx, mc)
	case role == handshake.Initiator:
		var tc *tlsConn
		if tc, err = initiateBeforeTLS(ctx, h, dc, prep); err == nil {
			mc, tlsDesc = tc, tc.info.String()
			res, err = h.Run(ctx, mc)
		}
	default:
		if early == nil {
			early = startClientTLS(ctx, dc)
		}
		var tc *tlsConn
		if tc, err = respondDuringTLS(h, early); err == nil {
			mc, tlsDesc = tc, tc.info.String()
			res, err = h.Run(ctx, mc)
		}
	}
	if err != nil {
		return nil, err
	}
	h = nil // ended: nothing left to close
	defer res.Destroy()
	info := Info{
		PeerFingerprint: vault.FingerprintOf(res.Peer).String(), // as `rtcchat id` shows it
		SafetyQR:        handshake.SafetyQR(cfg.Signer.Public(), res.Peer),
		SessionCode:     res.SessionCode(),
		Level:           res.Level.String(),
		Path:            conn.Path().String(),
		DTLS:            fmt.Sprintf("DTLS 1.2, %s, local %s, peer %s", conn.DTLSCipherSuite(), shortHex(lfp[:]), shortHex(rfp[:])),
		TLS:             tlsDesc,

		LocalDTLSFingerprint: lfp,
		PeerDTLSFingerprint:  rfp,
		Ratchet:              "Double Ratchet (X25519, header encryption)",
	}
	var store Store
	var verify func() error
	if cfg.Contacts != nil {
		name, first, verified, err := cfg.Contacts.Admit(res.Peer)
		if err != nil {
			return nil, err
		}
		info.PeerName, info.FirstContact, info.Verified = name, first, verified
		if store, err = cfg.Contacts.Store(res.Peer); err != nil {
			return nil, err
		}
		peer := res.Peer
		verify = func() error { return cfg.Contacts.MarkVerified(peer) }
	}
	rcfg := ratchet.Config{PQ: res.PQRatchet()}
	if rcfg.PQ {
		info.Ratchet = "Double Ratchet (X25519, header encryption) + ML-KEM-1024 ratchet"
	}
	var rs *ratchet.Session
	if role == handshake.Initiator {
		if rcfg.Keys = prep.takeRatchetKeys(rcfg.PQ); rcfg.Keys != nil {
			defer rcfg.Keys.Wipe() // a no-op once NewInitiator took them
		}
		rs, err = ratchet.NewInitiator(rcfg, res.SessionSecret, res.AD, res.ResponderRatchetPublic)
	} else {
		rs, err = ratchet.NewResponder(rcfg, res.SessionSecret, res.AD, res.ResponderRatchetPrivate)
	}
	if err != nil {
		return nil, fmt.Errorf("chat: starting the ratchet: %w", err)
	}
	s, err := NewSession(&closeBoth{MessageConn: mc, extra: rs.Close}, rs, store)
	if err != nil {
		rs.Close()
		return nil, err
	}
	s.onReject = cfg.OnReject
	s.Start()
	// The safety number (5,200 iterations of SHA-512 per identity, about
	// 5 ms here) is for the user to read, not for the session: Info
	// computes it when first asked, so it never competes with the set-up.
	self, peer := cfg.Signer.Public(), res.Peer
	return &Conversation{Session: s, info: info, verifyFn: verify,
		safety: func() string { return handshake.SafetyNumber(self, peer) }}, nil
}

// initiateBeforeTLS is the offering side's start at the enhanced and
// quantum levels: Init in the data channel's first message (it names no
// identity, and DTLS protects it), then inner TLS as its server, whose
// exporter the handshake binds in Finish.
func initiateBeforeTLS(ctx context.Context, h *handshake.Handshake, dc MessageConn, prep *prepared) (*tlsConn, error) {
	init, err := h.Start()
	if err != nil {
		return nil, err
	}
	if err := dc.Send(init); err != nil {
		return nil, fmt.Errorf("handshake: sending Init: %w", err)
	}
	tc, err := wrapTLS(ctx, dc, false, prep.takeCert(ctx))
	if err != nil {
		return nil, err
	}
	if err := h.SetExporter(tc.info.Exporter); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// clientTLS is inner TLS run as a client in the background (the answering
// side), with the data channel's first message diverted: the initiator's
// Init, which precedes the TLS records.
type clientTLS struct {
	under  MessageConn
	dv     *firstDiverted
	cancel context.CancelFunc
	done   chan struct{} // closed when tc/err are set
	tc     *tlsConn
	err    error
}

// startClientTLS starts the TLS client over mc.
func startClientTLS(ctx context.Context, mc MessageConn) *clientTLS {
	ctx, cancel := context.WithCancel(ctx)
	c := &clientTLS{under: mc, dv: &firstDiverted{MessageConn: mc, first: make(chan []byte, 1)}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.tc, c.err = wrapTLS(ctx, c.dv, true, nil)
	}()
	return c
}

// wait waits for the TLS handshake to end and returns its outcome.
func (c *clientTLS) wait() (*tlsConn, error) {
	<-c.done
	c.cancel()
	return c.tc, c.err
}

// respondDuringTLS is the answering side's start at the enhanced and quantum
// levels: while inner TLS runs (c), it takes the data channel's first
// message, the initiator's Init, and completes its Response (signed since
// NewAnswer), which it sends inside TLS once TLS is up. A failure of Init is
// reported to the peer inside TLS too (an Abort), so the peer learns why.
func respondDuringTLS(h *handshake.Handshake, c *clientTLS) (*tlsConn, error) {
	type step struct {
		reply []byte
		err   error
	}
	stepc := make(chan step, 1)
	go func() {
		handle := func(init []byte) {
			reply, _, err := h.Handle(init)
			stepc <- step{reply, err}
		}
		select {
		case init := <-c.dv.first:
			handle(init)
		case <-c.done:
			// TLS ended; Init, if it came, was diverted before.
			select {
			case init := <-c.dv.first:
				handle(init)
			default:
				stepc <- step{err: errors.New("chat: the peer sent no handshake Init before inner TLS")}
			}
		}
	}()
	tc, err := c.wait()
	st := <-stepc // Handle is done with h once this arrives
	if err != nil {
		return nil, err
	}
	if st.err != nil {
		_ = tc.Send(handshake.AbortMessage(st.err))
		tc.Close()
		return nil, st.err
	}
	if err := h.SetExporter(tc.info.Exporter); err != nil {
		tc.Close()
		return nil, err
	}
	if err := tc.Send(st.reply); err != nil {
		tc.Close()
		return nil, fmt.Errorf("handshake: sending Response: %w", err)
	}
	return tc, nil
}

// lateConn is a MessageConn whose connection comes later (set): sends are
// kept, in order, until then; receives wait for it. fail ends it instead.
type lateConn struct {
	mu      sync.Mutex
	ready   chan struct{} // closed by set or fail
	mc      MessageConn
	err     error
	pending [][]byte
}

func newLateConn() *lateConn { return &lateConn{ready: make(chan struct{})} }

// set hands over the connection and sends what was kept.
func (l *lateConn) set(mc MessageConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mc != nil || l.err != nil {
		return
	}
	for _, m := range l.pending {
		if err := mc.Send(m); err != nil {
			l.err = err
			break
		}
	}
	l.pending = nil
	if l.err == nil {
		l.mc = mc
	}
	close(l.ready)
}

// fail ends a lateConn that got no connection.
func (l *lateConn) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mc == nil && l.err == nil {
		l.err, l.pending = err, nil
		close(l.ready)
	}
}

func (l *lateConn) isSet() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mc != nil
}

func (l *lateConn) Send(m []byte) error {
	l.mu.Lock()
	if l.err != nil {
		defer l.mu.Unlock()
		return l.err
	}
	if l.mc == nil {
		defer l.mu.Unlock()
		l.pending = append(l.pending, bytes.Clone(m))
		return nil
	}
	mc := l.mc
	l.mu.Unlock()
	return mc.Send(m)
}

func (l *lateConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l.err != nil {
		return nil, l.err
	}
	return l.mc.Recv(ctx)
}

func (l *lateConn) Close() error {
	l.fail(errors.New("chat: closed"))
	l.mu.Lock()
	mc := l.mc
	l.mu.Unlock()
	if mc != nil {
		return mc.Close()
	}
	return nil
}

// firstDiverted hands the first message it receives to the channel first
// instead of returning it (the initiator's Init, which precedes the TLS
// records on the data channel); everything after is returned as usual.
type firstDiverted struct {
	MessageConn
	first    chan []byte
	diverted bool
}

func (d *firstDiverted) Recv(ctx context.Context) ([]byte, error) {
	if !d.diverted {
		m, err := d.MessageConn.Recv(ctx)
		if err != nil {
			return nil, err
		}
		d.diverted = true
		d.first <- m
	}
	return d.MessageConn.Recv(ctx)
}

// closeBoth closes the transport and then wipes the ratchet.
type closeBoth struct {
	MessageConn
	extra func() error
}

func (c *closeBoth) Close() error {
	err := c.MessageConn.Close()
	c.extra()
	return err
}

func shortHex(b []byte) string {
	h := hex.EncodeToString(b)
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// rtcConn is an rtc.Conn as a MessageConn: its context-aware receive needs
// no goroutine in between, so each message reaches the session directly.
type rtcConn struct{ c *rtc.Conn }

func (r rtcConn) Send(m []byte) error                      { return r.c.Send(m) }
func (r rtcConn) Recv(ctx context.Context) ([]byte, error) { return r.c.RecvContext(ctx) }
func (r rtcConn) Close() error                             { return r.c.Close() }
