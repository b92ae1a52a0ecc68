package rtc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/dtls/v3"
	dtlsElliptic "github.com/pion/dtls/v3/pkg/crypto/elliptic"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Connection errors. Errors from Accept and Wait wrap one of them.
var (
	// ErrNoPair: the peers' candidates never reached each other.
	ErrNoPair = errors.New("no candidate pair succeeded")
	// ErrTimeout: DTLS was up but the data channel did not open in time.
	ErrTimeout = errors.New("timed out")
	// ErrDTLS: the DTLS handshake failed (or the peer's certificate does not
	// match the fingerprint in its blob).
	ErrDTLS = errors.New("DTLS handshake failed")
	// ErrWrongBlob: an offer was given where an answer was expected, or the reverse.
	ErrWrongBlob = errors.New("wrong kind of blob")
	// ErrPeerLost: a connected peer stopped answering for Config.FailedTimeout.
	ErrPeerLost = errors.New("peer unreachable")
	// ErrClosed: the connection was closed.
	ErrClosed = errors.New("connection closed")
	// ErrMessageTooLarge: a message exceeds MaxMessageSize.
	ErrMessageTooLarge = errors.New("message too large")
)

// State is the state of a connection, for a UI.
type State int

const (
	StateNew          State = iota
	StateConnecting         // ICE checking
	StateConnected          // the data channel is open
	StateDisconnected       // the peer stopped answering; it may come back
	StateFailed             // given up; see Conn.Err
	StateClosed             // closed by either side
)

func (s State) String() string {
	return [...]string{"new", "connecting", "connected", "disconnected", "failed", "closed"}[s]
}

// sctpPort and the channel parameters are fixed by version 1 of the protocol.
const (
	sctpPort     = 5000
	channelLabel = "rtcchat"
	channelID    = 0
	bufferedHigh = 1 << 20
	bufferedLow  = 512 << 10
)

// peer is the part shared by Offerer and Answerer.
type peer struct {
	cfg     Config
	pc      *webrtc.PeerConnection
	dc      *webrtc.DataChannel
	localFP [FingerprintSize]byte
	mid     string

	local     *Blob
	localRaw  []byte
	localText string
	remote    *Blob
	remoteRaw []byte
	notes     []string

	opened       chan datachannel.ReadWriteCloserDeadliner
	iceConnected chan struct{}
	dtlsFailed   chan struct{}
	dtlsUp       chan struct{}
	once         struct{ ice, dtls, dtlsUp, opened sync.Once }

	mu      sync.Mutex
	conn    *Conn
	started time.Time
	closers []io.Closer // what dies with the peer connection (the ICE-TCP listener)
}

// close closes the peer connection and what belongs to it.
func (p *peer) close() error {
	var err error
	if p.pc != nil {
		err = p.pc.Close()
	}
	for _, c := range p.closers {
		_ = c.Close()
	}
	return err
}

