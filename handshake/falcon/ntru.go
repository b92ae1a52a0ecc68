package falcon

// NTRUSolve (spec §3.8.2, Alg. 6): given small f, g in Z[x]/(x^n+1), find F,
// G with f·G − g·F = q. Design after Pornin & Prest (PKC 2019), written from
// the paper and the spec:
//
//   - Going down: f_{d+1} = N(f_d) = f0² − x·f1² (field norm to the subfield of
//     half degree), computed in RNS (NTT modulo several 31-bit primes) and
//     rebuilt by CRT into fixed-size integers, or by schoolbook products at
//     degrees 2 and 4; the same for g. At depth 10 the "polynomials" are the
//     integers Res(f), Res(g) (positive: products of |f(ζ)|²).
//   - Depth 10: a constant-time binary extended GCD (chunked: 31 steps on
//     64-bit approximations, then one matrix update of the full integers)
//     gives u, v with f·u − g·v = 1, hence F = q·v, G = q·u.
//   - Going up: F_d = F_{d+1}(x²)·g_d(−x), G_d = G_{d+1}(x²)·f_d(−x) (RNS
//     products, schoolbook up to degree 16), then Babai size reduction of
//     (F, G) against (f, g): repeated (F, G) −= 2^s·k·(f, g) with
//     k = round(2^−s·(F·f* + G·g*)/(f·f* + g·g*)) computed in floating point
//     (double-double at degrees 4 and 8) from the top words of each
//     coefficient, on a public schedule of shifts s that ends with s = 0 (an
//     exact Babai step, which makes the result canonical: any two solutions
//     differ by a multiple of (f, g), which that step removes).
//
// Every size (words per coefficient, number of primes, number of reduction
// steps and their shifts) comes from the public tables below, indexed by depth
// only. A key whose intermediate values overflow these bounds is not detected
// by branching: the result is checked at the end (F, G within 8 bits and
// f·G − g·F = q exactly), and a key that fails is rejected and resampled,
// which leaks nothing about the key that is finally kept.

import (
	"math"
)

// fgWords[d]: 31-bit words per coefficient of f_d and g_d (depth d has degree
// n>>d). Measured maxima over many keys plus a margin (TestNTRUScheduleMargins
// in ntru_sched_test.go checks the margins; NTRU_STATS=1 NTRU_ADAPT=1 prints
// the measurements).
var fgWords = [11]int{1, 1, 1, 2, 4, 8, 14, 27, 54, 106, 211}

// fgBits[d]: bound on the bit length of |f_d|, |g_d| coefficients used for the
// reduction schedule.
var fgBits = [11]int{5, 13, 28, 55, 110, 218, 430, 835, 1655, 3265, 6520}

// Reduction schedule per depth d (see babai): kInit[d] bounds log2 max|K|
// for the lifted (F, G), kSlack[d] bounds log2 max|K| − s after a step with
// shift s. fgRedBits[d] bounds the bit length of the reduced F_d, G_d.
var (
	kInit  = [11]int{20, 34, 62, 116, 225, 440, 850, 1670, 3290, 6500, 30}
	kSlack = [11]int{5, 5, 5, 12, 24, 20, 20, 20, 20, 4, 5}
)

func fgRedBits(d int) int { return fgBits[d] + (logN - d) + 2 }

// kBits bounds the bit length of the multipliers k in one reduction step.
const kBits = 50

// winWords is the number of top words of a coefficient turned into a float
// (the window starts at the bound's top word; 20 words = 620 bits leave room
// for values far below their bound).
const winWords = 20

// ntruAdaptive (tests only) picks each shift from the actual values instead
// of the public schedule, to measure the schedule's constants.
var ntruAdaptive bool

// fgRedWords(d): words per coefficient of the reduced F_d, G_d.
func fgRedWords(d int) int { return (fgRedBits(d) + 1 + 30) / 31 }

// ntruStatsHook, when set by a test, receives measurements (depth, name, value).
var ntruStatsHook func(d int, name string, v float64)

