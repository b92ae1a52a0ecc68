// Package rtc is rtcchat's transport: it gathers ICE candidates with pion,
// packs what the peer needs into a compact offer or answer blob (no trickle
// ICE, no SDP on the wire), and connects two peers over a WebRTC data channel
// exposed as a message-oriented [Conn].
//
// The blob format is specified in docs/PROTOCOL.md §1 "Connection blobs";
// [Blob], [Parse] and [Blob.Encode] implement it.
//
// The package knows no keys: its blobs carry an opaque application field
// ([Blob.App], at most [MaxAppData] bytes) that the handshake fills, and a
// [Conn] exposes both DTLS certificate fingerprints and the exact binary blobs
// each side sent, so that the handshake can bind to them.
package rtc
