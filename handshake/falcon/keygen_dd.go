package falcon

// Double-double (≈106-bit) floating point for the Babai reduction of
// NTRUSolve at depths where f_d's values at the roots of x^m+1 differ by many
// orders of magnitude (m = 4 to 32): there plain float64 loses 20-40 bits of its
// 53 and, for some keys, all of them, so reduction steps would gain few bits
// or none. Only public sizes
// drive the control flow; every operation is a fixed sequence of float
// additions, subtractions and multiplications (no division, no FMA).

import (
	"math"
	"math/big"
	"sync"
)

type dd struct{ hi, lo float64 }

func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return
}

func fastTwoSum(a, b float64) (s, e float64) {
	s = a + b
	e = b - (s - a)
	return
}

func ddAdd(x, y dd) dd {
	s, e := twoSum(x.hi, y.hi)
	e += x.lo + y.lo
	h, l := fastTwoSum(s, e)
	return dd{h, l}
}

func ddSub(x, y dd) dd { return ddAdd(x, dd{-y.hi, -y.lo}) }

// split cuts a into two halves of at most 26 significant bits (Dekker), so
// that products of halves are exact. |a| must stay below 2^995.
func split(a float64) (hi, lo float64) {
	c := float64(134217729 * a) // 2^27 + 1
	hi = c - (c - a)
	lo = a - hi
	return
}

// twoProd returns p = fl(a·b) and the exact error a·b − p (Dekker), with
// plain multiplications only: no FMA, whose software fallback on processors
// without it is not constant-time. The float64() conversions forbid the
// compiler from fusing the products into FMAs.
func twoProd(a, b float64) (p, e float64) {
	p = a * b
	ah, al := split(a)
	bh, bl := split(b)
	e = ((float64(ah*bh) - p) + float64(ah*bl) + float64(al*bh)) + float64(al*bl)
	return
}

func ddMul(x, y dd) dd {
	p, e := twoProd(x.hi, y.hi)
	e += float64(x.hi*y.lo) + float64(x.lo*y.hi)
	h, l := fastTwoSum(p, e)
	return dd{h, l}
}

// ddDiv divides for y > 0, without a hardware division (see ctRecip): each
// partial quotient is corrected by the exact residual.
func ddDiv(x, y dd) dd {
	ry := ctRecip(y.hi)
	q1 := x.hi * ry
	r := ddSub(x, ddMul(y, dd{q1, 0}))
	q2 := r.hi * ry
	r = ddSub(r, ddMul(y, dd{q2, 0}))
	q3 := r.hi * ry
	h, l := fastTwoSum(q1, q2)
	return ddAdd(dd{h, l}, dd{q3, 0})
}

// ddScale multiplies by a power of two (exact).
func ddScale(x dd, c float64) dd { return dd{x.hi * c, x.lo * c} }

type cdd struct{ re, im dd }

func cddMul(a, b cdd) cdd {
	return cdd{ddSub(ddMul(a.re, b.re), ddMul(a.im, b.im)), ddAdd(ddMul(a.re, b.im), ddMul(a.im, b.re))}
}

func cddAdd(a, b cdd) cdd { return cdd{ddAdd(a.re, b.re), ddAdd(a.im, b.im)} }

var (
	ddTwOnce sync.Once
	ddTw     [64]cdd // exp(iπk/32) to about 106 bits
)

func ddTwiddles() *[64]cdd {
	ddTwOnce.Do(func() {
		const prec = 256
		half := new(big.Float).SetPrec(prec).SetFloat64(0.5)
		one := new(big.Float).SetPrec(prec).SetInt64(1)
		// cos(π/32) by half angles from cos(π/2) = 0.
		c := new(big.Float).SetPrec(prec)
		for i := 0; i < 4; i++ { // π/4, π/8, π/16, π/32
			c.Add(one, c)
			c.Mul(c, half)
			c.Sqrt(c)
		}
		s := new(big.Float).SetPrec(prec).Mul(c, c)
		s.Sub(one, s)
		s.Sqrt(s)
		re := new(big.Float).SetPrec(prec).SetInt64(1)
		im := new(big.Float).SetPrec(prec)
		toDD := func(x *big.Float) dd {
			h, _ := x.Float64()
			r := new(big.Float).SetPrec(prec).Sub(x, new(big.Float).SetFloat64(h))
			l, _ := r.Float64()
			return dd{h, l}
		}
		for k := 0; k < 64; k++ {
			ddTw[k] = cdd{toDD(re), toDD(im)}
			// (re + i·im)·(c + i·s)
			t1 := new(big.Float).SetPrec(prec).Mul(re, c)
			t2 := new(big.Float).SetPrec(prec).Mul(im, s)
			t3 := new(big.Float).SetPrec(prec).Mul(re, s)
			t4 := new(big.Float).SetPrec(prec).Mul(im, c)
			re.Sub(t1, t2)
			im.Add(t3, t4)
		}
	})
	return &ddTw
}

