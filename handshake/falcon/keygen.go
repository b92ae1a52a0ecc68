package falcon

// Key generation (spec §3.8, Alg. 4 NTRUGen): sample f, g from a discrete
// Gaussian of σ_{f,g} = 1.17·sqrt(q/2n), reject unsuitable candidates, solve
// the NTRU equation (ntru.go), and derive h = g/f mod q.
//
// Randomness: 48 bytes from the caller's reader seed SHAKE256, and all
// sampling reads little-endian 64-bit words from the SHAKE256 stream. This is
// how the NIST round-3 reference code draws its keys (SPEC-NOTES §1.8), so the
// same code path reproduces the KAT keys from the KAT seeds.

import (
	"crypto/rand"
	"crypto/sha3"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// keygenSeedSize is the number of bytes read from the caller's reader.
const keygenSeedSize = 48

// gaussTable is the cumulative table of the discrete Gaussian of σ_{f,g} for
// n = 1024, q = 12289, scaled by 2^63 (the constants of the round-3 reference
// table gauss_1024_12289): entry 0 is the probability of 0; for k ≥ 1,
// entry k is the probability of |x| ≥ k+1 given x ≠ 0.
var gaussTable = [27]uint64{
	1283868770400643928, 6416574995475331444, 4078260278032692663,
	2353523259288686585, 1227179971273316331, 575931623374121527,
	242543240509105209, 91437049221049666, 30799446349977173,
	9255276791179340, 2478152334826140, 590642893610164,
	125206034929641, 23590435911403, 3948334035941,
	586753615614, 77391054539, 9056793210,
	940121950, 86539696, 7062824,
	510971, 32764, 1862,
	94, 4, 0,
}

// kgRNG reads little-endian uint64 values from a SHAKE256 stream.
type kgRNG struct {
	x   *sha3.SHAKE
	buf [8 * 136]byte
	pos int
}

func newKgRNG(seed []byte) *kgRNG {
	r := &kgRNG{x: sha3.NewSHAKE256()}
	r.x.Write(seed)
	r.pos = len(r.buf)
	return r
}

func (r *kgRNG) u64() uint64 {
	if r.pos == len(r.buf) {
		r.x.Read(r.buf[:])
		r.pos = 0
	}
	v := binary.LittleEndian.Uint64(r.buf[r.pos:])
	r.pos += 8
	return v
}

func (r *kgRNG) wipe() {
	clear(r.buf[:])
	r.x.Reset()
}

// mkgauss draws one sample of the discrete Gaussian: from a first 64-bit
// word, bit 63 is the sign and the low 63 bits decide zero (below entry 0);
// from a second word (low 63 bits) y, the magnitude is the first k ≥ 1 whose
// entry is not above y, that is 1 + #{k ≥ 1 : y < table[k]} (the entries
// decrease to 0). Constant-time: the whole table is always scanned.
func mkgauss(r *kgRNG) int32 {
	x := r.u64()
	neg := uint32(x >> 63)
	x &= 1<<63 - 1
	nonzero := uint32((x-gaussTable[0])>>63) ^ 1 // 0 if x < table[0]
	y := r.u64() & (1<<63 - 1)
	v := uint64(1)
	for _, t := range gaussTable[1:] {
		v += (y - t) >> 63 // y < t
	}
	m := uint32(v) & -nonzero
	m = (m ^ -neg) + neg
	return int32(m)
}

// samplePoly fills p with Gaussian samples; coefficients outside [−127, 127]
// are redrawn, and the last one is redrawn until the sum of all is odd (so
// that the resultant of p with x^n+1 is odd).
func samplePoly(r *kgRNG, p *[n]int16) {
	var parity uint32
	for i := 0; i < n; i++ {
		for {
			s := mkgauss(r)
			if s < -127 || s > 127 { // practically never; leaks only a redraw
				continue
			}
			if i == n-1 {
				if (parity^uint32(s))&1 == 0 { // redraw: leaks only that it happened
					continue
				}
			} else {
				parity ^= uint32(s) & 1
			}
			p[i] = int16(s)
			break
		}
	}
}

// Rejection bounds (spec §3.8.2, Alg. 5 and 4): ‖(g, −f)‖² < 1.17²·q and the
// squared norm of the Gram-Schmidt vector (q·f̄/(ff̄+gḡ), q·ḡ/(ff̄+gḡ)) below
// 1.17²·q. With coefficients limited to 5-bit two's complement without −16
// (for the key encoding).
const (
	bnormMax   = 1.17 * 1.17 * q // 16822.4121
	fgCoeffMax = 15
)

// candidateOK applies the cheap rejection checks to a candidate (f, g). The
// result is computed without branching on the coefficients; only the final
// verdict is used to branch (a rejected candidate is discarded).
func candidateOK(f, g *[n]int16) bool {
	var bad uint32
	var sq int32
	for i := 0; i < n; i++ {
		a, b := int32(f[i]), int32(g[i])
		bad |= uint32((a+fgCoeffMax)|(fgCoeffMax-a)|(b+fgCoeffMax)|(fgCoeffMax-b)) >> 31
		sq += a*a + b*b
	}
	bad |= uint32(sq-int32(math.Ceil(bnormMax)))>>31 ^ 1 // sq ≥ 16823
	if bad != 0 {
		// Rejected already: skipping the FFT reveals only the verdict.
		return false
	}
	// Gram-Schmidt norm: in the FFT domain the vector has squared modulus
	// q²/(|f|²+|g|²) at each root; its squared norm is the mean of that over
	// all n roots (Parseval), i.e. (2/n)·Σ over the n/2 roots we evaluate.
	var fl [2 * n]float64
	var A [n / 2]complex128
	var B [n / 2]complex128
	var tmp [n]complex128
	for i := 0; i < n; i++ {
		fl[i] = float64(f[i])
		fl[n+i] = float64(g[i])
	}
	kgFFT(A[:], fl[:n], logN, tmp[:])
	kgFFT(B[:], fl[n:], logN, tmp[:])
	var sum float64
	for j := 0; j < n/2; j++ {
		d := real(A[j])*real(A[j]) + imag(A[j])*imag(A[j]) + real(B[j])*real(B[j]) + imag(B[j])*imag(B[j])
		sum += ctRecip(d)
	}
	gs := sum * (2.0 * q * q / n)
	bad |= b2u(!(gs < bnormMax))
	clear(fl[:])
	clear(A[:])
	clear(B[:])
	clear(tmp[:])
	return bad == 0
}

// b2u converts a comparison result to 0/1 (the compiler emits SETcc).
func b2u(b bool) uint32 {
	var r uint32
	if b {
		r = 1
	}
	return r
}

var errKeygen = errors.New("falcon: key generation failed")

// generateKey draws a 48-byte seed from rand (crypto/rand.Reader if nil) and
// derives the key pair from it.
func generateKey(rnd io.Reader) (*PrivateKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var seed [keygenSeedSize]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, err
	}
	defer clear(seed[:])
	return keygenFromSeed(seed[:])
}

