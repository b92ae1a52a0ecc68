// Package ratchet implements rtcchat's message ratchet: Signal's Double
// Ratchet with header encryption (Double Ratchet specification, revision 3,
// §3 and §4 "Double Ratchet with header encryption"), extended with a
// post-quantum KEM ratchet on ML-KEM-1024 (FIPS 203) whose shared secrets are
// mixed into the root chain alongside the X25519 outputs. The wire format,
// every KDF label and the state machine are specified in docs/PROTOCOL.md,
// section 4 "Message ratchet".
//
// # Primitives
//
//   - DH: X25519 (RFC 7748; CIRCL's dh/x25519, checked against crypto/ecdh).
//   - KDF_RK_HE: HKDF-SHA256, salt = root key, IKM = DH output [‖ ML-KEM
//     shared secret], 96 output bytes = root key ‖ chain key ‖ next header key.
//   - KDF_CK: HMAC-SHA256(ck, 0x01) = message key, HMAC-SHA256(ck, 0x02) =
//     next chain key (spec §7 recommendation, checked against Signal's vector).
//   - Message AEAD: ChaCha20-Poly1305 keyed with HMAC-SHA256(message key,
//     LabelBody ‖ header nonce), constant zero nonce (each key encrypts one
//     message, spec §7; binding the random header nonce keeps that true for
//     a session resumed from an older saved state). AD = session AD ‖ wire
//     prefix ‖ encrypted header.
//   - Header AEAD: XChaCha20-Poly1305 with a random 192-bit nonce, AD =
//     session AD (a header key encrypts many headers, spec §4.1).
//   - PQ ratchet: ML-KEM-1024 (FIPS 203; CIRCL's kem/mlkem/mlkem1024,
//     checked against crypto/mlkem). One KEM object (an
//     encapsulation key or a ciphertext, 1568 bytes) rides inside the
//     encrypted header of the first message of a new sending chain; see
//     PROTOCOL.md §4.6 for the cadence, the cost and the recovery bound.
//
// # API for the handshake
//
// The handshake produces a shared secret of 32..96 bytes, a session
// associated data string (for example a transcript hash; up to MaxADSize
// bytes), the roles, and the responder's initial ratchet key pair (an X25519
// key pair the responder generated for the handshake; the initiator knows
// its public half). Those are all the ratchet needs:
//
//	// Initiator ("Alice", the side that sent the first handshake message):
//	s, err := ratchet.NewInitiator(cfg, secret, ad, responderRatchetPub)
//	// Responder ("Bob"):
//	s, err := ratchet.NewResponder(cfg, secret, ad, responderRatchetPriv)
//
// Both sides must pass the same secret, the same ad and the same cfg.PQ. A
// nil responder key on both sides makes both derive the responder's initial
// ratchet key pair from the secret (label LabelResponderKey); this is safe but
// gives the initiator's first sending chain no security beyond the secret, so
// prefer passing a fresh handshake ephemeral. The ML-KEM ratchet needs no
// input from the handshake: it starts with a fresh key pair of the
// initiator's, carried in the initiator's first message. Both sides can
// Encrypt immediately after construction (the responder has an initial
// sending chain derived from the secret), so neither has to wait for the
// other to speak first.
//
//	type Config struct {
//		PQ               bool // ML-KEM-1024 ratchet (level "quantum"); false = classic Double Ratchet
//		MaxSkip          int  // skipped message keys per chain step (default 1000)
//		MaxSkippedKeys   int  // skipped message keys stored in total (default 2000)
//		MaxSkippedChains int  // distinct header keys with stored skipped keys (default 8)
//		PQInterval       int  // KEM object on every PQInterval-th new sending chain (default 1)
//		Synchronous      bool // compute each ratchet step inside Decrypt (no background work)
//		KeysAhead        bool // keep the next key pairs generated ahead (weaker recovery after a memory compromise)
//		Keys             *Keys // NewInitiator's first key pairs, from GenerateKeys
//	}
//	func GenerateKeys(pq bool) (*Keys, error)         // call while the connection is set up
//	func NewInitiator(cfg Config, secret, ad []byte, responderKey *ecdh.PublicKey) (*Session, error)
//	func NewResponder(cfg Config, secret, ad []byte, responderKey *ecdh.PrivateKey) (*Session, error)
//	func (s *Session) Encrypt(plaintext []byte) ([]byte, error)
//	func (s *Session) Decrypt(message []byte) ([]byte, error)
//	func (s *Session) MarshalBinary() ([]byte, error) // versioned state, secret: store it sealed
//	func Unmarshal(state []byte) (*Session, error)    // strict, bounded decoder
//	func (s *Session) UnmarshalBinary(state []byte) error
//	func (s *Session) PQ() bool
//	func (s *Session) Close() error                   // wipes key material; later calls fail with ErrClosed
//	func Overhead(plaintextLen int) int               // wire bytes added to a plaintext (no KEM object)
//
// # Guarantees
//
//   - A message that Decrypt rejects (tampered, replayed, unknown, beyond the
//     skip bounds, malformed) leaves the Session exactly as it was: Decrypt
//     works on a copy of the state and commits only on success.
//   - A message key is deleted when used; a replayed message fails with
//     ErrReplay (or ErrUnknownKey once its chain's header key is gone).
//   - Skipped keys: at most MaxSkip per chain step, MaxSkippedKeys in total,
//     oldest evicted first; a message needing more fails with ErrTooManySkipped.
//   - Plaintexts are padded to size buckets (PROTOCOL.md §4.5); a 100-byte
//     message costs 126 bytes of overhead, plus 1572 bytes on the first
//     message of each new sending chain when PQ is on (one ML-KEM-1024 key
//     or ciphertext per direction change).
//   - Break-in recovery: a stolen state stops reading traffic after one
//     round trip; with PQ on, an attacker who also breaks every X25519 key
//     stops reading after one round trip if the ML-KEM secrets in the
//     stolen state are unknown to it, and within two round trips if it has
//     them too (PROTOCOL.md §4.6 gives the exact bounds; tests
//     TestBreakInRecovery, TestQuantumBreakInRecovery and
//     TestQuantumBreakInRecoveryWithoutKEMSecrets).
//   - Errors: ErrMalformed, ErrUnknownKey, ErrReplay, ErrTooManySkipped,
//     ErrAuth, ErrProtocol, ErrTooLarge, ErrClosed, ErrExhausted and
//     ErrUninitialised (Decrypt, Encrypt) and ErrBadState (Unmarshal);
//     match them with errors.Is.
//   - Session is safe for concurrent use: one mutex serialises Encrypt,
//     Decrypt, MarshalBinary and Close (one sender and one receiver goroutine,
//     or more, may share it).
//   - Latency (PROTOCOL.md §4.11): by default the sending half of a DH
//     ratchet step (new key pair, second X25519, ML-KEM work) runs in the
//     background, beside the receiving half that Decrypt needs; the next
//     Encrypt completes it (running it itself if no goroutine has started
//     it). The state is bit for bit the synchronous one. Close stops that
//     work and leaves no goroutine behind.
//   - Close zeroes every key the package holds in its own memory: X25519
//     keys are held as bytes (a ratchet key is zeroed as soon as a step
//     replaces it), ML-KEM key seeds too. CIRCL's expanded ML-KEM keys cannot
//     be zeroed from outside; they are dropped for the garbage collector.
package ratchet
