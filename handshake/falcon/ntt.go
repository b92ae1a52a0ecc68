package falcon

// Arithmetic in Z_q[x]/(x^n + 1), q = 12289, n = 1024 (spec §3.1, §3.10).
//
// Because 2n = 2048 divides q−1 = 12288, the ring splits completely mod q and
// the negacyclic number-theoretic transform (NTT) turns products into
// coefficient-wise products. We use ψ, a primitive 2n-th root of unity mod q,
// and evaluate at the odd powers ψ^(2i+1). The forward transform is the
// Cooley–Tukey recursion on x^n+1 = (x^(n/2)−ψ^(n/2))(x^(n/2)+ψ^(n/2)) and
// leaves its output in bit-reversed order; the inverse undoes it with the
// Gentleman–Sande recursion. Both orders are internal: products and inverses
// are coefficient-wise in the transformed domain, whatever the order.
//
// Coefficients are uint32 values in [0, q). All operations here are free of
// data-dependent branches and memory indices, because publicFromFG and
// completeG run on secret key material. Reduction mod q uses the constant
// divisor q, which the Go compiler turns into a multiply and shift.

const (
	qGenerator = 11          // a generator of the multiplicative group Z_q^*
	nInvModQ   = q - 12      // n^-1 mod q: 1024 · 12277 ≡ 1 (mod 12289)
	qHalf      = (q - 1) / 2 // 6144: lifted values lie in [−qHalf, qHalf]
)

// zetas[k] = ψ^bitrev10(k) and izetas[k] = ψ^-bitrev10(k), for k in [1, n).
var zetas, izetas [n]uint32

func init() {
	// ψ = g^((q−1)/2n) has order exactly 2n because g generates Z_q^*.
	psi := powModQ(qGenerator, (q-1)/(2*n))
	psiInv := powModQ(psi, q-2)
	for k := 1; k < n; k++ {
		r := bitrev10(uint32(k))
		zetas[k] = powModQ(psi, r)
		izetas[k] = powModQ(psiInv, r)
	}
	if mulModQ(nInvModQ, n) != 1 || powModQ(psi, n) != q-1 {
		panic("falcon: bad NTT constants")
	}
}

func bitrev10(x uint32) uint32 {
	var r uint32
	for i := 0; i < logN; i++ {
		r = r<<1 | (x>>i)&1
	}
	return r
}

// mulModQ returns a·b mod q for a, b in [0, q).
func mulModQ(a, b uint32) uint32 { return a * b % q }

// addModQ returns a+b mod q for a, b in [0, q), without branches.
func addModQ(a, b uint32) uint32 {
	x := a + b - q
	return x + (q & uint32(int32(x)>>31))
}

// subModQ returns a−b mod q for a, b in [0, q), without branches.
func subModQ(a, b uint32) uint32 {
	x := a - b
	return x + (q & uint32(int32(x)>>31))
}

// powModQ returns a^e mod q. The exponent is public (it drives the loop);
// a may be secret.
func powModQ(a, e uint32) uint32 {
	r := uint32(1)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mulModQ(r, a)
		}
		a = mulModQ(a, a)
	}
	return r
}

// nttForward transforms a in place; input and output coefficients are in [0, q).
//
// Reduction is lazy: the product by the twiddle factor is reduced mod q, the
// sums are not. A value entering level l (counting from 0) is below (l+1)·q,
// and u − v is computed as u + q − v, so after the 10 levels every value is
// below 11·q and every product stays below 11·q·q < 2^32. One final pass
// reduces mod q.
func nttForward(a *[n]uint32) {
	k := 1
	for t := n / 2; t >= 1; t >>= 1 {
		for start := 0; start < n; start += 2 * t {
			z := zetas[k]
			k++
			lo := a[start : start+t : start+t]
			hi := a[start+t : start+2*t : start+2*t]
			hi = hi[:len(lo)]
			for j := range lo {
				v := hi[j] * z % q
				u := lo[j]
				lo[j] = u + v
				hi[j] = u + q - v
			}
		}
	}
	for i := range a {
		a[i] %= q
	}
}

