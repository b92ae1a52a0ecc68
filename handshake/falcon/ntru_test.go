package falcon

import (
	"crypto/sha3"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

func zintToBig(c []uint32) *big.Int {
	x := new(big.Int)
	for j := len(c) - 1; j >= 0; j-- {
		x.Lsh(x, 31)
		x.Or(x, big.NewInt(int64(c[j])))
	}
	if c[len(c)-1]>>30 == 1 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(31*len(c))))
	}
	return x
}

func bigToZint(x *big.Int, L int) []uint32 {
	m := new(big.Int).Lsh(big.NewInt(1), uint(31*L))
	y := new(big.Int).Mod(x, m)
	out := make([]uint32, L)
	mask := big.NewInt(mask31)
	for j := 0; j < L; j++ {
		out[j] = uint32(new(big.Int).And(y, mask).Uint64())
		y.Rsh(y, 31)
	}
	return out
}

func randBig(r *mrand.Rand, bits int, signed bool) *big.Int {
	x := new(big.Int)
	for i := 0; i < bits; i += 32 {
		x.Lsh(x, 32)
		x.Or(x, big.NewInt(int64(r.Uint32())))
	}
	x.Rsh(x, uint((bits+31)/32*32-bits))
	if signed && r.IntN(2) == 1 {
		x.Neg(x)
	}
	return x
}

// TestRNSRoundTrip: residues of random integers modulo many primes, rebuilt
// by CRT, give back the integer (compared with math/big).
func TestRNSRoundTrip(t *testing.T) {
	ps := rns()
	r := mrand.New(mrand.NewPCG(1, 2))
	for _, L := range []int{1, 2, 5, 40, 211} {
		P := L + 1
		res := make([]uint32, P)
		tmp := make([]uint32, P+1)
		out := make([]uint32, L)
		for it := 0; it < 20; it++ {
			x := randBig(r, 31*L-1-r.IntN(20), true)
			xz := bigToZint(x, L)
			for pi := 0; pi < P; pi++ {
				polyToModp(res[pi:pi+1], xz, L, 1, &ps[pi], ps[pi].pow2w(L))
				want := new(big.Int).Mod(x, big.NewInt(int64(ps[pi].p))).Uint64()
				if uint64(res[pi]) != want {
					t.Fatalf("L=%d: residue mod p_%d = %d, want %d", L, pi, res[pi], want)
				}
			}
			crtRebuild(out, L, res, ps, tmp)
			if got := zintToBig(out); got.Cmp(x) != 0 {
				t.Fatalf("L=%d: CRT rebuilt %v, want %v", L, got, x)
			}
		}
	}
}

// TestNTTProduct: the NTT product equals the schoolbook negacyclic product.
func TestNTTProduct(t *testing.T) {
	ps := rns()
	r := mrand.New(mrand.NewPCG(3, 4))
	for _, logm := range []int{0, 1, 3, 10} {
		m := 1 << logm
		for _, pi := range []int{0, 7, 100, len(ps) - 1} {
			mp := &ps[pi]
			if len(mp.zeta) < m {
				continue // this prime only serves smaller degrees
			}
			a := make([]uint32, m)
			b := make([]uint32, m)
			for i := range a {
				a[i] = r.Uint32N(mp.p)
				b[i] = r.Uint32N(mp.p)
			}
			want := make([]uint64, m)
			P := uint64(mp.p)
			for i := 0; i < m; i++ {
				for j := 0; j < m; j++ {
					p := uint64(a[i]) * uint64(b[j]) % P
					if k := i + j; k < m {
						want[k] = (want[k] + p) % P
					} else {
						want[k-m] = (want[k-m] + P - p) % P
					}
				}
			}
			mp.ntt(a, logm)
			mp.ntt(b, logm)
			for i := range a {
				a[i] = mp.mul(a[i], b[i])
			}
			mp.intt(a, logm)
			for i := range a {
				if uint64(a[i]) != want[i] {
					t.Fatalf("logm=%d p_%d: coefficient %d = %d, want %d", logm, pi, i, a[i], want[i])
				}
			}
		}
	}
}