func newPeer(cfg Config) (*peer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &peer{
		cfg:          cfg,
		opened:       make(chan datachannel.ReadWriteCloserDeadliner, 1),
		iceConnected: make(chan struct{}),
		dtlsFailed:   make(chan struct{}),
		dtlsUp:       make(chan struct{}),
	}
	var key [ICEKeySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	p.local = &Blob{ICEKey: key}

	cert, fp, err := newCertificate()
	if err != nil {
		return nil, err
	}
	p.localFP = fp
	p.local.Fingerprint = fp

	se, err := settingEngine(&cfg, p.local)
	if err != nil {
		return nil, err
	}
	if hasNetwork(cfg.Networks, "tcp4") || hasNetwork(cfg.Networks, "tcp6") {
		// ICE-TCP (RFC 6544) needs a listener for passive candidates.
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, fmt.Errorf("rtc: ICE-TCP listener: %w", err)
		}
		mux := ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: l, ReadBufferSize: 8, WriteBufferSize: 4 << 20})
		se.SetICETCPMux(mux)
		p.closers = append(p.closers, mux)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(*se))
	var servers []webrtc.ICEServer
	if len(cfg.STUN) > 0 {
		servers = append(servers, webrtc.ICEServer{URLs: cfg.STUN})
	}
	for _, t := range cfg.TURN {
		servers = append(servers, webrtc.ICEServer{URLs: []string{t.URL}, Username: t.Username, Credential: t.Password})
	}
	p.pc, err = api.NewPeerConnection(webrtc.Configuration{
		ICEServers:   servers,
		Certificates: []webrtc.Certificate{cert},
	})
	if err != nil {
		_ = p.close()
		return nil, fmt.Errorf("rtc: %w", err)
	}
	yes, id := true, uint16(channelID)
	p.dc, err = p.pc.CreateDataChannel(channelLabel, &webrtc.DataChannelInit{Negotiated: &yes, ID: &id, Ordered: &yes})
	if err != nil {
		_ = p.close()
		return nil, fmt.Errorf("rtc: %w", err)
	}
	p.dc.SetBufferedAmountLowThreshold(bufferedLow)
	p.dc.OnOpen(func() {
		rw, err := p.dc.DetachWithDeadline()
		if err != nil {
			return
		}
		p.once.opened.Do(func() { p.opened <- rw })
	})
	p.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		switch s {
		case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
			p.once.ice.Do(func() { close(p.iceConnected) })
		}
		p.mu.Lock()
		c := p.conn
		p.mu.Unlock()
		if c != nil {
			c.iceState(s)
		} else if s == webrtc.ICEConnectionStateChecking {
			p.emit(StateConnecting)
		}
	})
	p.pc.SCTP().Transport().OnStateChange(func(s webrtc.DTLSTransportState) {
		switch s {
		case webrtc.DTLSTransportStateFailed:
			p.once.dtls.Do(func() { close(p.dtlsFailed) })
		case webrtc.DTLSTransportStateConnected:
			p.once.dtlsUp.Do(func() { close(p.dtlsUp) })
		}
	})
	return p, nil
}

func (p *peer) emit(s State) {
	if p.cfg.OnState != nil {
		p.cfg.OnState(s)
	}
}

// dtlsRetransmitInterval is the DTLS handshake's first retransmission
// timeout. RFC 6347 §4.2.4.1 recommends 1 s, doubled on each
// retransmission; pion doubles it without a cap we can set, so at 30% loss
// a handshake whose flights were lost three or four times in a row waits
// 15-31 s for the next try. Of 48 connections in one process through 30%
// loss of every packet, with pion's 1 s and cookie exchange the median took
// 5 s and 3 did not open within ConnectTimeout (30 s); from 250 ms and
// without the cookie exchange (see settingEngine) the median took 1.4 s and
// 1 did not. On a path with a longer round trip the first retransmissions
// are spurious, a few KiB.
const dtlsRetransmitInterval = 250 * time.Millisecond

// settingEngine configures pion for rtcchat: our ICE credentials, no mDNS,
// no ICE failure of its own (we apply our own deadlines), larger socket
// buffers, detached data channels, DTLS with X25519 and
// ChaCha20-Poly1305 first and the extended master secret required, and SCTP
// loss recovery tuned for lossy paths (Config.SCTPMinCwnd, SCTPRTOMax).
func settingEngine(cfg *Config, b *Blob) (*webrtc.SettingEngine, error) {
	se := &webrtc.SettingEngine{}
	se.DetachDataChannels()
	se.SetICECredentials(b.ICEUfrag(), b.ICEPwd())
	// failedTimeout 0: pion never gives up on its own; the answerer keeps
	// checking for AnswerWait, and Conn watches disconnections itself.
	se.SetICETimeouts(5*time.Second, 0, 2*time.Second)
	// Keep checking every pair while the offerer has not answered yet (the
	// default gives up on a pair after 7 requests, about 1.5 s).
	se.SetICEMaxBindingRequests(65535)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	se.SetSTUNGatherTimeout(cfg.GatherTimeout)
	var nts []webrtc.NetworkType
	for _, n := range cfg.Networks {
		nt, err := webrtc.NewNetworkType(strings.ToLower(n))
		if err != nil {
			return nil, fmt.Errorf("rtc: %w", err)
		}
		nts = append(nts, nt)
	}
	se.SetNetworkTypes(nts)
	if cfg.PortMin != 0 || cfg.PortMax != 0 {
		max := cfg.PortMax
		if max == 0 {
			max = 65535
		}
		if err := se.SetEphemeralUDPPortRange(cfg.PortMin, max); err != nil {
			return nil, fmt.Errorf("rtc: port range: %w", err)
		}
	}
	if len(cfg.Interfaces) > 0 {
		names := append([]string(nil), cfg.Interfaces...)
		se.SetInterfaceFilter(func(name string) bool {
			for _, n := range names {
				if n == name {
					return true
				}
			}
			return false
		})
	}
	if f := cfg.IPFilter; f != nil {
		se.SetIPFilter(func(ip net.IP) bool {
			a, ok := netip.AddrFromSlice(ip)
			return ok && f(a.Unmap())
		})
	}
	n, err := newBufferedNet(cfg.SocketBuffer)
	if err != nil {
		return nil, fmt.Errorf("rtc: %w", err)
	}
	if cfg.wrapNet != nil {
		n = cfg.wrapNet(n)
	}
	se.SetNet(n)
	suites := []dtls.CipherSuiteID{
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	}
	if cfg.PreferAESGCM {
		suites[0], suites[1] = suites[1], suites[0]
	}
	se.SetDTLSCipherSuites(suites...)
	se.SetDTLSEllipticCurves(dtlsElliptic.X25519, dtlsElliptic.P256, dtlsElliptic.P384)
	se.SetDTLSExtendedMasterSecret(dtls.RequireExtendedMasterSecret)
	se.SetDTLSRetransmissionInterval(dtlsRetransmitInterval)
	// No HelloVerifyRequest cookie exchange (RFC 6347 §4.2.1): it protects
	// a server from floods with forged source addresses, but DTLS here only
	// sees packets from candidate pairs ICE has checked with the peer's
	// credentials (pion's ICE drops other non-STUN traffic).
	// It costs a round trip, and under loss one more flight to lose.
	se.SetDTLSInsecureSkipHelloVerify(true)
	se.SetSCTPMaxMessageSize(MaxMessageSize)
	// Loss recovery (see DefaultSCTPMinCwnd and DefaultSCTPRTOMax).
	if cfg.SCTPMinCwnd > 0 {
		se.SetSCTPMinCwnd(uint32(cfg.SCTPMinCwnd))
	}
	if cfg.SCTPRTOMax > 0 {
		se.SetSCTPRTOMax(cfg.SCTPRTOMax)
	}
	return se, nil
}