// nttInverse undoes nttForward in place, including the division by n; input
// and output coefficients are in [0, q).
func nttInverse(a *[n]uint32) {
	k := n - 1
	for t := 1; t < n; t <<= 1 {
		for start := n - 2*t; start >= 0; start -= 2 * t {
			z := izetas[k]
			k--
			lo := a[start : start+t : start+t]
			hi := a[start+t : start+2*t : start+2*t]
			hi = hi[:len(lo)]
			for j := range lo {
				u, v := lo[j], hi[j]
				lo[j] = addModQ(u, v)
				hi[j] = (u + q - v) * z % q
			}
		}
	}
	for i := range a {
		a[i] = mulModQ(a[i], nInvModQ)
	}
}

// smallToModQ maps signed coefficients (|x| < q) to [0, q) without branches.
func smallToModQ(dst *[n]uint32, src *[n]int16) {
	for i, x := range src {
		v := int32(x)
		v += q & (v >> 31)
		dst[i] = uint32(v)
	}
}

// liftModQ maps x in [0, q) to the centred representative in [−qHalf, qHalf],
// without branches.
func liftModQ(x uint32) int32 {
	v := int32(x)
	return v - (q & ((qHalf - v) >> 31))
}

// invertNTT replaces each coefficient of a (in the NTT domain) by its inverse
// mod q (Fermat: a^(q−2)); ok is 0 if some coefficient is 0, i.e. the
// polynomial is not invertible, and 1 otherwise. Constant time.
func invertNTT(a *[n]uint32) (ok uint32) {
	var zero uint32
	for i, x := range a {
		// x == 0 ⇔ (x−1) underflows to a value with bit 31 set.
		zero |= (x - 1) >> 31
		a[i] = powModQ(x, q-2)
	}
	return zero ^ 1
}

// invFNTT returns NTT(f)^-1 (coefficient-wise); ok reports whether f is
// invertible in Z_q[x]/(x^n+1).
func invFNTT(f *[n]int16) (fi [n]uint32, ok bool) {
	smallToModQ(&fi, f)
	nttForward(&fi)
	good := invertNTT(&fi)
	return fi, good == 1
}

// divByF computes num·num2/f mod q (or num/f when num2 is nil) given
// fi = NTT(f)^-1, writing coefficients in [0, q) to out. num and num2 hold
// signed coefficients with |x| < q.
func divByF(out *[n]uint32, fi *[n]uint32, num, num2 *[n]int16) {
	smallToModQ(out, num)
	nttForward(out)
	if num2 != nil {
		var t [n]uint32
		smallToModQ(&t, num2)
		nttForward(&t)
		for i := range out {
			out[i] = mulModQ(out[i], t[i])
		}
		clear(t[:])
	}
	for i := range out {
		out[i] = mulModQ(out[i], fi[i])
	}
	nttInverse(out)
}

// publicFromFG computes h = g/f mod q (spec §3.8.2, Alg. 4 line 6); ok is false
// if f is not invertible mod q.
func publicFromFG(f, g *[n]int16) (h [n]uint16, ok bool) {
	fi, ok := invFNTT(f)
	var t [n]uint32
	divByF(&t, &fi, g, nil)
	for i, x := range t {
		h[i] = uint16(x)
	}
	clear(fi[:])
	clear(t[:])
	return h, ok
}

// completeG computes G = g·F/f mod q, lifted to (-q/2, q/2]; ok is false if f is
// not invertible mod q. (For a valid key fG − gF = q, so G ≡ gF/f mod q, and
// G's true coefficients are small: spec §3.8.2, Alg. 4 lines 7-9.)
func completeG(f, g, F *[n]int16) (G [n]int16, ok bool) {
	fi, ok := invFNTT(f)
	var t [n]uint32
	divByF(&t, &fi, g, F)
	for i, x := range t {
		G[i] = int16(liftModQ(x))
	}
	clear(fi[:])
	clear(t[:])
	return G, ok
}

// mulPublicNTT multiplies s (signed, |s| < q) by h, given hNTT = NTT(h), and
// writes the product mod q, coefficients in [0, q), to out. Used by Verify on
// public data.
func mulPublicNTT(out *[n]uint32, s *[n]int16, hNTT *[n]uint32) {
	smallToModQ(out, s)
	nttForward(out)
	for i := range out {
		out[i] = mulModQ(out[i], hNTT[i])
	}
	nttInverse(out)
}
