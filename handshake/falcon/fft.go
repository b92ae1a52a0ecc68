package falcon

// Fast Fourier transform over R[x]/(x^m+1) (spec §3.6.2 "FFT", Alg. 1
// splitfft and Alg. 2 mergefft), used by signing (the LDL tree and
// ffSampling) and by key generation (NTRU solving and the Gram-Schmidt norm
// check).
//
// # Representation ("FFT form")
//
// A real polynomial a of degree < m (m a power of two, 2 ≤ m ≤ 1024) is
// stored in FFT form as a []float64 of length m: for slot j in [0, m/2),
//
//	a[j]       = Re a(w_j)
//	a[j + m/2] = Im a(w_j)
//
// where w_0 .. w_{m/2-1} are m/2 of the m roots of x^m+1, one from each
// conjugate pair (the values at the other roots are the conjugates, since a is
// real). The order of the roots is the one produced by splitting
// x^m+1 = (x^{m/2}-i)(x^{m/2}+i) and then each x^{2t}-ζ into
// (x^t-√ζ)(x^t+√ζ): for m ≥ 4, slots 2u and 2u+1 hold the values at
// s_u and -s_u with s_u = root(m/2+u) (see rootTab), and for m = 2 the single
// slot holds a(i) = a_0 + i·a_1. This is exactly the order that splitFFT and
// mergeFFT (Alg. 1 and 2) need: slot u of the half-size transform holds the
// value at s_u².
//
// In coefficient form the same slice holds a_0 .. a_{m-1}. The forward
// transform of the coefficients a_0..a_{m-1} needs no reordering: the complex
// vector (a_j + i·a_{j+m/2})_{j<m/2} is a mod (x^{m/2} - i), which is where the
// butterflies start.
//
// # Floating point
//
// All arithmetic is IEEE-754 binary64 with round-to-nearest. Every product
// that feeds an addition or subtraction is wrapped in an explicit float64()
// conversion: the Go specification ("Floating-point operators") allows an
// implementation to fuse x*y+z into one FMA (with a single rounding) unless
// the product is explicitly converted, and a fused result would differ in the
// last bit from the reference algorithms. The order of operations (butterfly
// structure, twiddle table, complex product formula, division formula) is
// fixed and documented so that results are reproducible bit for bit on every
// platform. The transforms' control flow and memory accesses depend only on
// m, never on the data.
//
// # API (all in place, lengths must match; m = len of the slices)
//
//	fft(a)                   coefficients -> FFT form
//	ifft(a)                  FFT form -> coefficients
//	polyAdd(a, b)            a += b                 (either form)
//	polySub(a, b)            a -= b                 (either form)
//	polyNeg(a)               a = -a                 (either form)
//	polyMulConst(a, c)       a *= c (c real)        (either form)
//	polyAdjFFT(a)            a = adj(a)             (FFT form: conjugate)
//	polyMulFFT(a, b)         a *= b                 (FFT form)
//	polyMulAdjFFT(a, b)      a *= adj(b)            (FFT form)
//	polyMulSelfAdjFFT(a)     a = a·adj(a) = |a|²    (FFT form, result real)
//	polyMulAutoAdjFFT(a, b)  a *= b, b self-adjoint (FFT form, uses Re b only)
//	polyDivFFT(a, b)         a /= b                 (FFT form)
//	polyDivAutoAdjFFT(a, b)  a /= b, b self-adjoint (FFT form, uses Re b only)
//	polyInvNorm2FFT(d, a, b) d = 1/(a·adj(a) + b·adj(b))       (FFT form, real)
//	polyAddMulAdjFFT(d, F, G, f, g) d = F·adj(f) + G·adj(g)    (FFT form)
//	polyLDLFFT(g00, g01, g11)   LDL* of a self-adjoint 2x2 Gram matrix, in place
//	splitFFT(f0, f1, f)      f(x) = f0(x²) + x·f1(x²), FFT form, len(f0) = m/2
//	mergeFFT(f, f0, f1)      inverse of splitFFT
//
// Complex products are computed as
//
//	(a·b).re = float64(a.re·b.re) - float64(a.im·b.im)
//	(a·b).im = float64(a.re·b.im) + float64(a.im·b.re)
//
// and a/b as a·(conj(b)·(1/(b.re²+b.im²))), that is
// r = 1/(float64(b.re²)+float64(b.im²)), b' = (b.re·r, -b.im·r), then a·b'.