// zwindowDD is zwindow with a double-double result (each word product is
// exact, so the sum keeps about 106 bits).
func zwindowDD(c []uint32, A int) dd {
	lo := max(0, A-winWords)
	v := dd{float64(int32(c[A-1]<<1)>>1) * winScale[0], 0}
	for j := A - 2; j >= lo; j-- {
		v = ddAdd(v, dd{float64(c[j]) * winScale[A-1-j], 0})
	}
	return v
}

// ddEval evaluates the real polynomial a (degree m ≤ 32) at ω_j =
// exp(iπ(2j+1)/m), j < m/2.
func ddEval(out []cdd, a []dd, logm int) {
	m := 1 << logm
	tw := ddTwiddles()
	st := 32 >> logm
	for j := 0; j < m/2; j++ {
		var acc cdd
		for t := 0; t < m; t++ {
			k := ((2*j + 1) * t) % (2 * m)
			w := tw[k*st]
			acc = cddAdd(acc, cdd{ddMul(a[t], w.re), ddMul(a[t], w.im)})
		}
		out[j] = acc
	}
}

// ddInterp inverts ddEval: a_t = (2/m)·Σ_j Re(A_j·ω_j^(−t)).
func ddInterp(a []dd, A []cdd, logm int) {
	m := 1 << logm
	tw := ddTwiddles()
	st := 32 >> logm
	sc := 2 / float64(m)
	for t := 0; t < m; t++ {
		var acc dd
		for j := 0; j < m/2; j++ {
			k := ((2*j + 1) * t) % (2 * m)
			w := tw[k*st]
			// Re((x + iy)(c − is)) = xc + ys
			acc = ddAdd(acc, ddAdd(ddMul(A[j].re, w.re), ddMul(A[j].im, w.im)))
		}
		a[t] = ddScale(acc, sc)
	}
}

// ddBabai holds f*/(ff*+gg*) and g*/(ff*+gg*) at the roots, in double-double.
type ddBabai struct {
	logm   int
	Pf, Pg []cdd
	a      []dd
	FA, GA []cdd
}

func newDDBabai(f, g []uint32, Wf, Aw, logm int) *ddBabai {
	m := 1 << logm
	b := &ddBabai{logm: logm}
	b.Pf = make([]cdd, m/2)
	b.Pg = make([]cdd, m/2)
	b.FA = make([]cdd, m/2)
	b.GA = make([]cdd, m/2)
	b.a = make([]dd, m)
	for i := 0; i < m; i++ {
		b.a[i] = zwindowDD(f[i*Wf:(i+1)*Wf], Aw)
	}
	ddEval(b.Pf, b.a, logm)
	for i := 0; i < m; i++ {
		b.a[i] = zwindowDD(g[i*Wf:(i+1)*Wf], Aw)
	}
	ddEval(b.Pg, b.a, logm)
	for j := 0; j < m/2; j++ {
		x, y := b.Pf[j], b.Pg[j]
		d := ddAdd(ddAdd(ddMul(x.re, x.re), ddMul(x.im, x.im)), ddAdd(ddMul(y.re, y.re), ddMul(y.im, y.im)))
		b.Pf[j] = cdd{ddDiv(x.re, d), ddDiv(dd{-x.im.hi, -x.im.lo}, d)}
		b.Pg[j] = cdd{ddDiv(y.re, d), ddDiv(dd{-y.im.hi, -y.im.lo}, d)}
	}
	return b
}

// quotient computes k = round(2^(sc)·(F·f* + G·g*)/(f·f* + g·g*)) from the
// windows of F, G at A words (sc: the power of two 2^(eF−ef−s)). It returns
// log2 max|K| (before scaling, in window units) for instrumentation.
func (b *ddBabai) quotient(k []int64, F, G []uint32, L, A int, sc float64) float64 {
	m := 1 << b.logm
	for i := 0; i < m; i++ {
		b.a[i] = zwindowDD(F[i*L:(i+1)*L], A)
	}
	ddEval(b.FA, b.a, b.logm)
	for i := 0; i < m; i++ {
		b.a[i] = zwindowDD(G[i*L:(i+1)*L], A)
	}
	ddEval(b.GA, b.a, b.logm)
	for j := 0; j < m/2; j++ {
		b.FA[j] = cddAdd(cddMul(b.FA[j], b.Pf[j]), cddMul(b.GA[j], b.Pg[j]))
	}
	ddInterp(b.a, b.FA, b.logm)
	mx := 0.0
	for i := 0; i < m; i++ {
		x := ddScale(b.a[i], sc)
		if ntruStatsHook != nil {
			mx = math.Max(mx, math.Abs(b.a[i].hi))
		}
		r1 := roundClamp(x.hi)
		rem := (x.hi - float64(r1)) + x.lo
		k[i] = r1 + roundClamp(rem)
	}
	return mx
}

// wipe zeroes the secret-derived values.
func (b *ddBabai) wipe() {
	clear(b.Pf)
	clear(b.Pg)
	clear(b.a)
	clear(b.FA)
	clear(b.GA)
}