// TestSolveDeg1: the constant-time Bézout solver against math/big.
func TestSolveDeg1(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 6))
	for _, W := range []int{2, 3, 10, 211} {
		for it := 0; it < 6; it++ {
			x := randBig(r, 31*W-2-r.IntN(40), false)
			y := randBig(r, 31*W-2-r.IntN(40), false)
			x.SetBit(x, 0, 1)
			y.SetBit(y, 0, 1)
			F, G, ok := solveDeg1(bigToZint(x, W), bigToZint(y, W), W)
			coprime := new(big.Int).GCD(nil, nil, x, y).Cmp(big.NewInt(1)) == 0
			if (ok == 1) != coprime {
				t.Fatalf("W=%d: ok=%d, coprime=%v", W, ok, coprime)
			}
			if !coprime {
				continue
			}
			// x·G − y·F = q
			Fb, Gb := zintToBig(F), zintToBig(G)
			lhs := new(big.Int).Sub(new(big.Int).Mul(x, Gb), new(big.Int).Mul(y, Fb))
			if lhs.Cmp(big.NewInt(q)) != 0 {
				t.Fatalf("W=%d: x·G − y·F = %v, want q", W, lhs)
			}
			if Gb.Sign() < 0 || Gb.Cmp(new(big.Int).Mul(y, big.NewInt(q))) >= 0 {
				t.Fatalf("W=%d: G out of [0, q·y)", W)
			}
		}
		// Common factor 3: must fail.
		x := randBig(r, 31*W-10, false)
		x.SetBit(x, 0, 1)
		x.Mul(x, big.NewInt(3))
		y := new(big.Int).Mul(big.NewInt(3), big.NewInt(1000003))
		if _, _, ok := solveDeg1(bigToZint(x, W), bigToZint(y, W), W); ok != 0 {
			t.Fatalf("W=%d: gcd 3 accepted", W)
		}
		// Even input: must fail.
		if _, _, ok := solveDeg1(bigToZint(big.NewInt(10), W), bigToZint(big.NewInt(7), W), W); ok != 0 {
			t.Fatalf("W=%d: even input accepted", W)
		}
	}
}

// TestFieldNorm: the RNS field norm against a math/big schoolbook reference,
// down the whole tower for one sampled (f, g).
func TestFieldNorm(t *testing.T) {
	seed := sha3.SumSHAKE256([]byte("field norm"), 48)
	rg := newKgRNG(seed[:])
	var f, g [n]int16
	samplePoly(rg, &f)
	samplePoly(rg, &g)
	ps := rns()
	fs := make([]uint32, n)
	gs := make([]uint32, n)
	bf := make([]*big.Int, n)
	for i := 0; i < n; i++ {
		fs[i] = uint32(int32(f[i])) & mask31
		gs[i] = uint32(int32(g[i])) & mask31
		bf[i] = big.NewInt(int64(f[i]))
	}
	depth := logN
	if testing.Short() || raceEnabled {
		depth = 6
	}
	for d := 0; d < depth; d++ {
		fs, gs = fieldNorm2(fs, gs, logN-d, fgWords[d], fgWords[d+1], ps)
		m := len(bf)
		hm := m / 2
		nb := make([]*big.Int, hm)
		for i := range nb {
			nb[i] = new(big.Int)
		}
		// N(f) = f0² − x·f1² in Z[x]/(x^hm+1)
		add := func(k int, v *big.Int, sign int) {
			for k >= hm {
				k -= hm
				sign = -sign
			}
			if sign > 0 {
				nb[k].Add(nb[k], v)
			} else {
				nb[k].Sub(nb[k], v)
			}
		}
		for i := 0; i < hm; i++ {
			for j := 0; j < hm; j++ {
				add(i+j, new(big.Int).Mul(bf[2*i], bf[2*j]), 1)
				add(i+j+1, new(big.Int).Mul(bf[2*i+1], bf[2*j+1]), -1)
			}
		}
		bf = nb
		W := fgWords[d+1]
		for i := 0; i < hm; i++ {
			if got := zintToBig(fs[i*W : (i+1)*W]); got.Cmp(bf[i]) != 0 {
				t.Fatalf("depth %d coefficient %d differs from math/big", d+1, i)
			}
		}
	}
}

// TestNTRUSolveRejects: f and g with an even resultant are rejected.
func TestNTRUSolveRejects(t *testing.T) {
	var f, g [n]int16
	f[0], f[1] = 1, 1 // f(1) = 2: Res(f) even
	g[0] = 1
	if _, _, ok := ntruSolve(&f, &g); ok {
		t.Fatal("ntruSolve accepted f with an even resultant")
	}
}

// TestKgFFT: kgIFFT inverts kgFFT, and products match the schoolbook product.
func TestKgFFT(t *testing.T) {
	r := mrand.New(mrand.NewPCG(7, 8))
	for _, logm := range []int{0, 1, 2, 5, 10} {
		m := 1 << logm
		hm := max(1, m/2)
		a := make([]float64, m)
		b := make([]float64, m)
		for i := range a {
			a[i] = float64(r.IntN(41) - 20)
			b[i] = float64(r.IntN(41) - 20)
		}
		A := make([]complex128, hm)
		B := make([]complex128, hm)
		tmp := make([]complex128, m)
		kgFFT(A, a, logm, tmp)
		kgFFT(B, b, logm, tmp)
		for j := range A {
			A[j] *= B[j]
		}
		c := make([]float64, m)
		kgIFFT(c, A, logm, tmp)
		for i := 0; i < m; i++ {
			var want float64
			for j := 0; j < m; j++ {
				k := i - j
				if k >= 0 {
					want += a[j] * b[k]
				} else {
					want -= a[j] * b[k+m]
				}
			}
			if d := c[i] - want; d > 1e-6 || d < -1e-6 {
				t.Fatalf("logm=%d: coefficient %d = %v, want %v", logm, i, c[i], want)
			}
		}
	}
}

