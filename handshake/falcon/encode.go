package falcon

import (
	"errors"
	"fmt"
)

// Encodings of keys and of the compressed s2 (spec §3.11). Every decoder here
// is strict: it accepts exactly the encodings the matching encoder produces
// and rejects everything else with a specific error, without panicking.

const (
	encBitsH  = 14 // bits per coefficient of h (spec §3.11.4)
	encBitsFG = 5  // bits per coefficient of f and g for n = 1024 (spec §3.11.5)
	encBitsF  = 8  // bits per coefficient of F (and of G, which is not stored)

	// encBoundFG and encBoundF are the largest magnitudes a key coefficient may have:
	// the most negative two's-complement code (−2^(bits−1)) is forbidden, so the
	// range is symmetric.
	encBoundFG = 1<<(encBitsFG-1) - 1 // 15
	encBoundF  = 1<<(encBitsF-1) - 1  // 127

	// maxS2Abs is the largest |s2[i]| the compressed format can carry (spec
	// Alg. 17: 7 low bits plus a unary high part of at most 15).
	maxS2Abs = 2047
	// maxCompressedS2 is the most bytes of compressed s2 a detached signature
	// may hold: MaxSignatureSize − header − nonce.
	maxCompressedS2 = MaxSignatureSize - 1 - NonceSize
)

// errS2 is the reason a compressed s2 was rejected (kept internal: Verify only
// reports false).
var errS2 = errors.New("falcon: malformed compressed s2")

// bitWriter packs fields MSB first into a byte slice.
type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, right-aligned
	nacc uint   // number of pending bits (< 8 between calls)
}

// write appends the low `bits` bits of v (bits ≤ 32).
func (w *bitWriter) write(v uint32, bits uint) {
	w.acc = w.acc<<bits | uint64(v)&(1<<bits-1)
	w.nacc += bits
	for w.nacc >= 8 {
		w.nacc -= 8
		w.buf = append(w.buf, byte(w.acc>>w.nacc))
	}
}

// flush pads the last byte with zero bits.
func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.nacc)))
		w.nacc = 0
	}
	w.acc = 0
	return w.buf
}

// packFixed writes each value's low `bits` bits MSB first into dst, which must
// hold exactly len(src)·bits/8 bytes (len(src)·bits is a multiple of 8 here).
func packFixed(dst []byte, src []uint32, bits uint) {
	var acc uint64
	var nacc uint
	o := 0
	for _, v := range src {
		acc = acc<<bits | uint64(v)&(1<<bits-1)
		nacc += bits
		for nacc >= 8 {
			nacc -= 8
			dst[o] = byte(acc >> nacc)
			o++
		}
	}
}

// unpackFixed reads len(dst) fields of `bits` bits MSB first from src, which
// must hold exactly len(dst)·bits/8 bytes. Constant time in the data.
func unpackFixed(dst []uint32, src []byte, bits uint) {
	var acc uint64
	var nacc uint
	i := 0
	for _, b := range src {
		acc = acc<<8 | uint64(b)
		nacc += 8
		for nacc >= bits {
			nacc -= bits
			dst[i] = uint32(acc>>nacc) & (1<<bits - 1)
			i++
		}
	}
}

// decodePublicKey decodes 0x0A || h (spec §3.11.4): 1024 coefficients of 14
// bits, MSB first. It rejects a wrong length or header and any coefficient ≥ q.
func decodePublicKey(b []byte) (*PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, fmt.Errorf("%w: length %d, want %d", ErrPublicKey, len(b), PublicKeySize)
	}
	if b[0] != headerPublicKey {
		return nil, fmt.Errorf("%w: header byte 0x%02x, want 0x%02x", ErrPublicKey, b[0], headerPublicKey)
	}
	var v [n]uint32
	unpackFixed(v[:], b[1:], encBitsH)
	pk := new(PublicKey)
	for i, x := range v {
		if x >= q {
			return nil, fmt.Errorf("%w: coefficient %d is %d, not below q = %d", ErrPublicKey, i, x, q)
		}
		pk.h[i] = uint16(x)
	}
	pk.hNTT = computeNTTH(&pk.h)
	return pk, nil
}