// ntruSolve returns F, G with f·G − g·F = q and |F|, |G| ≤ 127, or ok = false.
func ntruSolve(f, g *[n]int16) (F, G [n]int16, ok bool) {
	ps := rns()
	var fs, gs [11][]uint32
	fs[0] = make([]uint32, n)
	gs[0] = make([]uint32, n)
	for i := 0; i < n; i++ {
		fs[0][i] = uint32(int32(f[i])) & mask31
		gs[0][i] = uint32(int32(g[i])) & mask31
	}
	for d := 0; d < logN; d++ {
		if logN-d <= 2 {
			fs[d+1] = fieldNormSchool(fs[d], logN-d, fgWords[d], fgWords[d+1])
			gs[d+1] = fieldNormSchool(gs[d], logN-d, fgWords[d], fgWords[d+1])
		} else {
			fs[d+1], gs[d+1] = fieldNorm2(fs[d], gs[d], logN-d, fgWords[d], fgWords[d+1], ps)
		}
	}
	if ntruStatsHook != nil {
		for d := 0; d <= logN; d++ {
			ntruStatsHook(d, "fgbits", float64(maxBits(fs[d], n>>d, fgWords[d], gs[d])))
		}
	}
	okm := uint32(1)
	Fd, Gd, r := solveDeg1(fs[logN], gs[logN], fgWords[logN])
	okm &= r
	if ntruStatsHook != nil {
		ntruStatsHook(logN, "ok", float64(okm))
	}
	LF := fgWords[logN] + 1
	// Reduce at depth 10 as well (degree 1).
	okm &= babai(Fd, Gd, LF, fs[logN], gs[logN], fgWords[logN], 0, logN, 31*LF-1)
	Fo, Go, r := truncWords(Fd, Gd, 1, LF, fgRedWords(logN))
	wipeU32(Fd, Gd)
	Fd, Gd = Fo, Go
	okm &= r
	for d := logN - 1; d >= 0; d-- {
		logm := logN - d
		Lp := fgRedWords(d + 1)
		Wf := fgWords[d]
		Ll := Lp + Wf + 1
		var Fl, Gl []uint32
		if logm <= 4 {
			Fl, Gl = liftSchool(Fd, Gd, Lp, fs[d], gs[d], Wf, logm, Ll)
		} else {
			Fl, Gl = liftFG(Fd, Gd, Lp, fs[d], gs[d], Wf, logm, Ll, ps)
		}
		B0 := fgRedBits(d+1) + fgBits[d] + logm
		if B0 > 31*Ll-1 {
			B0 = 31*Ll - 1
		}
		okm &= babai(Fl, Gl, Ll, fs[d], gs[d], Wf, logm, d, B0)
		wipeU32(Fd, Gd)
		Fd, Gd, r = truncWords(Fl, Gl, 1<<logm, Ll, fgRedWords(d))
		okm &= r
		if ntruStatsHook != nil {
			ntruStatsHook(d, "ok", float64(okm))
		}
		wipeU32(Fl, Gl, fs[d+1], gs[d+1])
		fs[d+1], gs[d+1] = nil, nil
	}
	// Depth 0: one word per coefficient; require |x| ≤ 127.
	L0 := fgRedWords(0)
	for i := 0; i < n; i++ {
		fw := int32(Fd[i*L0]<<1) >> 1
		gw := int32(Gd[i*L0]<<1) >> 1
		okm &= fitsI8(fw) & fitsI8(gw)
		F[i] = int16(fw)
		G[i] = int16(gw)
	}
	if L0 != 1 {
		panic("falcon: ntru: depth-0 size table")
	}
	wipeU32(Fd, Gd, fs[0], gs[0])
	okm &= checkNTRU(f, g, &F, &G, &ps[0])
	return F, G, okm == 1
}

// fitsI8 returns 1 if −127 ≤ x ≤ 127, else 0, without branching.
func fitsI8(x int32) uint32 {
	return uint32((x+127)|(127-x))>>31 ^ 1
}

// checkNTRU verifies f·G − g·F = q exactly: every coefficient of the left
// side is below 2^23 in absolute value, so one prime p > 2^30 decides it.
func checkNTRU(f, g, F, G *[n]int16, mp *modp) uint32 {
	a := make([]uint32, 4*n)
	defer clear(a)
	fa, ga, Fa, Ga := a[:n], a[n:2*n], a[2*n:3*n], a[3*n:]
	for i := 0; i < n; i++ {
		fa[i] = mp.fromInt32(int32(f[i]))
		ga[i] = mp.fromInt32(int32(g[i]))
		Fa[i] = mp.fromInt32(int32(F[i]))
		Ga[i] = mp.fromInt32(int32(G[i]))
	}
	for _, x := range [][]uint32{fa, ga, Fa, Ga} {
		mp.ntt(x, logN)
	}
	for i := 0; i < n; i++ {
		fa[i] = mp.sub(mp.mul(fa[i], Ga[i]), mp.mul(ga[i], Fa[i]))
	}
	mp.intt(fa, logN)
	var diff uint32
	diff |= fa[0] ^ q
	for i := 1; i < n; i++ {
		diff |= fa[i]
	}
	return ((diff | -diff) >> 31) ^ 1
}

