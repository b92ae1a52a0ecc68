package falcon

// Owned by the encodings/verify part. Placeholder until it lands.

// hashToPoint maps nonce || msg to a polynomial c with coefficients in [0, q)
// (spec §3.7; SHAKE256, 16-bit big-endian samples below 5q, reduced mod q).
func hashToPoint(nonce, msg []byte) (c [n]uint16) { panic("falcon: hashToPoint not implemented") }