import "math"

// cmul returns (ar + i·ai)·(br + i·bi) with the product formula documented above.
func cmul(ar, ai, br, bi float64) (float64, float64) {
	return float64(ar*br) - float64(ai*bi), float64(ar*bi) + float64(ai*br)
}

// cdiv returns (ar + i·ai)/(br + i·bi) with the division formula documented above.
func cdiv(ar, ai, br, bi float64) (float64, float64) {
	r := 1 / (float64(br*br) + float64(bi*bi))
	br = br * r
	bi = -bi * r
	return cmul(ar, ai, br, bi)
}

// root returns the k-th entry of rootTab as (re, im), 1 ≤ k < 1024.
func root(k int) (float64, float64) {
	return math.Float64frombits(rootTab[2*k]), math.Float64frombits(rootTab[2*k+1])
}

// checkLen panics unless m is a power of two in [2, 1024]; the transforms are
// internal and only ever called with such lengths.
func checkLen(m int) {
	if m < 2 || m > n || m&(m-1) != 0 {
		panic("falcon: FFT length must be a power of two in [2, 1024]")
	}
}

// fft converts a from coefficient form to FFT form in place.
//
// Level by level, each block of t consecutive complex values holding
// a mod (x^t - ζ) is split into a mod (x^{t/2} - s) (first half) and
// a mod (x^{t/2} + s) (second half), s = √ζ = root(2·groups + i) for block i,
// with the butterfly (x, y) -> (x + s·y, x - s·y).
func fft(a []float64) {
	m := len(a)
	checkLen(m)
	hm := m >> 1
	re, im := a[:hm], a[hm:m]
	t := hm
	for groups := 1; groups < hm; groups <<= 1 {
		ht := t >> 1
		for i := 0; i < groups; i++ {
			sr, si := root(2*groups + i)
			j1 := i * t
			xr, xi := re[j1:j1+ht], im[j1:j1+ht]
			yr, yi := re[j1+ht:j1+t], im[j1+ht:j1+t]
			for j := range xr {
				pr, pi := cmul(yr[j], yi[j], sr, si)
				x0, x1 := xr[j], xi[j]
				xr[j], xi[j] = x0+pr, x1+pi
				yr[j], yi[j] = x0-pr, x1-pi
			}
		}
		t = ht
	}
}

// ifft converts a from FFT form to coefficient form in place: the butterflies
// of fft undone in reverse order, (x, y) -> (x + y, (x - y)·conj(s)), then a
// final scaling by 2/m (a power of two, so exact).
func ifft(a []float64) {
	m := len(a)
	checkLen(m)
	hm := m >> 1
	re, im := a[:hm], a[hm:m]
	t := 1
	for groups := hm >> 1; groups >= 1; groups >>= 1 {
		dt := t << 1
		for i := 0; i < groups; i++ {
			sr, si := root(2*groups + i)
			si = -si
			j1 := i * dt
			xr, xi := re[j1:j1+t], im[j1:j1+t]
			yr, yi := re[j1+t:j1+dt], im[j1+t:j1+dt]
			for j := range xr {
				x0, x1 := xr[j], xi[j]
				y0, y1 := yr[j], yi[j]
				xr[j], xi[j] = x0+y0, x1+y1
				yr[j], yi[j] = cmul(x0-y0, x1-y1, sr, si)
			}
		}
		t = dt
	}
	if hm > 1 {
		s := 1 / float64(hm)
		for j := range a {
			a[j] *= s
		}
	}
}