// fieldNorm2 computes N(f) and N(g) for f, g of degree 2^logm with L-word
// coefficients, into Lout-word coefficients.
func fieldNorm2(f, g []uint32, logm, L, Lout int, ps []modp) (nf, ng []uint32) {
	m := 1 << logm
	hm := m >> 1
	P := Lout + 1
	res := make([]uint32, 2*P*hm)
	buf := make([]uint32, 2*m)
	defer wipeU32(res, buf)
	for k, src := range [][]uint32{f, g} {
		for pi := 0; pi < P; pi++ {
			mp := &ps[pi]
			a := buf[:m]
			polyToModp(a, src, L, m, mp, mp.pow2w(L))
			e, o := buf[m:m+hm], buf[m+hm:2*m]
			for i := 0; i < hm; i++ {
				e[i] = a[2*i]
				o[i] = a[2*i+1]
			}
			mp.ntt(e, logm-1)
			mp.ntt(o, logm-1)
			for i := 0; i < hm; i++ {
				e[i] = mp.mul(e[i], e[i])
				o[i] = mp.mul(o[i], o[i])
			}
			mp.intt(e, logm-1)
			mp.intt(o, logm-1)
			out := res[(k*P+pi)*hm : (k*P+pi+1)*hm]
			out[0] = mp.add(e[0], o[hm-1])
			for i := 1; i < hm; i++ {
				out[i] = mp.sub(e[i], o[i-1])
			}
		}
	}
	nf = make([]uint32, hm*Lout)
	ng = make([]uint32, hm*Lout)
	rv := make([]uint32, P)
	tmp := make([]uint32, P+1)
	defer wipeU32(rv, tmp)
	for k, dst := range [][]uint32{nf, ng} {
		for i := 0; i < hm; i++ {
			for pi := 0; pi < P; pi++ {
				rv[pi] = res[(k*P+pi)*hm+i]
			}
			crtRebuild(dst[i*Lout:(i+1)*Lout], Lout, rv, ps, tmp)
		}
	}
	return nf, ng
}

// liftFG computes F = F'(x²)·g(−x) and G = G'(x²)·f(−x) where F', G' have
// degree 2^(logm−1) and Lp words, f, g degree 2^logm and Wf words; the
// results have Lout words.
func liftFG(Fp, Gp []uint32, Lp int, f, g []uint32, Wf, logm, Lout int, ps []modp) (F, G []uint32) {
	m := 1 << logm
	hm := m >> 1
	P := Lout + 1
	res := make([]uint32, 2*P*m)
	buf := make([]uint32, m+3*hm)
	defer wipeU32(res, buf)
	for k := 0; k < 2; k++ {
		src, other := Fp, g // F = F'(x²)·g(−x)
		if k == 1 {
			src, other = Gp, f
		}
		for pi := 0; pi < P; pi++ {
			mp := &ps[pi]
			a := buf[:hm]
			polyToModp(a, src, Lp, hm, mp, mp.pow2w(Lp))
			b := buf[hm : hm+m]
			polyToModp(b, other, Wf, m, mp, mp.pow2w(Wf))
			e, o := buf[hm+m:2*hm+m], buf[2*hm+m:3*hm+m]
			for i := 0; i < hm; i++ {
				e[i] = b[2*i]
				o[i] = b[2*i+1]
			}
			mp.ntt(a, logm-1)
			mp.ntt(e, logm-1)
			mp.ntt(o, logm-1)
			for i := 0; i < hm; i++ {
				e[i] = mp.mul(a[i], e[i])
				o[i] = mp.mul(a[i], o[i])
			}
			mp.intt(e, logm-1)
			mp.intt(o, logm-1)
			out := res[(k*P+pi)*m : (k*P+pi+1)*m]
			// other(−x) = e(x²) − x·o(x²)
			for i := 0; i < hm; i++ {
				out[2*i] = e[i]
				out[2*i+1] = mp.sub(0, o[i])
			}
		}
	}
	F = make([]uint32, m*Lout)
	G = make([]uint32, m*Lout)
	rv := make([]uint32, P)
	tmp := make([]uint32, P+1)
	defer wipeU32(rv, tmp)
	for k, dst := range [][]uint32{F, G} {
		for i := 0; i < m; i++ {
			for pi := 0; pi < P; pi++ {
				rv[pi] = res[(k*P+pi)*m+i]
			}
			crtRebuild(dst[i*Lout:(i+1)*Lout], Lout, rv, ps, tmp)
		}
	}
	return F, G
}

