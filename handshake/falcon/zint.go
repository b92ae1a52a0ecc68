package falcon

// Fixed-size multi-word integers and residue-number-system (RNS) arithmetic for
// key generation (NTRUSolve, spec §3.8.2 Alg. 6). Written from the spec and
// from the approach of Pornin & Prest, "More Efficient Algorithms for the NTRU
// Key Generation using the Field Norm" (PKC 2019).
//
// Representation: a big integer is a fixed number L of 31-bit words, least
// significant first, each word in [0, 2^31), read as a two's-complement
// number on 31·L bits (bit 30 of the top word is the sign). L always comes
// from public per-depth bounds, never from the value; every routine here runs
// the same instructions for all values of a given length (no secret-dependent
// branch or memory index). A polynomial of degree m with L-word coefficients
// is a []uint32 of length m·L, coefficient i at [i·L, (i+1)·L).
//
// Products and field norms of such polynomials are computed modulo several
// 31-bit primes p ≡ 1 (mod 2048) with a negacyclic NTT, then rebuilt by CRT.

import (
	"math/bits"
	"sync"
)

const mask31 = 0x7fffffff

// nPrimes is how many RNS primes are prepared: the field norm from depth 9
// to 10 uses the most (fgWords[10]+1); rnsTableSizes checks it.
const nPrimes = 240

// modp holds the constants for one prime p < 2^31 with p ≡ 1 (mod 2048).
type modp struct {
	p   uint32
	p0i uint32 // -1/p mod 2^32 (Montgomery)
	r2  uint32 // 2^64 mod p: mmul(x, r2) = x·2^32 mod p (to Montgomery form)
	r31 uint32 // 2^31·2^32 mod p: mmul(x, r31) = x·2^31 mod p
	// Twiddles for the negacyclic NTT of size up to 1024, Montgomery form,
	// bit-reversed order: zeta[k] = ψ^brev10(k)·2^32, izeta[k] = ψ^-brev10(k)·2^32,
	// with ψ a primitive 2048-th root of unity mod p.
	zeta, izeta []uint32
	// ninv[l] = 2^-l · 2^32 mod p: mmul(x, ninv[l]) = x / 2^l.
	ninv [11]uint32
	// crtInv = (p_0·…·p_{i-1})^-1 mod p (Montgomery form), for prime index i ≥ 1.
	crtInv uint32
}

var (
	rnsOnce   sync.Once
	rnsPrimes []modp
	// crtProd[i] = p_0·…·p_{i-1} as i words (31-bit), i ≥ 1.
	crtProd [][]uint32
)

func rns() []modp {
	rnsOnce.Do(initRNS)
	return rnsPrimes
}

// mmul returns a·b/2^32 mod p for a, b < p (Montgomery product).
func (m *modp) mmul(a, b uint32) uint32 {
	t := uint64(a) * uint64(b)
	k := uint32(t) * m.p0i
	r := uint32((t + uint64(k)*uint64(m.p)) >> 32)
	r -= m.p
	r += m.p & -(r >> 31)
	return r
}

func (m *modp) add(a, b uint32) uint32 {
	r := a + b - m.p
	r += m.p & -(r >> 31)
	return r
}

func (m *modp) sub(a, b uint32) uint32 {
	r := a - b
	r += m.p & -(r >> 31)
	return r
}

// mul returns a·b mod p (plain, not Montgomery) for a, b < p.
func (m *modp) mul(a, b uint32) uint32 { return m.mmul(m.mmul(a, b), m.r2) }

// reduce31 returns w mod p for a word w < 2^31.
func (m *modp) reduce31(w uint32) uint32 {
	r := w - m.p
	r += m.p & -(r >> 31)
	return r
}

// fromInt32 returns x mod p for a signed x with |x| < p.
func (m *modp) fromInt32(x int32) uint32 {
	r := uint32(x)
	r += m.p & -(r >> 31)
	return r
}

func powmod(b, e, p uint64) uint64 {
	r := uint64(1)
	b %= p
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = r * b % p
		}
		b = b * b % p
	}
	return r
}

// isPrime32 is a deterministic Miller-Rabin test for n < 2^32 (public values only).
func isPrime32(n uint64) bool {
	if n < 2 || n%2 == 0 {
		return n == 2
	}
	d, s := n-1, 0
	for d%2 == 0 {
		d /= 2
		s++
	}
	for _, a := range []uint64{2, 7, 61} {
		if a%n == 0 {
			continue
		}
		x := powmod(a, d, n)
		if x == 1 || x == n-1 {
			continue
		}
		comp := true
		for i := 1; i < s; i++ {
			x = x * x % n
			if x == n-1 {
				comp = false
				break
			}
		}
		if comp {
			return false
		}
	}
	return true
}

func brev10(k int) int { return int(bits.Reverse16(uint16(k)) >> 6) }

