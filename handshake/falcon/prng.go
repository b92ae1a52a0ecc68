package falcon

import (
	"encoding/binary"
	"io"
	"math/bits"
)

// prng is the ChaCha20-based generator that feeds SamplerZ (spec §3.9.3
// leaves the choice of PRNG open; this one is the round-3 reference's, so that
// signing with the KAT's randomness reproduces the KAT signatures; SPEC-NOTES
// §1.8). Its exact behaviour:
//
//   - Seeding reads 56 bytes from the caller's stream (the SHAKE256 of the
//     signing seed): 48 bytes of input words w_0..w_11 (little-endian) and a
//     little-endian 64-bit block counter cc.
//   - A refill produces 512 bytes from 8 ChaCha20 blocks (20 rounds) with the
//     counters cc, cc+1, .., cc+7; block u starts from the state
//     "expand 32-byte k" || w_0..w_11 with cc XORed into words 14 and 15 (the
//     low and high halves), and the usual feed-forward of that start state.
//     Word v of block u is written little-endian at byte offset 4u + 32v (the
//     interleaved layout of the reference's 8-way vector code). cc advances by 8.
//   - u64 reads 8 little-endian bytes; when at most u64Reserve (9) bytes
//     remain it first refills, dropping them.
//   - u8 reads one byte; it refills only when the buffer is exhausted.
//
// The output depends on nothing but the seed, so the generator is as good as
// ChaCha20 as a stream cipher keyed by 256 secret bits (the remaining seed bits
// act as nonce and counter).
type prng struct {
	buf [512]byte
	ptr int
	w   [12]uint32
	cc  uint64
}

// u64Reserve: u64 refills when at most this many bytes are left.
const u64Reserve = 9

// init seeds p from 56 bytes of src and fills the buffer.
func (p *prng) init(src io.Reader) error {
	var seed [56]byte
	if _, err := io.ReadFull(src, seed[:]); err != nil {
		return err
	}
	for i := range p.w {
		p.w[i] = binary.LittleEndian.Uint32(seed[4*i:])
	}
	p.cc = binary.LittleEndian.Uint64(seed[48:])
	clear(seed[:])
	p.refill()
	return nil
}

// wipe clears the generator state.
func (p *prng) wipe() {
	clear(p.buf[:])
	clear(p.w[:])
	p.cc, p.ptr = 0, 0
}

func quarterRound(a, b, c, d uint32) (uint32, uint32, uint32, uint32) {
	a += b
	d = bits.RotateLeft32(d^a, 16)
	c += d
	b = bits.RotateLeft32(b^c, 12)
	a += b
	d = bits.RotateLeft32(d^a, 8)
	c += d
	b = bits.RotateLeft32(b^c, 7)
	return a, b, c, d
}

// refill regenerates the 512-byte buffer (see the type's documentation).
func (p *prng) refill() {
	for u := 0; u < 8; u++ {
		var in [16]uint32
		in[0], in[1], in[2], in[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
		copy(in[4:], p.w[:])
		in[14] ^= uint32(p.cc)
		in[15] ^= uint32(p.cc >> 32)
		x := in
		for r := 0; r < 10; r++ {
			x[0], x[4], x[8], x[12] = quarterRound(x[0], x[4], x[8], x[12])
			x[1], x[5], x[9], x[13] = quarterRound(x[1], x[5], x[9], x[13])
			x[2], x[6], x[10], x[14] = quarterRound(x[2], x[6], x[10], x[14])
			x[3], x[7], x[11], x[15] = quarterRound(x[3], x[7], x[11], x[15])
			x[0], x[5], x[10], x[15] = quarterRound(x[0], x[5], x[10], x[15])
			x[1], x[6], x[11], x[12] = quarterRound(x[1], x[6], x[11], x[12])
			x[2], x[7], x[8], x[13] = quarterRound(x[2], x[7], x[8], x[13])
			x[3], x[4], x[9], x[14] = quarterRound(x[3], x[4], x[9], x[14])
		}
		for v := 0; v < 16; v++ {
			binary.LittleEndian.PutUint32(p.buf[4*u+32*v:], x[v]+in[v])
		}
		p.cc++
	}
	p.ptr = 0
}

// u64 returns the next 64-bit value.
func (p *prng) u64() uint64 {
	if p.ptr >= len(p.buf)-u64Reserve {
		p.refill()
	}
	v := binary.LittleEndian.Uint64(p.buf[p.ptr:])
	p.ptr += 8
	return v
}

// u8 returns the next byte.
func (p *prng) u8() uint32 {
	if p.ptr == len(p.buf) {
		p.refill()
	}
	v := p.buf[p.ptr]
	p.ptr++
	return uint32(v)
}