// truncWords shrinks cnt coefficients from L to Lo words; r = 1 if every
// value fits (the dropped words are the sign extension), else 0.
func truncWords(F, G []uint32, cnt, L, Lo int) (Fo, Go []uint32, r uint32) {
	if Lo > L {
		panic("falcon: ntru: truncWords grows")
	}
	Fo = make([]uint32, cnt*Lo)
	Go = make([]uint32, cnt*Lo)
	var bad uint32
	for k, src := range [][]uint32{F, G} {
		dst := Fo
		if k == 1 {
			dst = Go
		}
		for i := 0; i < cnt; i++ {
			c := src[i*L : (i+1)*L]
			copy(dst[i*Lo:(i+1)*Lo], c[:Lo])
			ext := -(c[Lo-1] >> 30) & mask31
			for j := Lo; j < L; j++ {
				bad |= c[j] ^ ext
			}
		}
	}
	return Fo, Go, ((bad | -bad) >> 31) ^ 1
}

// zwindow returns c/2^(31·A−300) as a float64, for a two's-complement
// coefficient c (A ≤ len(c) words) that fits in A words, using only its top
// winWords words (every scale factor is a normal float; no subnormal value is
// ever produced, so the timing does not depend on c).
func zwindow(c []uint32, A int) float64 {
	lo := max(0, A-winWords)
	v := float64(int32(c[A-1]<<1)>>1) * winScale[0]
	for j := A - 2; j >= lo; j-- {
		v += float64(c[j]) * winScale[A-1-j]
	}
	return v
}

// winScale[t] = 2^(300−31·(t+1)).
var winScale = func() (s [winWords]float64) {
	for t := range s {
		s[t] = pow2f(300 - 31*(t+1))
	}
	return
}()

// pow2f returns 2^e for a public exponent e in the normal range.
func pow2f(e int) float64 { return math.Float64frombits(uint64(1023+e) << 52) }

// roundClamp rounds x to the nearest integer, saturating at ±2^kBits, without
// branching on x.
func roundClamp(x float64) int64 {
	b := math.Float64bits(x)
	e := int64((b >> 52) & 0x7ff)
	big := uint64((1023 + kBits - 1 - e) >> 63) // all ones if |x| ≥ 2^kBits (or NaN/Inf)
	lim := (b & (1 << 63)) | uint64(1023+kBits)<<52
	b = (b &^ big) | (lim & big)
	x = math.Float64frombits(b)
	const magic = 6755399441055744.0 // 1.5·2^52: x+magic−magic rounds to an integer
	r := float64(x+magic) - magic
	return int64(r)
}