// newCertificate makes the ephemeral DTLS certificate (ECDSA P-256, as
// browsers use) and returns it with its SHA-256 fingerprint.
func newCertificate() (webrtc.Certificate, [FingerprintSize]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return webrtc.Certificate{}, [32]byte{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return webrtc.Certificate{}, [32]byte{}, err
	}
	now := time.Now()
	tpl := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "rtcchat"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, &tpl, &tpl, &key.PublicKey, key)
	if err != nil {
		return webrtc.Certificate{}, [32]byte{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return webrtc.Certificate{}, [32]byte{}, err
	}
	return webrtc.CertificateFromX509(key, cert), sha256.Sum256(der), nil
}

// gather sets desc as the local description, waits for gathering to end
// (or for GatherTimeout), and fills the local blob's role and candidates.
func (p *peer) gather(ctx context.Context, desc webrtc.SessionDescription) error {
	done := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(desc); err != nil {
		return fmt.Errorf("rtc: %w", err)
	}
	probes := p.probeServers(ctx)
	timer := time.NewTimer(p.cfg.GatherTimeout + 500*time.Millisecond)
	defer timer.Stop()
	timedOut := false
	select {
	case <-done:
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
		return ctx.Err()
	}
	sdp := p.pc.LocalDescription().SDP
	p.mid = sdpAttr(sdp, "mid")
	switch sdpAttr(sdp, "setup") {
	case "active":
		p.local.Role = RoleActive
	case "passive":
		p.local.Role = RolePassive
	default:
		p.local.Role = RoleActpass
	}
	all := sdpCandidates(sdp)
	p.local.Candidates = selectCandidates(all, p.cfg.MaxCandidates)
	for _, r := range probes() {
		p.note("%s", r)
	}
	if len(p.cfg.TURN) > 0 && !hasType(all, CandidateRelay) {
		var urls []string
		for _, t := range p.cfg.TURN {
			urls = append(urls, t.URL)
		}
		p.note("no TURN relay address from %s within %v: the server is unreachable or refused the credentials", strings.Join(urls, ", "), p.cfg.GatherTimeout)
	}
	if timedOut {
		p.note("candidate gathering stopped after %v; the blob carries what was found", p.cfg.GatherTimeout)
	}
	if len(p.local.Candidates) == 0 {
		return &BlobError{Err: ErrNoCandidates, Detail: "no usable network address was found (is the network up? with --loopback, loopback addresses are used)"}
	}
	return nil
}