func initRNS() {
	need := rnsTableSizes()
	ps := make([]modp, 0, nPrimes)
	for c := uint64((1<<31-1)/2048*2048 + 1); len(ps) < nPrimes; c -= 2048 {
		if !isPrime32(c) {
			continue
		}
		ps = append(ps, newModp(uint32(c), need[len(ps)]))
	}
	prod := make([][]uint32, nPrimes)
	prod[0] = nil
	cur := []uint32{1}
	for i := 1; i < nPrimes; i++ {
		// cur = cur · p_{i-1}
		nxt := make([]uint32, len(cur)+1)
		var c uint64
		for j, w := range cur {
			z := uint64(w)*uint64(ps[i-1].p) + c
			nxt[j] = uint32(z) & mask31
			c = z >> 31
		}
		nxt[len(cur)] = uint32(c)
		for len(nxt) > i {
			nxt = nxt[:i]
		}
		prod[i] = nxt
		cur = nxt
		// crtInv: (cur mod p_i)^-1
		m := &ps[i]
		r := zintModp(cur, m)
		inv := powmod(uint64(r), uint64(m.p-2), uint64(m.p))
		m.crtInv = m.mmul(uint32(inv), m.r2)
	}
	rnsPrimes, crtProd = ps, prod
}

// rnsTableSizes returns, for each prime index, the largest NTT size (log2)
// that NTRUSolve uses with that prime, from the same public size tables, so
// that the twiddle tables hold only what is used (the primes used for the
// deep levels only ever see tiny degrees).
func rnsTableSizes() (need [nPrimes]int) {
	use := func(P, logm int) {
		if P > nPrimes {
			panic("falcon: keygen needs more RNS primes")
		}
		for i := 0; i < P; i++ {
			need[i] = max(need[i], logm)
		}
	}
	use(1, logN) // checkNTRU
	for d := 0; d < logN; d++ {
		logm := logN - d
		use(fgWords[d+1]+1, logm-1) // fieldNorm2
		if logm > 3 {
			Ll := fgRedWords(d+1) + fgWords[d] + 1
			use(Ll+1, logm-1) // liftFG
		}
		if logm > 4 {
			LT := fgWords[d] + (kBits+logm+1+30)/31
			use(LT+1, logm) // kfMul
		}
	}
	return
}

func newModp(p uint32, logmax int) modp {
	m := modp{p: p}
	// p0i = -1/p mod 2^32 by Newton iteration.
	y := p
	for i := 0; i < 5; i++ {
		y *= 2 - p*y
	}
	m.p0i = -y
	P := uint64(p)
	r := (uint64(1) << 32) % P
	m.r2 = uint32(r * r % P)
	m.r31 = uint32((uint64(1) << 31) % P * r % P)
	// Primitive 2048-th root of unity.
	var psi uint64
	for g := uint64(2); ; g++ {
		w := powmod(g, (P-1)/2048, P)
		if powmod(w, 1024, P) == P-1 {
			psi = w
			break
		}
	}
	ipsi := powmod(psi, P-2, P)
	m.zeta = make([]uint32, 1<<logmax)
	m.izeta = make([]uint32, 1<<logmax)
	for k := range m.zeta {
		e := uint64(brev10(k))
		m.zeta[k] = uint32(powmod(psi, e, P) * r % P)
		m.izeta[k] = uint32(powmod(ipsi, e, P) * r % P)
	}
	inv2 := (P + 1) / 2
	for l := 0; l < 11; l++ {
		m.ninv[l] = uint32(powmod(inv2, uint64(l), P) * r % P)
	}
	return m
}

// ntt computes in place the negacyclic NTT of a (length 2^logm ≤ 1024, values
// in [0, p)); the output is in bit-reversed order of the evaluation points.
func (m *modp) ntt(a []uint32, logm int) {
	n := 1 << logm
	a = a[:n]
	k := 1
	for ln := n >> 1; ln >= 1; ln >>= 1 {
		for start := 0; start < n; start += 2 * ln {
			z := m.zeta[k]
			k++
			x, y := a[start:start+ln], a[start+ln:start+2*ln]
			for j := range x {
				t := m.mmul(z, y[j])
				y[j] = m.sub(x[j], t)
				x[j] = m.add(x[j], t)
			}
		}
	}
}

// intt inverts ntt (including the division by the size).
func (m *modp) intt(a []uint32, logm int) {
	n := 1 << logm
	a = a[:n]
	for ln := 1; ln < n; ln <<= 1 {
		base := n / (2 * ln)
		for start := 0; start < n; start += 2 * ln {
			z := m.izeta[base+start/(2*ln)]
			x, y := a[start:start+ln], a[start+ln:start+2*ln]
			for j := range x {
				u, v := x[j], y[j]
				x[j] = m.add(u, v)
				y[j] = m.mmul(z, m.sub(u, v))
			}
		}
	}
	c := m.ninv[logm]
	for j := range a {
		a[j] = m.mmul(a[j], c)
	}
}

