package falcon

import (
	"crypto/sha3"
	"math"
	"math/big"
	"testing"
)

// testPRNG returns a PRNG seeded from SHAKE256(label).
func testPRNG(t testing.TB, label string) *prng {
	t.Helper()
	h := sha3.NewSHAKE256()
	h.Write([]byte(label))
	p := new(prng)
	if err := p.init(h); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRCDTTable checks the 72-bit split of the table against the decimal
// values of the specification (Table 3.1).
func TestRCDTTable(t *testing.T) {
	dec := []string{
		"3024686241123004913666", "1564742784480091954050", "636254429462080897535",
		"199560484645026482916", "47667343854657281903", "8595902006365044063",
		"1163297957344668388", "117656387352093658", "8867391802663976",
		"496969357462633", "20680885154299", "638331848991", "14602316184",
		"247426747", "3104126", "28824", "198", "1",
	}
	for i, s := range dec {
		want, _ := new(big.Int).SetString(s, 10)
		got := new(big.Int).Lsh(big.NewInt(int64(rcdt[i].hi)), 64)
		got.Or(got, new(big.Int).SetUint64(rcdt[i].lo))
		if got.Cmp(want) != 0 {
			t.Errorf("RCDT[%d] = %v, want %v", i, got, want)
		}
	}
}

// TestSamplerConstants checks the bit-pattern constants against their
// mathematical values (spec Table 3.3 and SPEC-NOTES §1.1).
func TestSamplerConstants(t *testing.T) {
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 2*math.Abs(want)*0x1p-52 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("1/σ", invSigma, 1/168.38857144654395)
	near("σ_min", sigmaMin, 1.298280334344292)
	near("1/(2σ_max²)", inv2SqrSigma0, 1/(2*1.8205*1.8205))
	if ln2 != math.Ln2 || invLn2 != math.Log2E || two63 != 1<<63 {
		t.Error("ln 2, 1/ln 2 or 2^63 is not the correctly rounded constant")
	}
	if invQ != 1.0/12289 {
		t.Error("1/q")
	}
}

func TestFloorRintCT(t *testing.T) {
	cases := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994,
		-0.49999999999999994, 1e-300, -1e-300, 3.7, -3.7, 12288.5, -12288.5, 1 << 40, -(1 << 40) - 0.5,
		4503599627370495.5, -4503599627370495.5, 123456.75, -123456.25}
	for _, x := range cases {
		if got, want := floorCT(x), int64(math.Floor(x)); got != want {
			t.Errorf("floorCT(%v) = %d, want %d", x, got, want)
		}
		if got, want := rintCT(x), int64(math.RoundToEven(x)); got != want {
			t.Errorf("rintCT(%v) = %d, want %d", x, got, want)
		}
	}
}

// TestApproxExp checks Alg. 13 against math.Exp over its domain.
func TestApproxExp(t *testing.T) {
	for _, ccs := range []float64{1, 1 - 0x1p-53, 0.9, 0.7132, 0.51} {
		for i := 0; i <= 1000; i++ {
			x := math.Ln2 * float64(i) / 1001
			got := float64(approxExp(x, ccs)) / two63
			want := ccs * math.Exp(-x)
			if math.Abs(got-want) > 0x1p-45 {
				t.Fatalf("approxExp(%v, %v) = %v, want %v", x, ccs, got, want)
			}
		}
	}
}

// chi2Bound is an upper quantile of the χ² distribution with k degrees of
// freedom at about 3·10⁻⁷ (Wilson–Hilferty, z = 5).
func chi2Bound(k int) float64 {
	kf := float64(k)
	c := 1 - 2/(9*kf) + 5*math.Sqrt(2/(9*kf))
	return kf * c * c * c
}