// babai reduces (F, G) (degree 2^logm, L words) against (f, g) (Wf words) on
// the public schedule of depth d, starting from the bound B on the bit
// length of |F|, |G|. It returns 1 (the schedule is public; success is
// checked by the caller through the size of the result).
func babai(F, G []uint32, L int, f, g []uint32, Wf, logm, d, B int) uint32 {
	m := 1 << logm
	hm := m >> 1
	if hm == 0 {
		hm = 1
	}
	ps := rns()
	// Float approximations of f, g and the FFT-domain factors f*/(ff*+gg*), g*/(ff*+gg*).
	fl := make([]float64, 2*m)
	ctmp := make([]complex128, m)
	ca := make([]complex128, 4*hm)
	Pf, Pg, FA, GA := ca[:hm], ca[hm:2*hm], ca[2*hm:3*hm], ca[3*hm:]
	Aw := min(Wf, fgBits[d]/31+1)
	ef := 31*Aw - 300
	for i := 0; i < m; i++ {
		fl[i] = zwindow(f[i*Wf:(i+1)*Wf], Aw)
		fl[m+i] = zwindow(g[i*Wf:(i+1)*Wf], Aw)
	}
	kgFFT(Pf, fl[:m], logm, ctmp)
	kgFFT(Pg, fl[m:], logm, ctmp)
	for j := 0; j < hm; j++ {
		a, b := Pf[j], Pg[j]
		dd := real(a)*real(a) + imag(a)*imag(a) + real(b)*real(b) + imag(b)*imag(b)
		inv := ctRecip(dd)
		Pf[j] = complex(real(a)*inv, -imag(a)*inv)
		Pg[j] = complex(real(b)*inv, -imag(b)*inv)
	}
	useRNS := m > 16
	var ddb *ddBabai
	if logm >= 2 && logm <= 5 {
		ddb = newDDBabai(f, g, Wf, Aw, logm)
	}
	kb := (kBits + logm + 1 + 30) / 31
	LT := Wf + kb
	var mul *kfMul
	if useRNS {
		mul = newKFMul(f, g, Wf, logm, LT, ps)
	}
	k := make([]int64, m)
	T := make([]uint32, 2*m*LT)
	Kf := make([]float64, m)
	defer func() {
		clear(fl)
		clear(ctmp)
		clear(ca)
		clear(k)
		clear(T)
		clear(Kf)
		if mul != nil {
			wipeU32(mul.fn, mul.gn, mul.buf, mul.res, mul.rv, mul.tmp)
		}
		if ddb != nil {
			ddb.wipe()
		}
	}()
	// Public schedule on e, a bound on log2 max|K|: a step with shift
	// s = max(0, e − (kBits−2)) leaves |K| ≤ 2^(s + kSlack[d]).
	e := kInit[d]
	prevS := -1
	for {
		s := max(0, e-(kBits-2))
		B = min(B, e+fgBits[d]+logm+2)
		if ntruAdaptive {
			B = maxBits(F, m, L, G)
		}
		A := min(L, B/31+1)
		eF := 31*A - 300
		if ddb != nil {
			if ntruAdaptive && ntruStatsHook != nil {
				mx := ddb.quotient(k, F, G, L, A, 1)
				s = max(0, int(math.Ceil(math.Log2(mx)+float64(eF-ef)))-(kBits-2))
			}
			mx := ddb.quotient(k, F, G, L, A, pow2f(eF-ef-s))
			if ntruStatsHook != nil {
				lk := math.Log2(mx) + float64(eF-ef)
				if prevS < 0 {
					ntruStatsHook(d, "e0", lk)
				} else if prevS > 0 {
					ntruStatsHook(d, "cK", lk-float64(prevS))
				}
			}
			goto haveK
		}
		for i := 0; i < m; i++ {
			fl[i] = zwindow(F[i*L:(i+1)*L], A)
			fl[m+i] = zwindow(G[i*L:(i+1)*L], A)
		}
		kgFFT(FA, fl[:m], logm, ctmp)
		kgFFT(GA, fl[m:], logm, ctmp)
		for j := 0; j < hm; j++ {
			FA[j] = FA[j]*Pf[j] + GA[j]*Pg[j]
		}
		kgIFFT(Kf, FA, logm, ctmp)
		if ntruStatsHook != nil {
			mx := 0.0
			for i := 0; i < m; i++ {
				mx = math.Max(mx, math.Abs(Kf[i]))
			}
			lk := math.Log2(mx) + float64(eF-ef)
			if prevS < 0 {
				ntruStatsHook(d, "e0", lk)
			} else if prevS > 0 {
				ntruStatsHook(d, "cK", lk-float64(prevS))
			}
			if ntruAdaptive {
				s = max(0, int(math.Ceil(lk))-(kBits-2))
			}
		}
		{
			sc := pow2f(eF - ef - s)
			for i := 0; i < m; i++ {
				k[i] = roundClamp(Kf[i] * sc)
			}
		}
	haveK:
		if useRNS {
			mul.mul(T, k)
		} else {
			kfSchool(T[:m*LT], k, f, Wf, logm, LT)
			kfSchool(T[m*LT:], k, g, Wf, logm, LT)
		}
		for i := 0; i < m; i++ {
			subShifted(F[i*L:(i+1)*L], T[i*LT:(i+1)*LT], s)
			subShifted(G[i*L:(i+1)*L], T[(m+i)*LT:(m+i+1)*LT], s)
		}
		if ntruStatsHook != nil && s == 0 {
			ntruStatsHook(d, "final", float64(maxBits(F, m, L, G)))
		}
		if s == 0 {
			break
		}
		prevS = s
		e = s + kSlack[d]
	}
	return 1
}

