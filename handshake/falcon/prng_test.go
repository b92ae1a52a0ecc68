package falcon

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/crypto/chacha20"
)

// TestPRNGRefillLayout checks the refill against an independent ChaCha20
// (golang.org/x/crypto/chacha20, RFC 8439): block u of a refill is the
// ChaCha20 block for key w_0..w_7, counter w_8 and nonce w_9..w_11 with
// (cc+u) XORed into the last two nonce words, and its word v sits at byte
// offset 4u + 32v of the buffer.
func TestPRNGRefillLayout(t *testing.T) {
	var seed [56]byte
	for i := range seed {
		seed[i] = byte(7*i + 3)
	}
	// A counter that carries into its high word within the first refills.
	binary.LittleEndian.PutUint64(seed[48:], 0x00000001FFFFFFFC)
	var p prng
	if err := p.init(bytes.NewReader(seed[:])); err != nil {
		t.Fatal(err)
	}
	for refill := 0; refill < 3; refill++ {
		for u := 0; u < 8; u++ {
			cc := uint64(0x00000001FFFFFFFC) + uint64(8*refill+u)
			var nonce [12]byte
			copy(nonce[:], seed[36:48])
			binary.LittleEndian.PutUint32(nonce[4:], binary.LittleEndian.Uint32(seed[40:])^uint32(cc))
			binary.LittleEndian.PutUint32(nonce[8:], binary.LittleEndian.Uint32(seed[44:])^uint32(cc>>32))
			c, err := chacha20.NewUnauthenticatedCipher(seed[:32], nonce[:])
			if err != nil {
				t.Fatal(err)
			}
			c.SetCounter(binary.LittleEndian.Uint32(seed[32:]))
			var block [64]byte
			c.XORKeyStream(block[:], block[:])
			for v := 0; v < 16; v++ {
				got := p.buf[4*u+32*v : 4*u+32*v+4]
				if !bytes.Equal(got, block[4*v:4*v+4]) {
					t.Fatalf("refill %d block %d word %d: %x, want %x", refill, u, v, got, block[4*v:4*v+4])
				}
			}
		}
		p.refill()
	}
}

// TestPRNGReadRules checks how u64 and u8 walk the buffer: u64 is
// little-endian and refills when at most 9 bytes are left; u8 refills only on
// an empty buffer.
func TestPRNGReadRules(t *testing.T) {
	var p prng
	if err := p.init(bytes.NewReader(make([]byte, 56))); err != nil {
		t.Fatal(err)
	}
	first := p.buf
	if got, want := p.u64(), binary.LittleEndian.Uint64(first[:8]); got != want {
		t.Fatalf("u64 = %#x, want %#x", got, want)
	}
	for p.ptr < 502 {
		p.u8()
	}
	p.u64() // 10 bytes left: no refill
	if p.ptr != 510 || p.buf != first {
		t.Fatalf("u64 with 10 bytes left refilled (ptr %d)", p.ptr)
	}
	p.u8()
	p.u8()
	if p.ptr != 512 || p.buf != first {
		t.Fatal("u8 refilled early")
	}
	b := p.u8() // empty: refill, then the first byte of the new buffer
	if p.buf == first || b != uint32(p.buf[0]) || p.ptr != 1 {
		t.Fatal("u8 on an empty buffer did not refill")
	}
	second := p.buf
	for p.ptr < 503 {
		p.u8()
	}
	v := p.u64() // 9 bytes left: refill first, dropping them
	if p.buf == second || v != binary.LittleEndian.Uint64(p.buf[:8]) || p.ptr != 8 {
		t.Fatal("u64 with 9 bytes left did not refill")
	}
}