// probeServers asks every STUN server for our address while pion gathers,
// so that a server that does not answer can be named. The returned function
// waits for the probes and returns a note for each server that failed.
func (p *peer) probeServers(ctx context.Context) func() []string {
	if len(p.cfg.STUN) == 0 {
		return func() []string { return nil }
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.GatherTimeout)
	results := make([]string, len(p.cfg.STUN))
	var wg sync.WaitGroup
	network := "udp4"
	if !hasNetwork(p.cfg.Networks, "udp4") {
		network = "udp6"
	}
	for i, u := range p.cfg.STUN {
		if !strings.HasPrefix(u, "stun:") {
			continue // stuns: (over TLS) is left to pion
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ProbeSTUN(ctx, u, network); err != nil {
				results[i] = fmt.Sprintf("STUN server %s did not answer within %v (%v); no public address from it", stunTarget(u), p.cfg.GatherTimeout, err)
			}
		}()
	}
	return func() []string {
		wg.Wait()
		cancel()
		var out []string
		for _, r := range results {
			if r != "" {
				out = append(out, r)
			}
		}
		return out
	}
}

func hasNetwork(ns []string, n string) bool {
	for _, x := range ns {
		if strings.EqualFold(x, n) {
			return true
		}
	}
	return false
}

func hasType(cs []Candidate, t CandidateType) bool {
	for _, c := range cs {
		if c.Type == t {
			return true
		}
	}
	return false
}

func (p *peer) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	p.notes = append(p.notes, s)
	p.cfg.logf("%s", s)
}

// finishLocal encodes the local blob with the application field.
func (p *peer) finishLocal(app []byte) error {
	p.local.App = append([]byte(nil), app...)
	raw, err := p.local.MarshalBinary()
	if err != nil {
		return err
	}
	p.localRaw = raw
	p.localText = TextPrefix + base58Encode(raw)
	return nil
}

// setRemote parses a remote blob of the expected kind and applies it.
func (p *peer) setRemote(text string, want Kind) error {
	raw, err := DecodeText(text)
	if err != nil {
		return err
	}
	b, err := ParseBinary(raw)
	if err != nil {
		return err
	}
	if b.Kind != want {
		hint := "paste the answer that `rtcchat answer` printed on the other side"
		if want == KindOffer {
			hint = "`rtcchat answer` takes the offer that `rtcchat offer` printed"
		}
		return fmt.Errorf("rtc: %w: got an %v, want an %v; %s", ErrWrongBlob, b.Kind, want, hint)
	}
	if b.ICEKey == p.local.ICEKey {
		return fmt.Errorf("rtc: %w: this is our own blob, not the peer's", ErrWrongBlob)
	}
	p.remote, p.remoteRaw = b, raw
	typ := webrtc.SDPTypeOffer
	mid := "0"
	if want == KindAnswer {
		typ = webrtc.SDPTypeAnswer
		mid = p.mid
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: blobSDP(b, mid)}); err != nil {
		return fmt.Errorf("rtc: the peer's blob was rejected: %w", err)
	}
	return nil
}

// wait waits until the channel opens, the deadline passes or ctx ends, and
// says why it did not open.
func (p *peer) wait(ctx context.Context, deadline time.Time, what string) (*Conn, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case rw := <-p.opened:
		c, err := newConn(p, rw)
		if err != nil {
			_ = p.close()
		}
		return c, err
	case <-p.dtlsFailed:
		_ = p.close()
		p.emit(StateFailed)
		return nil, fmt.Errorf("rtc: %w: the peer's certificate does not match its blob, or the handshake broke off", ErrDTLS)
	case <-ctx.Done():
		_ = p.close()
		return nil, ctx.Err()
	case <-timer.C:
	}
	_ = p.close()
	p.emit(StateFailed)
	select {
	case <-p.dtlsUp:
		return nil, fmt.Errorf("rtc: %w: DTLS is up but the data channel did not open within %v", ErrTimeout, what)
	default:
	}
	select {
	case <-p.iceConnected:
		return nil, fmt.Errorf("rtc: %w: ICE connected but the DTLS handshake did not complete within %v", ErrDTLS, what)
	default:
	}
	return nil, fmt.Errorf("rtc: %w within %s: checked %d local against %d remote candidates; "+
		"the peers cannot reach each other (a firewall, or NATs that need a TURN relay: --turn)",
		ErrNoPair, what, len(p.local.Candidates), len(p.remote.Candidates))
}