// zintModp returns x mod p for an unsigned multi-word x (all words read as
// unsigned; no sign).
func zintModp(x []uint32, m *modp) uint32 {
	var r uint32
	for j := len(x) - 1; j >= 0; j-- {
		r = m.add(m.mmul(r, m.r31), m.reduce31(x[j]))
	}
	return r
}

// pow2w returns 2^(31·L) mod p.
func (m *modp) pow2w(L int) uint32 {
	// Montgomery form of 1 is 2^32 mod p = mmul(1, r2).
	r := m.mmul(1, m.r2)
	for i := 0; i < L; i++ {
		r = m.mmul(r, m.r31)
	}
	return m.mmul(r, 1)
}

// polyToModp reduces the m coefficients (L words each, two's complement) of
// x modulo p into out. sgn = pow2w(L).
func polyToModp(out []uint32, x []uint32, L, cnt int, mp *modp, sgn uint32) {
	for i := 0; i < cnt; i++ {
		c := x[i*L : (i+1)*L]
		r := zintModp(c, mp)
		neg := -(c[L-1] >> 30)
		out[i] = mp.sub(r, sgn&neg)
	}
}

// crtRebuild turns the residues res[j] (mod p_j, j < P) of one integer into
// its L-word two's-complement form (the value must satisfy |x| < 2^(31L-1)
// and L ≤ P). tmp must hold P+1 words.
func crtRebuild(out []uint32, L int, res []uint32, ps []modp, tmp []uint32) {
	P := len(res)
	x := tmp[:P+1]
	for i := range x {
		x[i] = 0
	}
	x[0] = res[0]
	for i := 1; i < P; i++ {
		mp := &ps[i]
		xm := zintModp(x[:i], mp)
		t := mp.mmul(mp.sub(res[i], xm), mp.crtInv)
		// x += t · prod_i (i words)
		pr := crtProd[i]
		var c uint64
		for j := 0; j < i; j++ {
			z := uint64(x[j]) + uint64(t)*uint64(pr[j]) + c
			x[j] = uint32(z) & mask31
			c = z >> 31
		}
		x[i] = uint32(c) // x < prod_{i+1} < 2^(31(i+1)), so this fits
	}
	// Now 0 ≤ x < M = prod_P. If x > M/2 (i.e. 2x > M), subtract M.
	pr := crtProd[P]
	var bw uint32 // borrow of M - 2x
	var prevTop uint32
	for j := 0; j < P; j++ {
		tw := ((x[j] << 1) | prevTop) & mask31
		prevTop = x[j] >> 30
		d := pr[j] - tw - bw
		bw = d >> 31
	}
	bw |= prevTop // 2x has an extra word
	mask := -bw   // all ones if 2x > M
	var b uint32
	for j := 0; j < P; j++ {
		d := x[j] - (pr[j] & mask) - b
		x[j] = d & mask31
		b = d >> 31
	}
	x[P] = -(b & 1) & mask31 // sign extension if negative
	copy(out[:L], x[:L])
}

// zintIsOdd returns 1 if the multi-word x is odd.
func zintIsOdd(x []uint32) uint32 { return x[0] & 1 }

// zintCondNeg negates x (two's complement) when neg is 1, else leaves it.
func zintCondNeg(x []uint32, neg uint32) {
	mk := -neg & mask31
	c := neg
	for j := range x {
		t := (x[j] ^ mk) + c
		x[j] = t & mask31
		c = t >> 31
	}
}

// zintLinComb sets out = (a·fa + b·fb) / 2^31 for non-negative W-word a, b
// and |fa|+|fb| ≤ 2^31, assuming the division is exact; out has W words
// (two's complement). It returns 1 if out is negative.
func zintLinComb(out, a, b []uint32, fa, fb int64) uint32 {
	W := len(a)
	var c int64
	for w := 0; w < W; w++ {
		z := int64(a[w])*fa + int64(b[w])*fb + c
		if w > 0 {
			out[w-1] = uint32(z) & mask31
		}
		c = z >> 31
	}
	out[W-1] = uint32(c) & mask31
	return out[W-1] >> 30
}