// chi2Test compares observed counts with expected probabilities (bins with
// an expected count below 10 are merged into their neighbours).
func chi2Test(t *testing.T, name string, counts map[int]int, prob func(int) float64, lo, hi, total int) {
	t.Helper()
	var chi2, accE, accO float64
	df := -1
	for z := lo; z <= hi; z++ {
		accE += prob(z) * float64(total)
		accO += float64(counts[z])
		if accE >= 10 || z == hi {
			chi2 += (accO - accE) * (accO - accE) / accE
			df++
			accE, accO = 0, 0
		}
	}
	seen := 0
	for z, c := range counts {
		if z < lo || z > hi {
			t.Errorf("%s: sample %d outside [%d, %d]", name, z, lo, hi)
		}
		seen += c
	}
	if seen != total {
		t.Fatalf("%s: %d samples, want %d", name, seen, total)
	}
	if df < 1 || chi2 > chi2Bound(df) {
		t.Errorf("%s: χ² = %.1f with %d degrees of freedom (bound %.1f)", name, chi2, df, chi2Bound(df))
	}
}

// TestBaseSamplerDistribution checks Alg. 12 against the probabilities the
// table encodes: P(z0 = k) = (RCDT[k-1] - RCDT[k]) / 2^72.
func TestBaseSamplerDistribution(t *testing.T) {
	N := 300000
	if testing.Short() {
		N = 60000
	}
	p := testPRNG(t, "base sampler")
	counts := map[int]int{}
	for i := 0; i < N; i++ {
		counts[int(p.baseSampler())]++
	}
	val := func(i int) float64 {
		if i < 0 {
			return 1
		}
		if i >= len(rcdt) {
			return 0
		}
		return (float64(rcdt[i].hi)*0x1p64 + float64(rcdt[i].lo)) * 0x1p-72
	}
	chi2Test(t, "BaseSampler", counts, func(k int) float64 { return val(k-1) - val(k) }, 0, 18, N)
}

// TestSamplerZDistribution checks Alg. 15 against the discrete Gaussian
// D_{Z,σ',μ}(z) ∝ exp(-(z-μ)²/(2σ'²)) for several centres and widths across
// [σ_min, σ_max], and checks its mean and variance.
func TestSamplerZDistribution(t *testing.T) {
	N := 200000
	if testing.Short() {
		N = 40000
	}
	cases := []struct{ mu, sigma float64 }{
		{0, sigmaMin}, {0.5, sigmaMin}, {-3.25, 1.5}, {1234.8, 1.8205}, {-77.01, 1.7}, {0.999, 1.4},
	}
	for _, c := range cases {
		p := testPRNG(t, "samplerZ")
		counts := map[int]int{}
		var sum, sum2 float64
		for i := 0; i < N; i++ {
			z := int(p.samplerZ(c.mu, 1/c.sigma))
			counts[z]++
			sum += float64(z)
			sum2 += float64(z) * float64(z)
		}
		base := int(math.Floor(c.mu))
		lo, hi := base-20, base+21
		var norm float64
		rho := func(z int) float64 { d := float64(z) - c.mu; return math.Exp(-d * d / (2 * c.sigma * c.sigma)) }
		var mean, second float64
		for z := lo; z <= hi; z++ {
			norm += rho(z)
		}
		for z := lo; z <= hi; z++ {
			mean += float64(z) * rho(z) / norm
			second += float64(z) * float64(z) * rho(z) / norm
		}
		name := "SamplerZ(μ=" + ftoa(c.mu) + ", σ'=" + ftoa(c.sigma) + ")"
		chi2Test(t, name, counts, func(z int) float64 { return rho(z) / norm }, lo, hi, N)
		variance := second - mean*mean
		gotMean := sum / float64(N)
		gotVar := sum2/float64(N) - gotMean*gotMean
		if se := math.Sqrt(variance / float64(N)); math.Abs(gotMean-mean) > 6*se {
			t.Errorf("%s: mean %.4f, want %.4f", name, gotMean, mean)
		}
		if math.Abs(gotVar-variance) > 0.05*variance {
			t.Errorf("%s: variance %.4f, want %.4f", name, gotVar, variance)
		}
	}
}

func ftoa(x float64) string { return big.NewFloat(x).Text('g', 6) }

func BenchmarkSamplerZ(b *testing.B) {
	p := testPRNG(b, "bench")
	mu := 0.3
	for b.Loop() {
		mu += float64(p.samplerZ(mu, 1/1.6)) * 1e-3
	}
}