// Offerer is the side that writes the offer blob and reads the answer.
type Offerer struct{ p *peer }

// NewOfferer gathers candidates and prepares the offer; app goes into the
// blob's application field (at most MaxAppData bytes).
func NewOfferer(ctx context.Context, cfg Config, app []byte) (*Offerer, error) {
	if len(app) > MaxAppData {
		return nil, blobErr(ErrTooLong, "application field of %d bytes, at most %d", len(app), MaxAppData)
	}
	p, err := newPeer(cfg)
	if err != nil {
		return nil, err
	}
	p.local.Kind = KindOffer
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.gather(ctx, offer)
	}
	if err == nil {
		err = p.finishLocal(app)
	}
	if err != nil {
		_ = p.close()
		return nil, err
	}
	return &Offerer{p}, nil
}

// Blob returns the offer's text form.
func (o *Offerer) Blob() string { return o.p.localText }

// Notes returns what the user should know about gathering (servers that did
// not answer, a gathering timeout).
func (o *Offerer) Notes() []string { return o.p.notes }

// Local returns the decoded offer.
func (o *Offerer) Local() *Blob { return o.p.local }

// LocalBinary is the binary form of our offer blob, exactly as the peer will
// decode it (Conn.LocalBlob once connected).
func (o *Offerer) LocalBinary() []byte { return append([]byte(nil), o.p.localRaw...) }

// Accept parses the answer blob, connects, and returns the open Conn. It
// waits at most Config.ConnectTimeout.
func (o *Offerer) Accept(ctx context.Context, answer string) (*Conn, error) {
	if err := o.p.setRemote(answer, KindAnswer); err != nil {
		return nil, err
	}
	t := o.p.cfg.ConnectTimeout
	return o.p.wait(ctx, time.Now().Add(t), t.String())
}

// Close releases the offer's resources; a Conn from Accept stays open.
func (o *Offerer) Close() error {
	if o.p.connected() {
		return nil
	}
	return o.p.close()
}

func (p *peer) connected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn != nil
}

// Answerer is the side that reads the offer blob and writes the answer.
type Answerer struct{ p *peer }

// NewAnswerer parses the offer, gathers, prepares the answer and starts ICE
// checks towards the offerer, which go on for Config.AnswerWait.
func NewAnswerer(ctx context.Context, cfg Config, offer string, app []byte) (*Answerer, error) {
	if len(app) > MaxAppData {
		return nil, blobErr(ErrTooLong, "application field of %d bytes, at most %d", len(app), MaxAppData)
	}
	// Parse first: a damaged blob is reported before anything is gathered.
	if _, err := Parse(offer); err != nil {
		return nil, err
	}
	p, err := newPeer(cfg)
	if err != nil {
		return nil, err
	}
	p.started = time.Now()
	p.local.Kind = KindAnswer
	err = p.setRemote(offer, KindOffer)
	var answer webrtc.SessionDescription
	if err == nil {
		answer, err = p.pc.CreateAnswer(nil)
	}
	if err == nil {
		err = p.gather(ctx, answer)
	}
	if err == nil {
		err = p.finishLocal(app)
	}
	if err != nil {
		_ = p.close()
		return nil, err
	}
	return &Answerer{p}, nil
}

// Blob returns the answer's text form.
func (a *Answerer) Blob() string { return a.p.localText }

// Notes returns what the user should know about gathering.
func (a *Answerer) Notes() []string { return a.p.notes }

// Offer returns the decoded offer (its App field is the offerer's
// application data).
func (a *Answerer) Offer() *Blob { return a.p.remote }

// Local returns the decoded answer.
func (a *Answerer) Local() *Blob { return a.p.local }

// LocalBinary is the binary form of our answer blob, exactly as the peer will
// decode it (Conn.LocalBlob once connected).
func (a *Answerer) LocalBinary() []byte { return append([]byte(nil), a.p.localRaw...) }

// Wait waits until the offerer connects, for at most Config.AnswerWait from
// NewAnswerer.
func (a *Answerer) Wait(ctx context.Context) (*Conn, error) {
	return a.p.wait(ctx, a.p.started.Add(a.p.cfg.AnswerWait), a.p.cfg.AnswerWait.String())
}

// Close gives up waiting; a Conn from Wait stays open.
func (a *Answerer) Close() error {
	if a.p.connected() {
		return nil
	}
	return a.p.close()
}