// maxBits returns the largest bit length of |x| over the coefficients of F
// and G (test instrumentation only; not constant-time).
func maxBits(F []uint32, m, L int, G []uint32) int {
	best := 0
	for _, X := range [][]uint32{F, G} {
		for i := 0; i < m; i++ {
			c := X[i*L : (i+1)*L]
			neg := c[L-1] >> 30
			for j := L - 1; j >= 0; j-- {
				w := c[j]
				if neg == 1 {
					w = ^w & mask31
				}
				if w != 0 {
					b := 31*j + 32 - int(countLZ32(w))
					if b > best {
						best = b
					}
					break
				}
			}
		}
	}
	return best
}

func countLZ32(w uint32) int {
	n := 0
	for i := 31; i >= 0 && w>>uint(i)&1 == 0; i-- {
		n++
	}
	return n
}

// subShifted sets x −= t·2^s (two's complement, len(x) words; t sign-extended).
func subShifted(x, t []uint32, s int) {
	sw, sb := s/31, uint(s%31)
	L, LT := len(x), len(t)
	ext := -(t[LT-1] >> 30) & mask31
	var prev uint32 // previous word of t (for the bit shift)
	var borrow uint32
	for j := sw; j < L; j++ {
		ti := j - sw
		var cur uint32
		if ti < LT {
			cur = t[ti]
		} else {
			cur = ext
		}
		w := ((cur << sb) | (prev >> (31 - sb))) & mask31
		prev = cur
		d := x[j] - w - borrow
		x[j] = d & mask31
		borrow = d >> 31
	}
}

// kfSchool computes T = k·f in Z[x]/(x^m+1) by schoolbook multiplication;
// k has |k| ≤ 2^kBits, f has Wf-word coefficients, T has LT-word ones.
func kfSchool(T []uint32, k []int64, f []uint32, Wf, logm, LT int) {
	m := 1 << logm
	for i := range T {
		T[i] = 0
	}
	for i := 0; i < m; i++ {
		Ti := T[i*LT : (i+1)*LT]
		for j := 0; j < m; j++ {
			// coefficient of x^i gets k_j·f_{i−j}, negated when i−j < 0.
			idx := i - j
			kj := k[j]
			if idx < 0 { // public indices only
				idx += m
				kj = -kj
			}
			kl := int64(uint64(kj) & mask31) // low 31 bits, non-negative
			kh := kj >> 31                   // signed high part
			fc := f[idx*Wf : (idx+1)*Wf]
			ext := -(fc[Wf-1] >> 30) & mask31
			var c int64
			// Ti += kl·fc + kh·fc·2^31
			var prevF uint32
			for w := 0; w < LT; w++ {
				var fw uint32
				if w < Wf {
					fw = fc[w]
				} else {
					fw = ext
				}
				// word w receives kl·f_w + kh·f_{w−1}
				z := int64(Ti[w]) + kl*int64(fw) + kh*int64(prevF) + c
				Ti[w] = uint32(z) & mask31
				c = z >> 31
				prevF = fw
			}
		}
	}
}

// kfMul multiplies k by f and g in RNS, with the NTTs of f and g kept.
type kfMul struct {
	logm, LT, P int
	fn, gn      []uint32 // per prime: NTT of f, g in Montgomery form
	ps          []modp
	buf, res    []uint32
	rv, tmp     []uint32
}

func newKFMul(f, g []uint32, Wf, logm, LT int, ps []modp) *kfMul {
	m := 1 << logm
	P := LT + 1
	km := &kfMul{logm: logm, LT: LT, P: P, ps: ps}
	km.fn = make([]uint32, P*m)
	km.gn = make([]uint32, P*m)
	for pi := 0; pi < P; pi++ {
		mp := &ps[pi]
		sg := mp.pow2w(Wf)
		for k, src := range [][]uint32{f, g} {
			dst := km.fn[pi*m : (pi+1)*m]
			if k == 1 {
				dst = km.gn[pi*m : (pi+1)*m]
			}
			polyToModp(dst, src, Wf, m, mp, sg)
			mp.ntt(dst, logm)
			for i := range dst {
				dst[i] = mp.mmul(dst[i], mp.r2) // Montgomery form
			}
		}
	}
	km.buf = make([]uint32, 3*m)
	km.res = make([]uint32, 2*P*m)
	km.rv = make([]uint32, P)
	km.tmp = make([]uint32, P+1)
	return km
}