// encodePublicKey returns 0x0A || h.
func encodePublicKey(pk *PublicKey) []byte {
	out := make([]byte, PublicKeySize)
	out[0] = headerPublicKey
	var v [n]uint32
	for i, x := range pk.h {
		v[i] = uint32(x)
	}
	packFixed(out[1:], v[:], encBitsH)
	return out
}

const (
	skFOffset = 1
	skGOffset = skFOffset + n*encBitsFG/8
	skFBig    = skGOffset + n*encBitsFG/8 // offset of F
)

// decodeSigned decodes two's-complement fields of `bits` bits into dst. It
// returns 1 if any field holds the forbidden most negative code, 0 otherwise,
// without branching on the (secret) data.
func decodeSigned(dst *[n]int16, src []byte, bits uint) (bad uint32) {
	var v [n]uint32
	unpackFixed(v[:], src, bits)
	minCode := uint32(1) << (bits - 1)
	for i, x := range v {
		// Sign-extend: shift the field to the top of an int32 and back.
		dst[i] = int16(int32(x<<(32-bits)) >> (32 - bits))
		// x == minCode ⇔ x^minCode == 0 ⇔ (x^minCode)−1 underflows.
		bad |= ((x ^ minCode) - 1) >> 31
	}
	clear(v[:])
	return bad
}

// decodePrivateKey decodes 0x5A || f || g || F (spec §3.11.5), f and g with 5
// bits and F with 8 bits per coefficient, two's complement, MSB first. It
// rejects a wrong length or header, the most negative code in any field, an f
// that is not invertible mod q, and a key whose recomputed G = gF/f mod q does
// not fit in 8 bits (which no key from key generation has). It recomputes G
// and the public key h = g/f mod q.
//
// The checks on secret coefficients are accumulated without branching and
// reported at the end; the error does not say which coefficient failed.
func decodePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != PrivateKeySize {
		return nil, fmt.Errorf("%w: length %d, want %d", ErrPrivateKey, len(b), PrivateKeySize)
	}
	if b[0] != headerPrivateKey {
		return nil, fmt.Errorf("%w: header byte 0x%02x, want 0x%02x", ErrPrivateKey, b[0], headerPrivateKey)
	}
	sk := new(PrivateKey)
	bad := decodeSigned(&sk.f, b[skFOffset:skGOffset], encBitsFG)
	bad |= decodeSigned(&sk.g, b[skGOffset:skFBig], encBitsFG)
	bad |= decodeSigned(&sk.F, b[skFBig:], encBitsF)
	if bad != 0 {
		sk.Destroy()
		return nil, fmt.Errorf("%w: forbidden code -16 in f or g or -128 in F", ErrPrivateKey)
	}

	fi, ok := invFNTT(&sk.f)
	if !ok {
		clear(fi[:])
		sk.Destroy()
		return nil, fmt.Errorf("%w: f is not invertible mod q", ErrPrivateKey)
	}
	var t [n]uint32
	divByF(&t, &fi, &sk.g, nil)
	for i, x := range t {
		sk.pub.h[i] = uint16(x)
	}
	divByF(&t, &fi, &sk.g, &sk.F)
	var big uint32
	for i, x := range t {
		v := liftModQ(x)
		sk.G[i] = int16(v)
		// |v| > encBoundF ⇔ encBoundF − |v| < 0.
		m := v >> 31
		abs := (v ^ m) - m
		big |= uint32(encBoundF-abs) >> 31
	}
	clear(fi[:])
	clear(t[:])
	if big != 0 {
		sk.Destroy()
		return nil, fmt.Errorf("%w: G = gF/f mod q does not fit in 8 bits (f, g, F do not form a key)", ErrPrivateKey)
	}
	sk.pub.hNTT = computeNTTH(&sk.pub.h)
	return sk, nil
}