// polyAdd sets a += b.
func polyAdd(a, b []float64) {
	b = b[:len(a)]
	for j := range a {
		a[j] += b[j]
	}
}

// polySub sets a -= b.
func polySub(a, b []float64) {
	b = b[:len(a)]
	for j := range a {
		a[j] -= b[j]
	}
}

// polyNeg sets a = -a.
func polyNeg(a []float64) {
	for j := range a {
		a[j] = -a[j]
	}
}

// polyMulConst sets a *= c.
func polyMulConst(a []float64, c float64) {
	for j := range a {
		a[j] *= c
	}
}

// polyAdjFFT sets a to its adjoint a*(x) = a(1/x) (complex conjugation in FFT form).
func polyAdjFFT(a []float64) {
	hm := len(a) >> 1
	for j := hm; j < len(a); j++ {
		a[j] = -a[j]
	}
}

// polyMulFFT sets a *= b (FFT form).
func polyMulFFT(a, b []float64) {
	hm := len(a) >> 1
	ar, ai := a[:hm], a[hm:2*hm]
	br, bi := b[:hm], b[hm:2*hm]
	for j := range ar {
		ar[j], ai[j] = cmul(ar[j], ai[j], br[j], bi[j])
	}
}

// polyMulAdjFFT sets a *= adj(b) (FFT form).
func polyMulAdjFFT(a, b []float64) {
	hm := len(a) >> 1
	ar, ai := a[:hm], a[hm:2*hm]
	br, bi := b[:hm], b[hm:2*hm]
	for j := range ar {
		ar[j], ai[j] = cmul(ar[j], ai[j], br[j], -bi[j])
	}
}

// polyMulSelfAdjFFT sets a = a·adj(a) (FFT form); the result is real
// (imaginary parts set to +0).
func polyMulSelfAdjFFT(a []float64) {
	hm := len(a) >> 1
	ar, ai := a[:hm], a[hm:2*hm]
	for j := range ar {
		ar[j] = float64(ar[j]*ar[j]) + float64(ai[j]*ai[j])
		ai[j] = 0
	}
}

// polyMulAutoAdjFFT sets a *= b where b is self-adjoint (real in FFT form;
// only its real parts are read).
func polyMulAutoAdjFFT(a, b []float64) {
	hm := len(a) >> 1
	ar, ai := a[:hm], a[hm:2*hm]
	br := b[:hm]
	for j := range ar {
		ar[j] *= br[j]
		ai[j] *= br[j]
	}
}

// polyDivFFT sets a /= b (FFT form).
func polyDivFFT(a, b []float64) {
	hm := len(a) >> 1
	ar, ai := a[:hm], a[hm:2*hm]
	br, bi := b[:hm], b[hm:2*hm]
	for j := range ar {
		ar[j], ai[j] = cdiv(ar[j], ai[j], br[j], bi[j])
	}
}

// polyDivAutoAdjFFT sets a /= b where b is self-adjoint (only its real parts
// are read): each slot is multiplied by r = 1/b.re.
func polyDivAutoAdjFFT(a, b []float64) {
	hm := len(a) >> 1
	ar, ai := a[:hm], a[hm:2*hm]
	br := b[:hm]
	for j := range ar {
		r := 1 / br[j]
		ar[j] *= r
		ai[j] *= r
	}
}

// polyInvNorm2FFT sets d = 1/(a·adj(a) + b·adj(b)) (FFT form, real result,
// imaginary parts +0), computed per slot as
// 1/((float64(a.re²)+float64(a.im²)) + (float64(b.re²)+float64(b.im²))).
func polyInvNorm2FFT(d, a, b []float64) {
	hm := len(d) >> 1
	dr, di := d[:hm], d[hm:2*hm]
	ar, ai := a[:hm], a[hm:2*hm]
	br, bi := b[:hm], b[hm:2*hm]
	for j := range dr {
		na := float64(ar[j]*ar[j]) + float64(ai[j]*ai[j])
		nb := float64(br[j]*br[j]) + float64(bi[j]*bi[j])
		dr[j] = 1 / (na + nb)
		di[j] = 0
	}
}