// mul sets T[0:m·LT] = k·f and T[m·LT:2m·LT] = k·g.
func (km *kfMul) mul(T []uint32, k []int64) {
	m := 1 << km.logm
	P := km.P
	for pi := 0; pi < P; pi++ {
		mp := &km.ps[pi]
		kn := km.buf[:m]
		for i := 0; i < m; i++ {
			kl := uint32(uint64(k[i]) & mask31)
			kh := int32(k[i] >> 31)
			kn[i] = mp.add(mp.mmul(mp.fromInt32(kh), mp.r31), mp.reduce31(kl))
		}
		mp.ntt(kn, km.logm)
		a := km.buf[m : 2*m]
		b := km.buf[2*m : 3*m]
		fn := km.fn[pi*m : (pi+1)*m]
		gn := km.gn[pi*m : (pi+1)*m]
		for i := 0; i < m; i++ {
			a[i] = mp.mmul(kn[i], fn[i])
			b[i] = mp.mmul(kn[i], gn[i])
		}
		mp.intt(a, km.logm)
		mp.intt(b, km.logm)
		copy(km.res[(0*P+pi)*m:], a)
		copy(km.res[(1*P+pi)*m:], b)
	}
	LT := km.LT
	for kk := 0; kk < 2; kk++ {
		for i := 0; i < m; i++ {
			for pi := 0; pi < P; pi++ {
				km.rv[pi] = km.res[(kk*P+pi)*m+i]
			}
			crtRebuild(T[(kk*m+i)*LT:(kk*m+i+1)*LT], LT, km.rv, km.ps, km.tmp)
		}
	}
}

