package falcon

// A small float64 FFT over R[x]/(x^m+1) used only by key generation (the
// Gram-Schmidt norm check and the Babai reduction inside NTRUSolve). It works
// on public sizes only; its instruction sequence does not depend on the data.

import (
	"math"
	"sync"
)

var (
	kgTwOnce sync.Once
	kgTw     [2048]complex128 // kgTw[k] = exp(iπk/1024)
)

func kgTwiddles() *[2048]complex128 {
	kgTwOnce.Do(func() {
		for k := range kgTw {
			s, c := math.Sincos(math.Pi * float64(k) / 1024)
			kgTw[k] = complex(c, s)
		}
	})
	return &kgTw
}

// kgFFT evaluates the real polynomial a (length m = 2^logm) at the points
// ω_j = exp(iπ(2j+1)/m), j < max(1, m/2), into out. (The other half of the
// evaluations are the complex conjugates.) tmp must hold m values.
func kgFFT(out []complex128, a []float64, logm int, tmp []complex128) {
	m := 1 << logm
	if m == 1 {
		out[0] = complex(a[0], 0)
		return
	}
	tw := kgTwiddles()
	step := 1024 >> logm // exp(iπt/m) = kgTw[t·step]
	b := tmp[:m]
	for t := 0; t < m; t++ {
		b[revBits(t, logm)] = complex(a[t], 0) * tw[t*step]
	}
	kgDFT(b, logm, 1)
	copy(out[:m/2], b[:m/2])
}

// kgIFFT inverts kgFFT: from the evaluations A_j (j < max(1, m/2)) it
// returns the real coefficients into a.
func kgIFFT(a []float64, A []complex128, logm int, tmp []complex128) {
	m := 1 << logm
	if m == 1 {
		a[0] = real(A[0])
		return
	}
	tw := kgTwiddles()
	step := 1024 >> logm
	b := tmp[:m]
	for j := 0; j < m/2; j++ {
		b[revBits(j, logm)] = A[j]
		b[revBits(m-1-j, logm)] = complex(real(A[j]), -imag(A[j]))
	}
	kgDFT(b, logm, -1)
	inv := 1 / float64(m)
	for t := 0; t < m; t++ {
		w := tw[(2048-t*step)&2047] // exp(-iπt/m)
		v := b[t] * w
		a[t] = real(v) * inv
	}
}

// kgDFT computes in place B_j = Σ_t b_t·exp(dir·2πi·jt/m) for input already
// in bit-reversed order.
func kgDFT(b []complex128, logm, dir int) {
	m := 1 << logm
	tw := kgTwiddles()
	for ln := 1; ln < m; ln <<= 1 {
		// twiddle exp(dir·iπ·k/ln) = kgTw[(dir·k·1024/ln) mod 2048]
		st := 1024 / ln
		for start := 0; start < m; start += 2 * ln {
			for k := 0; k < ln; k++ {
				w := tw[(dir*k*st)&2047]
				u := b[start+k]
				v := b[start+k+ln] * w
				b[start+k] = u + v
				b[start+k+ln] = u - v
			}
		}
	}
}

// revBits reverses the low logm bits of x (public indices only).
func revBits(x, logm int) int { return int(kgRev[x]) >> (10 - logm) }

var kgRev = func() (t [1024]uint16) {
	for x := range t {
		r := 0
		for i := 0; i < 10; i++ {
			r = r<<1 | (x>>i)&1
		}
		t[x] = uint16(r)
	}
	return
}()

// ctRecip returns 1/d for a positive normal d (to within a couple of ulps)
// using only multiplications and subtractions, whose latency does not depend
// on the operands (a hardware division may finish early on some processors).
// The start value comes from the exponent bits (relative error below 1/8);
// five Newton steps x ← x·(2 − d·x) square the error each time.
func ctRecip(d float64) float64 {
	x := math.Float64frombits(0x7FDE000000000000 - math.Float64bits(d))
	for i := 0; i < 5; i++ {
		x = x * (2 - float64(d*x))
	}
	return x
}
