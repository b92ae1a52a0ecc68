package falcon

import "crypto/sha3"

// hashToPoint maps nonce || msg to a polynomial c with coefficients in [0, q)
// (spec §3.7, Alg. 3 HashToPoint): SHAKE256 over nonce || msg is read two
// bytes at a time as big-endian 16-bit values t; each t < 5q = 61445 yields
// the coefficient t mod q, larger values are discarded, until n coefficients
// are out. The running time depends on the (public) nonce and message only.
func hashToPoint(nonce, msg []byte) (c [n]uint16) {
	h := sha3.NewSHAKE256()
	h.Write(nonce)
	h.Write(msg)
	// 136 bytes is SHAKE256's rate: read whole blocks at a time.
	var buf [136 * 4]byte
	i := 0
	for i < n {
		h.Read(buf[:])
		for j := 0; j+1 < len(buf) && i < n; j += 2 {
			t := uint32(buf[j])<<8 | uint32(buf[j+1])
			if t < 5*q {
				c[i] = uint16(t % q)
				i++
			}
		}
	}
	return c
}