// zintModComb sets out = (ua·fa + ub·fb)/2^31 mod y for ua, ub in [0, y), y odd
// with W words, |fa|+|fb| ≤ 2^31, y0i = −1/y mod 2^31. tmp needs 3W+3 words.
// out may alias ua or ub.
func zintModComb(out, ua, ub []uint32, fa, fb int64, y []uint32, y0i uint32, tmp []uint32) {
	W := len(y)
	r := tmp[:W+1]
	d1 := tmp[W+1 : 2*W+2]
	d2 := tmp[2*W+2 : 3*W+3]
	// k makes ua·fa + ub·fb + k·y divisible by 2^31.
	t0 := uint32(int64(ua[0])*fa+int64(ub[0])*fb) & mask31
	k := int64((t0 * y0i) & mask31)
	// One pass: |ua_w·fa + ub_w·fb| < 2^62, k·y_w < 2^62, |carry| < 2^32,
	// so z fits in an int64. Word 0 of the sum is 0 and is dropped.
	var c int64
	for w := 0; w < W; w++ {
		z := int64(ua[w])*fa + int64(ub[w])*fb + k*int64(y[w]) + c
		if w > 0 {
			r[w-1] = uint32(z) & mask31
		}
		c = z >> 31
	}
	r[W-1] = uint32(c) & mask31
	r[W] = uint32(c>>31) & mask31
	// r is in (−y, 2y): compute r + y and r − y together, then select.
	neg := -(r[W] >> 30)
	var c1, b2 uint32
	for w := 0; w <= W; w++ {
		var yw uint32
		if w < W {
			yw = y[w]
		}
		x1 := r[w] + yw + c1
		d1[w] = x1 & mask31
		c1 = x1 >> 31
		x2 := r[w] - yw - b2
		d2[w] = x2 & mask31
		b2 = x2 >> 31
	}
	ge := (b2 - 1) &^ neg // r ≥ y (and r not negative)
	for w := 0; w < W; w++ {
		v := r[w]
		v ^= (v ^ d1[w]) & neg
		v ^= (v ^ d2[w]) & ge
		out[w] = v
	}
}

// zintMulAcc sets t += sgn·a·b modulo 2^(31·len(t)), for two's-complement a
// and b (sgn = ±1). Cost len(b)·len(t) word products, whatever the values.
func zintMulAcc(t, a, b []uint32, sgn int64) {
	Lt, La, Lb := len(t), len(a), len(b)
	aext := -(a[La-1] >> 30) & mask31
	for j := 0; j < Lb && j < Lt; j++ {
		c := int64(b[j])
		if j == Lb-1 { // public index: the top word of b is signed
			c = int64(int32(b[j]<<1) >> 1)
		}
		c *= sgn
		var cy int64
		tj := t[j:]
		for w := range tj {
			aw := aext
			if w < La {
				aw = a[w]
			}
			z := int64(tj[w]) + c*int64(aw) + cy
			tj[w] = uint32(z) & mask31
			cy = z >> 31
		}
	}
}

// liftSchool computes F = F'(x²)·g(−x), G = G'(x²)·f(−x) by schoolbook
// multiplication (for small degrees, where it beats the RNS product).
func liftSchool(Fp, Gp []uint32, Lp int, f, g []uint32, Wf, logm, Lout int) (F, G []uint32) {
	m := 1 << logm
	hm := m >> 1
	F = make([]uint32, m*Lout)
	G = make([]uint32, m*Lout)
	for k := 0; k < 2; k++ {
		src, other, dst := Fp, g, F
		if k == 1 {
			src, other, dst = Gp, f, G
		}
		for i := 0; i < hm; i++ {
			a := src[i*Lp : (i+1)*Lp]
			for j := 0; j < m; j++ {
				b := other[j*Wf : (j+1)*Wf]
				sgn := int64(1 - 2*(j&1)) // g(−x)
				e := 2*i + j
				if e >= m {
					e -= m
					sgn = -sgn
				}
				zintMulAcc(dst[e*Lout:(e+1)*Lout], a, b, sgn)
			}
		}
	}
	return F, G
}

// fieldNormSchool computes N(f) = f0² − x·f1² (f = f0(x²) + x·f1(x²), degree
// 2^logm, L words) into Lout-word coefficients by schoolbook products (for
// small degrees, where it beats the RNS product).
func fieldNormSchool(f []uint32, logm, L, Lout int) []uint32 {
	m := 1 << logm
	hm := m >> 1
	out := make([]uint32, hm*Lout)
	for i := 0; i < hm; i++ {
		e0, e1 := f[(2*i)*L:(2*i+1)*L], f[(2*i+1)*L:(2*i+2)*L]
		for j := 0; j < hm; j++ {
			ej0, ej1 := f[(2*j)*L:(2*j+1)*L], f[(2*j+1)*L:(2*j+2)*L]
			// f0_i·f0_j at x^(i+j)
			k, sg := i+j, int64(1)
			if k >= hm {
				k, sg = k-hm, -1
			}
			zintMulAcc(out[k*Lout:(k+1)*Lout], e0, ej0, sg)
			// −f1_i·f1_j at x^(i+j+1)
			k, sg = i+j+1, -1
			if k >= hm {
				k, sg = k-hm, 1
			}
			zintMulAcc(out[k*Lout:(k+1)*Lout], e1, ej1, sg)
		}
	}
	return out
}
