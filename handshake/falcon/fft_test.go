package falcon

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

var fftSizes = []int{2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

func randPoly(r *rand.Rand, m int, bound int) []float64 {
	a := make([]float64, m)
	for i := range a {
		a[i] = float64(r.IntN(2*bound+1) - bound)
	}
	return a
}

// negacyclic computes a·b mod x^m+1 exactly (small integer coefficients).
func negacyclic(a, b []float64) []float64 {
	m := len(a)
	c := make([]float64, m)
	for i := range a {
		for j := range b {
			if i+j < m {
				c[i+j] += a[i] * b[j]
			} else {
				c[i+j-m] -= a[i] * b[j]
			}
		}
	}
	return c
}

// slotRoots lists the root of x^m+1 behind each FFT slot (see fft.go).
func slotRoots(m int) []complex128 {
	if m == 2 {
		return []complex128{1i}
	}
	w := make([]complex128, m/2)
	for u := 0; u < m/4; u++ {
		re, im := root(m/2 + u)
		w[2*u] = complex(re, im)
		w[2*u+1] = -complex(re, im)
	}
	return w
}

func slot(a []float64, j int) complex128 { return complex(a[j], a[j+len(a)/2]) }

func TestFFTEvaluatesAtRoots(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range fftSizes {
		a := randPoly(r, m, 100)
		f := append([]float64(nil), a...)
		fft(f)
		roots := slotRoots(m)
		seen := map[complex128]bool{}
		for j, w := range roots {
			// w is a root of x^m+1, and no two slots share a root or a conjugate pair.
			if d := cmplx.Abs(cmplx.Pow(w, complex(float64(m), 0)) + 1); d > 1e-9 {
				t.Fatalf("m=%d slot %d: root %v is not a root of x^m+1", m, j, w)
			}
			key := complex(math.Round(real(w)*1e9), math.Round(math.Abs(imag(w))*1e9))
			if seen[key] {
				t.Fatalf("m=%d: slot %d repeats a root up to conjugation", m, j)
			}
			seen[key] = true
			var v complex128
			p := complex(1, 0)
			for _, c := range a {
				v += complex(c, 0) * p
				p *= w
			}
			if d := cmplx.Abs(v - slot(f, j)); d > 1e-9*float64(m)*100 {
				t.Fatalf("m=%d slot %d: fft %v, direct evaluation %v", m, j, slot(f, j), v)
			}
		}
	}
}

func TestFFTRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, m := range fftSizes {
		for trial := 0; trial < 5; trial++ {
			a := make([]float64, m)
			for i := range a {
				a[i] = r.NormFloat64() * 1000
			}
			f := append([]float64(nil), a...)
			fft(f)
			ifft(f)
			for i := range a {
				if math.Abs(f[i]-a[i]) > 1e-8 {
					t.Fatalf("m=%d: ifft(fft(a))[%d] = %v, want %v", m, i, f[i], a[i])
				}
			}
		}
	}
}

func TestFFTProductMatchesSchoolbook(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, m := range fftSizes {
		for trial := 0; trial < 3; trial++ {
			a, b := randPoly(r, m, 127), randPoly(r, m, 2047)
			want := negacyclic(a, b)
			fa := append([]float64(nil), a...)
			fb := append([]float64(nil), b...)
			fft(fa)
			fft(fb)
			polyMulFFT(fa, fb)
			ifft(fa)
			for i := range want {
				if math.Abs(fa[i]-want[i]) > 1e-6 || math.RoundToEven(fa[i]) != want[i] {
					t.Fatalf("m=%d: product coefficient %d = %v, want %v", m, i, fa[i], want[i])
				}
			}
			// a·adj(b) against the schoolbook product with adj(b).
			adjB := make([]float64, m)
			adjB[0] = b[0]
			for i := 1; i < m; i++ {
				adjB[i] = -b[m-i]
			}
			want = negacyclic(a, adjB)
			fa = append(fa[:0], a...)
			fft(fa)
			polyMulAdjFFT(fa, fb)
			ifft(fa)
			for i := range want {
				if math.RoundToEven(fa[i]) != want[i] || math.Abs(fa[i]-want[i]) > 1e-6 {
					t.Fatalf("m=%d: a·adj(b) coefficient %d = %v, want %v", m, i, fa[i], want[i])
				}
			}
			// adj in FFT form is the FFT of the adjoint.
			fadj := append([]float64(nil), adjB...)
			fft(fadj)
			g := append([]float64(nil), fb...)
			polyAdjFFT(g)
			for i := range g {
				if math.Abs(g[i]-fadj[i]) > 1e-6 {
					t.Fatalf("m=%d: adj mismatch at %d", m, i)
				}
			}
		}
	}
}

func TestFFTSplitMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, m := range fftSizes {
		a := randPoly(r, m, 1000)
		f := append([]float64(nil), a...)
		fft(f)
		f0, f1 := make([]float64, m/2), make([]float64, m/2)
		splitFFT(f0, f1, f)
		// f0, f1 are the FFTs of the even and odd coefficients.
		e, o := make([]float64, m/2), make([]float64, m/2)
		for i := 0; i < m/2; i++ {
			e[i], o[i] = a[2*i], a[2*i+1]
		}
		if m >= 4 {
			fft(e)
			fft(o)
		}
		for i := range e {
			if math.Abs(e[i]-f0[i]) > 1e-7 || math.Abs(o[i]-f1[i]) > 1e-7 {
				t.Fatalf("m=%d: split slot %d: got (%v, %v), want (%v, %v)", m, i, f0[i], f1[i], e[i], o[i])
			}
		}
		g := make([]float64, m)
		mergeFFT(g, f0, f1)
		for i := range g {
			if math.Abs(g[i]-f[i]) > 1e-7 {
				t.Fatalf("m=%d: merge(split(f))[%d] = %v, want %v", m, i, g[i], f[i])
			}
		}
	}
}

// TestFFTPointwiseOps checks the slot-wise helpers against complex128 arithmetic.
func TestFFTPointwiseOps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	m := 64
	mk := func() []float64 {
		a := make([]float64, m)
		for i := range a {
			a[i] = r.NormFloat64() * 50
		}
		return a
	}
	a, b, c, d := mk(), mk(), mk(), mk()
	close := func(name string, got []float64, want func(j int) complex128) {
		t.Helper()
		for j := 0; j < m/2; j++ {
			w := want(j)
			if cmplx.Abs(slot(got, j)-w) > 1e-9*(1+cmplx.Abs(w)) {
				t.Fatalf("%s slot %d: %v, want %v", name, j, slot(got, j), w)
			}
		}
	}
	cp := func(x []float64) []float64 { return append([]float64(nil), x...) }

	x := cp(a)
	polyDivFFT(x, b)
	close("div", x, func(j int) complex128 { return slot(a, j) / slot(b, j) })
	x = cp(a)
	polyMulSelfAdjFFT(x)
	close("selfadj", x, func(j int) complex128 { return slot(a, j) * cmplx.Conj(slot(a, j)) })
	x = cp(a)
	polyMulAutoAdjFFT(x, b)
	close("mulautoadj", x, func(j int) complex128 { return slot(a, j) * complex(real(slot(b, j)), 0) })
	x = cp(a)
	polyDivAutoAdjFFT(x, b)
	close("divautoadj", x, func(j int) complex128 { return slot(a, j) / complex(real(slot(b, j)), 0) })
	x = make([]float64, m)
	polyInvNorm2FFT(x, a, b)
	close("invnorm2", x, func(j int) complex128 {
		return complex(1/(real(slot(a, j)*cmplx.Conj(slot(a, j)))+real(slot(b, j)*cmplx.Conj(slot(b, j)))), 0)
	})
	x = make([]float64, m)
	polyAddMulAdjFFT(x, a, b, c, d)
	close("addmuladj", x, func(j int) complex128 {
		return slot(a, j)*cmplx.Conj(slot(c, j)) + slot(b, j)*cmplx.Conj(slot(d, j))
	})
	x = cp(a)
	polyAdd(x, b)
	close("add", x, func(j int) complex128 { return slot(a, j) + slot(b, j) })
	x = cp(a)
	polySub(x, b)
	close("sub", x, func(j int) complex128 { return slot(a, j) - slot(b, j) })
	x = cp(a)
	polyNeg(x)
	close("neg", x, func(j int) complex128 { return -slot(a, j) })
	x = cp(a)
	polyMulConst(x, 3.5)
	close("mulconst", x, func(j int) complex128 { return 3.5 * slot(a, j) })

	// LDL*: with G = [[g00, g01], [adj(g01), g11]] built from a basis row
	// pair, check G = L·D·L*.
	g00, g01, g11 := cp(a), cp(a), cp(b)
	polyMulSelfAdjFFT(g00)
	polyMulAdjFFT(g01, b)
	polyMulSelfAdjFFT(g11)
	polyAdd(g00, c) // keep it positive definite: add |c|²
	cc := cp(c)
	polyMulSelfAdjFFT(cc)
	polyAdd(g00, cc)
	polySub(g00, c)
	G00, G01, G11 := cp(g00), cp(g01), cp(g11)
	polyLDLFFT(g00, g01, g11)
	for j := 0; j < m/2; j++ {
		l, d0, d1 := slot(g01, j), slot(g00, j), slot(g11, j)
		// G10 = l·d0, G11 = l·d0·conj(l) + d1
		if cmplx.Abs(l*d0-cmplx.Conj(slot(G01, j))) > 1e-6*cmplx.Abs(slot(G01, j)) {
			t.Fatalf("LDL slot %d: l10·d00 != g10", j)
		}
		if cmplx.Abs(l*d0*cmplx.Conj(l)+d1-slot(G11, j)) > 1e-6*cmplx.Abs(slot(G11, j)) {
			t.Fatalf("LDL slot %d: l·d00·l* + d11 != g11", j)
		}
		if slot(G00, j) != d0 {
			t.Fatalf("LDL slot %d: d00 changed", j)
		}
	}
}

func BenchmarkFFT1024(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	a := randPoly(r, n, 100)
	for b.Loop() {
		fft(a)
		ifft(a)
	}
}
