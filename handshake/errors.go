package handshake

import "errors"

// Errors of the handshake protocol. Every failure wraps exactly one of these,
// so callers (and tests) can tell them apart with errors.Is.
var (
	ErrMessageFormat     = errors.New("handshake: malformed handshake message")
	ErrMessageTooLarge   = errors.New("handshake: handshake message too large")
	ErrMessageVersion    = errors.New("handshake: unknown handshake message version")
	ErrUnexpectedMessage = errors.New("handshake: unexpected handshake message type in this state")
	ErrBlobMismatch      = errors.New("handshake: the peer saw different blobs (a blob was changed in transit)")
	ErrChannelBinding    = errors.New("handshake: channel binding mismatch (DTLS fingerprints or TLS exporter differ: relayed connection?)")
	ErrDowngrade         = errors.New("handshake: security level mismatch (downgrade attempt)")
	ErrCommitment        = errors.New("handshake: peer identity does not match the commitment in its blob")
	ErrPinMismatch       = errors.New("handshake: peer identity differs from the pinned identity of this contact")
	ErrTranscript        = errors.New("handshake: message belongs to a different handshake transcript (replayed or out of session)")
	ErrKeyConfirmation   = errors.New("handshake: key confirmation failed")
	ErrNonceCommitment   = errors.New("handshake: responder nonce does not open its commitment")
	ErrMLKEMKey          = errors.New("handshake: invalid ML-KEM-1024 encapsulation key")
	ErrMLKEMCiphertext   = errors.New("handshake: invalid ML-KEM-1024 ciphertext")
	ErrTimeout           = errors.New("handshake: timed out")
	ErrPeerAborted       = errors.New("handshake: peer aborted the handshake")
	ErrReflection        = errors.New("handshake: peer presented our own identity or ephemeral key")
	ErrConfig            = errors.New("handshake: invalid configuration")
	ErrState             = errors.New("handshake: handshake state machine misuse")
	ErrSigner            = errors.New("handshake: the identity's signer failed")
)