// polyAddMulAdjFFT sets d = F·adj(f) + G·adj(g) (FFT form), each product
// computed with the complex product formula, then added.
func polyAddMulAdjFFT(d, F, G, f, g []float64) {
	hm := len(d) >> 1
	dr, di := d[:hm], d[hm:2*hm]
	Fr, Fi := F[:hm], F[hm:2*hm]
	Gr, Gi := G[:hm], G[hm:2*hm]
	fr, fi := f[:hm], f[hm:2*hm]
	gr, gi := g[:hm], g[hm:2*hm]
	for j := range dr {
		ar, ai := cmul(Fr[j], Fi[j], fr[j], -fi[j])
		br, bi := cmul(Gr[j], Gi[j], gr[j], -gi[j])
		dr[j], di[j] = ar+br, ai+bi
	}
}

// polyLDLFFT computes the LDL* decomposition (spec §3.8.1, Alg. 8 LDL*) of
// the self-adjoint matrix G = [[g00, g01], [adj(g01), g11]] in FFT form, in
// place: G = L·D·L* with L = [[1, 0], [l10, 1]], D = diag(g00, d11). On
// return g01 holds l10 and g11 holds d11; g00 (= d00) is unchanged.
// Per slot: μ = g01/g00, d11 = g11 - μ·conj(g01), l10 = conj(μ)
// (l10 = g10/g00 with g10 = conj(g01)).
func polyLDLFFT(g00, g01, g11 []float64) {
	hm := len(g00) >> 1
	ar, ai := g00[:hm], g00[hm:2*hm]
	br, bi := g01[:hm], g01[hm:2*hm]
	cr, ci := g11[:hm], g11[hm:2*hm]
	for j := range ar {
		mr, mi := cdiv(br[j], bi[j], ar[j], ai[j])
		pr, pi := cmul(mr, mi, br[j], -bi[j])
		cr[j], ci[j] = cr[j]-pr, ci[j]-pi
		br[j], bi[j] = mr, -mi
	}
}

// splitFFT computes f0, f1 with f(x) = f0(x²) + x·f1(x²) (spec Alg. 1
// splitfft), all in FFT form; len(f0) = len(f1) = len(f)/2. For slot pair
// (a, b) = (f(s_u), f(-s_u)): f0 slot u = (a+b)/2 and
// f1 slot u = ((a-b)·conj(s_u))/2.
func splitFFT(f0, f1, f []float64) {
	m := len(f)
	hm, qm := m>>1, m>>2
	if m == 2 {
		f0[0], f1[0] = f[0], f[1]
		return
	}
	fr, fi := f[:hm], f[hm:m]
	for u := 0; u < qm; u++ {
		ar, ai := fr[2*u], fi[2*u]
		br, bi := fr[2*u+1], fi[2*u+1]
		f0[u], f0[u+qm] = (ar+br)*0.5, (ai+bi)*0.5
		sr, si := root(hm + u)
		tr, ti := cmul(ar-br, ai-bi, sr, -si)
		f1[u], f1[u+qm] = tr*0.5, ti*0.5
	}
}

// mergeFFT is the inverse of splitFFT (spec Alg. 2 mergefft): for slot u,
// with a = f0 slot u and b = f1 slot u · s_u, f slot 2u = a+b and slot
// 2u+1 = a-b.
func mergeFFT(f, f0, f1 []float64) {
	m := len(f)
	hm, qm := m>>1, m>>2
	if m == 2 {
		f[0], f[1] = f0[0], f1[0]
		return
	}
	fr, fi := f[:hm], f[hm:m]
	for u := 0; u < qm; u++ {
		ar, ai := f0[u], f0[u+qm]
		sr, si := root(hm + u)
		br, bi := cmul(f1[u], f1[u+qm], sr, si)
		fr[2*u], fi[2*u] = ar+br, ai+bi
		fr[2*u+1], fi[2*u+1] = ar-br, ai-bi
	}
}