// TestMkgaussDistribution: the sampler's empirical variance is close to
// σ_{f,g}² = 1.17²·q/(2n) ≈ 8.21, and its mean close to 0.
func TestMkgaussDistribution(t *testing.T) {
	seed := sha3.SumSHAKE256([]byte("gauss"), 48)
	r := newKgRNG(seed[:])
	const N = 200000
	var s, s2 float64
	for i := 0; i < N; i++ {
		x := float64(mkgauss(r))
		s += x
		s2 += x * x
	}
	mean, v := s/N, s2/N
	want := 1.17 * 1.17 * q / (2 * n)
	if mean > 0.03 || mean < -0.03 || v < want*0.98 || v > want*1.02 {
		t.Fatalf("mean %.4f variance %.4f, want 0 and %.4f", mean, v, want)
	}
}

func sampleSolvable(tb testing.TB, label string) (f, g [n]int16) {
	seed := sha3.SumSHAKE256([]byte(label), 48)
	r := newKgRNG(seed[:])
	for {
		samplePoly(r, &f)
		samplePoly(r, &g)
		if !candidateOK(&f, &g) {
			continue
		}
		if _, ok := publicFromFG(&f, &g); ok {
			return
		}
	}
}

func BenchmarkNTRUSolve(b *testing.B) {
	f, g := sampleSolvable(b, "bench")
	rns()
	for b.Loop() {
		if _, _, ok := ntruSolve(&f, &g); !ok {
			b.Fatal("ntruSolve failed")
		}
	}
}

func BenchmarkSampleCandidate(b *testing.B) {
	seed := sha3.SumSHAKE256([]byte("bench"), 48)
	r := newKgRNG(seed[:])
	var f, g [n]int16
	for b.Loop() {
		samplePoly(r, &f)
		samplePoly(r, &g)
		candidateOK(&f, &g)
	}
}

// TestLiftSchoolMatchesRNS: both ways of lifting give the same result.
func TestLiftSchoolMatchesRNS(t *testing.T) {
	r := mrand.New(mrand.NewPCG(9, 10))
	ps := rns()
	for _, logm := range []int{1, 2, 3, 4} {
		m := 1 << logm
		Lp, Wf := 5, 3
		Lout := Lp + Wf + 1
		mk := func(cnt, L int) []uint32 {
			out := make([]uint32, cnt*L)
			for i := 0; i < cnt; i++ {
				copy(out[i*L:], bigToZint(randBig(r, 31*L-2, true), L))
			}
			return out
		}
		Fp, Gp := mk(m/2, Lp), mk(m/2, Lp)
		f, g := mk(m, Wf), mk(m, Wf)
		F1, G1 := liftSchool(Fp, Gp, Lp, f, g, Wf, logm, Lout)
		F2, G2 := liftFG(Fp, Gp, Lp, f, g, Wf, logm, Lout, ps)
		for i := range F1 {
			if F1[i] != F2[i] || G1[i] != G2[i] {
				t.Fatalf("logm=%d: schoolbook and RNS lifts differ at word %d", logm, i)
			}
		}
	}
}

func TestCtRecip(t *testing.T) {
	r := mrand.New(mrand.NewPCG(11, 12))
	for i := 0; i < 100000; i++ {
		d := math.Ldexp(1+r.Float64(), r.IntN(2000)-1000)
		got, want := ctRecip(d), 1/d
		if math.Abs(got-want) > 4*math.Abs(want)*0x1p-52 {
			t.Fatalf("ctRecip(%v) = %v, want %v", d, got, want)
		}
	}
}

// TestFieldNormSchoolMatchesRNS: both ways of computing the field norm agree.
func TestFieldNormSchoolMatchesRNS(t *testing.T) {
	r := mrand.New(mrand.NewPCG(13, 14))
	ps := rns()
	for _, logm := range []int{1, 2, 3, 4} {
		m := 1 << logm
		L, Lout := 4, 9
		f := make([]uint32, m*L)
		g := make([]uint32, m*L)
		for i := 0; i < m; i++ {
			copy(f[i*L:], bigToZint(randBig(r, 31*L-2, true), L))
			copy(g[i*L:], bigToZint(randBig(r, 31*L-2, true), L))
		}
		n1, _ := fieldNorm2(f, g, logm, L, Lout, ps)
		n2 := fieldNormSchool(f, logm, L, Lout)
		for i := range n1 {
			if n1[i] != n2[i] {
				t.Fatalf("logm=%d: schoolbook and RNS field norms differ at word %d", logm, i)
			}
		}
	}
}
