package falcon

// verify implements spec §3.10 (Alg. 16 Verify) for a detached signature
// 0x3A || nonce (40 bytes) || compressed s2:
//
//  1. the header must be 0x3A (compressed, logn = 10), the length at most
//     MaxSignatureSize, and s2 must decode strictly (see decompressS2: the
//     compressed encoding must fill the signature exactly, so the zero-padded
//     fixed-length variant of the spec is rejected);
//  2. c = HashToPoint(nonce || msg);
//  3. s1 = c − s2·h mod q, lifted to (−q/2, q/2];
//  4. accept iff ‖s1‖² + ‖s2‖² ≤ ⌊β²⌋ = 70265242.
//
// All arithmetic is on integers; the norm is summed in 64 bits, which cannot
// overflow (at most 1024·(6144² + 2047²) < 2^36).
func verify(pk *PublicKey, msg, sig []byte) bool {
	if len(sig) < 1+NonceSize+1 || len(sig) > MaxSignatureSize || sig[0] != headerSignature {
		return false
	}
	var s2 [n]int16
	if err := decompressS2(&s2, sig[1+NonceSize:]); err != nil {
		return false
	}
	c := hashToPoint(sig[1:1+NonceSize], msg)
	return normOK(&c, &s2, pk.nttH())
}

// normOK reports whether ‖c − s2·h‖² + ‖s2‖² ≤ sigBound, given hNTT = NTT(h).
func normOK(c *[n]uint16, s2 *[n]int16, hNTT *[n]uint32) bool {
	var t [n]uint32
	mulPublicNTT(&t, s2, hNTT)
	var norm uint64
	for i := range t {
		s1 := liftModQ(subModQ(uint32(c[i]), t[i]))
		norm += uint64(int64(s1) * int64(s1))
		v := int64(s2[i])
		norm += uint64(v * v)
	}
	return norm <= sigBound
}

// nttH returns NTT(h): the copy kept with the key when it was made by
// decodePublicKey or PrivateKey.PublicKey, otherwise a fresh one. The cached
// table is never written after the key is handed out, so concurrent Verify
// calls are safe.
func (pk *PublicKey) nttH() *[n]uint32 {
	if pk.hNTT != nil {
		return pk.hNTT
	}
	return computeNTTH(&pk.h)
}

func computeNTTH(h *[n]uint16) *[n]uint32 {
	t := new([n]uint32)
	for i, x := range h {
		t[i] = uint32(x)
	}
	nttForward(t)
	return t
}