// solveDeg1 solves the degree-0 case: for positive odd integers x = f_10 and
// y = g_10 (W words) it finds u in [0, y), v in [0, x) with x·u − y·v = 1 by a
// constant-time binary extended GCD, and returns F = q·v, G = q·u (W+1
// words). ok is 0 if x or y is even or negative, or gcd(x, y) ≠ 1.
//
// The GCD runs a public number of rounds. Each round makes 31 binary-GCD
// steps (a odd: if a < b swap; a ← (a−b)/2; a even: a ← a/2) on 64-bit
// approximations of a and b (their top 33 bits at a common position, and their
// exact low 31 bits), then applies the resulting 2×2 matrix to the full a, b
// (divided by 2^31, exact) and to the Bézout coefficients, which are kept
// modulo y (for x) and modulo x (for y) with a Montgomery-style division by
// 2^31. Invariants: a ≡ x·ua (mod y), a ≡ −y·va (mod x); likewise for b.
func solveDeg1(x, y []uint32, W int) (F, G []uint32, ok uint32) {
	ok = zintIsOdd(x) & zintIsOdd(y) & (1 ^ (x[W-1] >> 30)) & (1 ^ (y[W-1] >> 30))
	a := append([]uint32(nil), x...)
	b := append([]uint32(nil), y...)
	ua := make([]uint32, W)
	ub := make([]uint32, W)
	va := make([]uint32, W)
	vb := make([]uint32, W)
	ua[0] = 1
	copy(vb, x)
	vb[0] -= 1 // x odd: no borrow
	x0i := neginv31(x[0])
	y0i := neginv31(y[0])
	na := make([]uint32, W)
	nb := make([]uint32, W)
	nu := make([]uint32, W)
	tmp := make([]uint32, 3*W+3)
	defer wipeU32(a, b, ua, ub, va, vb, na, nb, nu, tmp)
	rounds := (2*fgBits[logN]+29)/30 + 2
	for it := 0; it < rounds; it++ {
		// Approximations: top 33 bits at the position of the top bit of a|b, and low 31 bits.
		var ah, al, bh, bl uint64
		var found uint64
		for j := W - 1; j >= 2; j-- {
			nz := uint64(0) - uint64(((a[j]|b[j])+mask31)>>31)
			sel := nz &^ found
			ah |= sel & (uint64(a[j])<<31 | uint64(a[j-1]))
			al |= sel & uint64(a[j-2])
			bh |= sel & (uint64(b[j])<<31 | uint64(b[j-1]))
			bl |= sel & uint64(b[j-2])
			found |= nz
		}
		c := uint(bitsLen64(ah | bh)) // 32..62 when found
		sh := (62 - c) & 63           // left shift to bring the top bit to bit 61
		ahh := (ah << sh) | (al >> ((31 - sh) & 63))
		bhh := (bh << sh) | (bl >> ((31 - sh) & 63))
		ax := (ahh>>29)<<31 | uint64(a[0])
		bx := (bhh>>29)<<31 | uint64(b[0])
		ae := uint64(a[1])<<31 | uint64(a[0])
		be := uint64(b[1])<<31 | uint64(b[0])
		ax = ae ^ ((ae ^ ax) & found)
		bx = be ^ ((be ^ bx) & found)

		f0, g0, f1, g1 := int64(1), int64(0), int64(0), int64(1)
		for i := 0; i < 31; i++ {
			odd := uint64(0) - (ax & 1)
			_, lt := subBorrow64(ax, bx)
			sw := odd & (uint64(0) - lt)
			t := (ax ^ bx) & sw
			ax ^= t
			bx ^= t
			ti := (f0 ^ f1) & int64(sw)
			f0 ^= ti
			f1 ^= ti
			ti = (g0 ^ g1) & int64(sw)
			g0 ^= ti
			g1 ^= ti
			ax -= bx & odd
			f0 -= f1 & int64(odd)
			g0 -= g1 & int64(odd)
			ax >>= 1
			f1 <<= 1
			g1 <<= 1
		}
		negA := zintLinComb(na, a, b, f0, g0)
		negB := zintLinComb(nb, a, b, f1, g1)
		zintCondNeg(na, negA)
		zintCondNeg(nb, negB)
		mA := -int64(negA)
		mB := -int64(negB)
		f0 = (f0 ^ mA) - mA
		g0 = (g0 ^ mA) - mA
		f1 = (f1 ^ mB) - mB
		g1 = (g1 ^ mB) - mB
		copy(a, na)
		copy(b, nb)
		zintModComb(nu, ua, ub, f0, g0, y, y0i, tmp)
		zintModComb(ub, ua, ub, f1, g1, y, y0i, tmp)
		copy(ua, nu)
		zintModComb(nu, va, vb, f0, g0, x, x0i, tmp)
		zintModComb(vb, va, vb, f1, g1, x, x0i, tmp)
		copy(va, nu)
	}
	// Expect a = 0 and b = 1.
	var diff uint32
	diff |= b[0] ^ 1
	for j := 1; j < W; j++ {
		diff |= b[j]
	}
	for j := 0; j < W; j++ {
		diff |= a[j]
	}
	ok &= ((diff | -diff) >> 31) ^ 1
	F = make([]uint32, W+1)
	G = make([]uint32, W+1)
	zintMulSmall(F, vb, q)
	zintMulSmall(G, ub, q)
	return F, G, ok
}

// zintMulSmall sets out (len(x)+1 words) = x·c for non-negative x and small c.
func zintMulSmall(out, x []uint32, c uint32) {
	var cy uint64
	for j, w := range x {
		z := uint64(w)*uint64(c) + cy
		out[j] = uint32(z) & mask31
		cy = z >> 31
	}
	out[len(x)] = uint32(cy)
}

// neginv31 returns −1/x mod 2^31 for odd x (garbage for even x).
func neginv31(x uint32) uint32 {
	y := x
	for i := 0; i < 5; i++ {
		y *= 2 - x*y
	}
	return (-y) & mask31
}

func subBorrow64(a, b uint64) (uint64, uint64) {
	d := a - b
	// borrow = (¬a ∧ b) ∨ (¬(a ⊕ b) ∧ d), top bit
	bw := ((^a & b) | (^(a ^ b) & d)) >> 63
	return d, bw
}

// bitsLen64 returns the bit length of x, without branching.
func bitsLen64(x uint64) int {
	n := 0
	for s := 32; s > 0; s >>= 1 {
		t := x >> uint(s)
		nz := (t | -t) >> 63 // 1 if t ≠ 0
		m := uint64(0) - nz
		x = (t & m) | (x &^ m)
		n += s & int(-int64(nz))
	}
	return n + int(x&1)
}

// wipeU32 zeroes secret-derived scratch buffers.
func wipeU32(bufs ...[]uint32) {
	for _, b := range bufs {
		clear(b)
	}
}