// keygenFromSeed derives a key pair from a seed, exactly as the round-3
// reference does from its 48-byte randombytes() output.
func keygenFromSeed(seed []byte) (*PrivateKey, error) { return keygenSkip(seed, 0) }

// keygenSkip is keygenFromSeed, except that it discards the first skip
// candidates that pass every check (tests use it to compare the candidate
// stream with the reference's).
func keygenSkip(seed []byte, skip int) (*PrivateKey, error) {
	r := newKgRNG(seed)
	defer r.wipe()
	sk := new(PrivateKey)
	for tries := 0; tries < 5000; tries++ {
		samplePoly(r, &sk.f)
		samplePoly(r, &sk.g)
		if !candidateOK(&sk.f, &sk.g) {
			continue
		}
		h, ok := publicFromFG(&sk.f, &sk.g)
		if !ok {
			continue
		}
		F, G, ok := ntruSolve(&sk.f, &sk.g)
		if ok && skip > 0 {
			skip--
			ok = false
		}
		if !ok {
			clear(F[:])
			clear(G[:])
			continue
		}
		sk.F, sk.G = F, G
		sk.pub.h = h
		clear(F[:])
		clear(G[:])
		// Expand the key for signing now (FFT basis and LDL tree, sign.go):
		// the first Sign is then as fast as the next ones, and the tree's
		// leaves are checked. A key that passed the Gram-Schmidt bound always
		// expands; a failure would just discard the candidate.
		if _, err := sk.expand(); err != nil {
			clear(sk.F[:])
			clear(sk.G[:])
			continue
		}
		return sk, nil
	}
	// Unreachable in practice: about one candidate in 20 is kept.
	clear(sk.f[:])
	clear(sk.g[:])
	return nil, errKeygen
}
