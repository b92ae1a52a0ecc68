// Package rtc is rtcchat's transport: it gathers ICE candidates with pion
// (webrtc/v4, ice/v4), packs what the peer needs into a compact offer or
// answer blob (no trickle ICE, no SDP on the wire), and connects two peers
// over a WebRTC data channel exposed as a message-oriented [Conn].
//
// The blob format is specified in docs/PROTOCOL.md §1 "Connection blobs";
// [Blob], [Parse], [DecodeText], [ParseBinary] and [Blob.Encode] implement it.
//
// # Use
//
//	// Offering side.
//	o, err := rtc.NewOfferer(ctx, rtc.DefaultConfig(), app) // gathers, then builds the offer
//	show(o.Blob(), o.Notes())                               // text for the peer; notes name silent servers
//	conn, err := o.Accept(ctx, answerText)                  // connects within Config.ConnectTimeout
//
//	// Answering side.
//	a, err := rtc.NewAnswerer(ctx, rtc.DefaultConfig(), offerText, app)
//	peerApp := a.Offer().App                                // the offerer's application field
//	show(a.Blob(), a.Notes())                               // ICE checks run from here on
//	conn, err := a.Wait(ctx)                                // up to Config.AnswerWait (10 min)
//
//	// Both: messages of up to MaxMessageSize bytes, ordered and reliable.
//	err = conn.Send(msg)
//	msg, err = conn.Recv()
//	conn.Path()                                             // direct or relay, and the candidate pair
//	conn.LocalFingerprint(), conn.RemoteFingerprint()       // SHA-256 of the DTLS certificates
//	conn.LocalBlob(), conn.RemoteBlob()                     // the exact binary blobs, for channel binding
//	conn.Close()
//
// Failures say why: [ErrNoPair] (the candidates never reached each other:
// a firewall or symmetric NATs, use TURN), [ErrDTLS] (the handshake failed or
// the certificate does not match the blob), [ErrPeerLost] (a connected peer
// went silent for Config.FailedTimeout), [ErrWrongBlob], and the *[BlobError]
// decoding errors. [Config.OnState] and [Conn.State] report connecting,
// connected, disconnected, failed and closed.
//
// The package knows no keys: its blobs carry an opaque application field
// (at most [MaxAppData] bytes) that the handshake fills, and a [Conn]
// exposes both DTLS certificate fingerprints and the exact binary blobs each
// side sent, so that the handshake can bind to them.
//
// # Settings
//
// mDNS candidates are never used: a blob carries addresses, not .local
// names. Every UDP socket asks for [DefaultSocketBuffer] (4 MiB) of receive
// and send buffer (beyond net.core.rmem_max where the process may), because
// Linux's 208 KiB default overflows under SCTP bursts and SCTP then backs
// off. DTLS prefers ECDHE with X25519 and ChaCha20-Poly1305 and requires the
// extended master secret (RFC 7627). SCTP keeps a congestion window of at
// least [DefaultSCTPMinCwnd] (64 KiB) and caps its retransmission timeout at
// [DefaultSCTPRTOMax] (4 s), so that a lossy or reordering path does not
// stall a transfer; both deviate from RFC 9260 and say why.
package rtc