// encodeSigned writes the low `bits` bits of each coefficient of src into dst.
func encodeSigned(dst []byte, src *[n]int16, bits uint) {
	var v [n]uint32
	for i, x := range src {
		v[i] = uint32(int32(x))
	}
	packFixed(dst, v[:], bits)
	clear(v[:])
}

// encodePrivateKey returns 0x5A || f || g || F. The key's coefficients must be
// in range (they are, for a decoded or generated key).
func encodePrivateKey(sk *PrivateKey) []byte {
	out := make([]byte, PrivateKeySize)
	out[0] = headerPrivateKey
	encodeSigned(out[skFOffset:skGOffset], &sk.f, encBitsFG)
	encodeSigned(out[skGOffset:skFBig], &sk.g, encBitsFG)
	encodeSigned(out[skFBig:], &sk.F, encBitsF)
	return out
}

// compressS2 encodes s2 (spec Alg. 17) into at most maxLen bytes; ok is false
// if it does not fit or if some |s2[i]| > 2047. Each coefficient becomes a sign
// bit (1 = negative), the 7 low bits of |s| MSB first, then |s|>>7 zero bits and
// a one bit; the last byte is padded with zero bits.
func compressS2(s2 *[n]int16, maxLen int) (out []byte, ok bool) {
	if maxLen < 0 {
		return nil, false
	}
	w := bitWriter{buf: make([]byte, 0, maxCompressedS2+3)}
	for _, s := range s2 {
		v := int32(s)
		var sign uint32
		if v < 0 {
			sign = 1
			v = -v
		}
		if v > maxS2Abs {
			return nil, false
		}
		w.write(sign<<7|uint32(v)&0x7f, 8)
		hi := uint(v >> 7)
		w.write(1, hi+1) // hi zero bits, then a one
		if len(w.buf) > maxLen {
			return nil, false
		}
	}
	out = w.flush()
	if len(out) > maxLen {
		return nil, false
	}
	return out, true
}

// decompressS2 strictly decodes a compressed s2 (spec Alg. 18). It rejects
// |s| > 2047 (more than 15 unary zeros), "−0" (sign bit set with magnitude 0),
// running out of input, non-zero padding bits in the last byte, and any byte
// left over after the last coefficient: the input must be exactly the output
// of compressS2 for the decoded polynomial.
func decompressS2(s2 *[n]int16, b []byte) error {
	var acc uint32 // unread bits, right-aligned
	var nacc uint  // number of unread bits in acc
	pos := 0
	for i := range s2 {
		// Sign and 7 low bits.
		if nacc < 8 {
			if pos == len(b) {
				return fmt.Errorf("%w: input ends in coefficient %d", errS2, i)
			}
			acc = acc<<8 | uint32(b[pos])
			pos++
			nacc += 8
		}
		nacc -= 8
		head := acc >> nacc & 0xff
		acc &= 1<<nacc - 1
		m := head & 0x7f
		// Unary high part: count zero bits up to the terminating one.
		var hi uint32
		for {
			if nacc == 0 {
				if pos == len(b) {
					return fmt.Errorf("%w: input ends in coefficient %d", errS2, i)
				}
				acc = uint32(b[pos])
				pos++
				nacc = 8
			}
			nacc--
			bit := acc >> nacc & 1
			acc &= 1<<nacc - 1
			if bit == 1 {
				break
			}
			hi++
			if hi > maxS2Abs>>7 {
				return fmt.Errorf("%w: coefficient %d exceeds %d", errS2, i, maxS2Abs)
			}
		}
		m |= hi << 7
		if head&0x80 != 0 {
			if m == 0 {
				return fmt.Errorf("%w: coefficient %d is a negative zero", errS2, i)
			}
			s2[i] = -int16(m)
		} else {
			s2[i] = int16(m)
		}
	}
	if acc != 0 {
		return fmt.Errorf("%w: non-zero padding bits", errS2)
	}
	if pos != len(b) {
		return fmt.Errorf("%w: %d bytes after the last coefficient", errS2, len(b)-pos)
	}
	return nil
}
