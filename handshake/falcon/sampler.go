package falcon

import (
	"math"
	"math/bits"
)

// Discrete Gaussian sampling over Z (spec §3.9.3: Alg. 12 BaseSampler,
// Alg. 13 ApproxExp, Alg. 14 BerExp, Alg. 15 SamplerZ).

// Constants of the sampler, as IEEE-754 bit patterns so that they are the
// exact doubles of the round-3 reference (SPEC-NOTES §1.1, §1.8).
var (
	// invSigma = 1/σ for Falcon-1024 (σ = 168.38857144654395).
	invSigma = math.Float64frombits(4573496814039276259)
	// sigmaMin = σ_min for Falcon-1024 (1.298280334344292).
	sigmaMin = math.Float64frombits(4608525754002622308)
	// inv2SqrSigma0 = 1/(2·σ_max²), σ_max = 1.8205.
	inv2SqrSigma0 = math.Float64frombits(4594603506513722306)
	// ln2 and invLn2 are ln(2) and 1/ln(2), correctly rounded.
	ln2    = math.Float64frombits(4604418534313441775)
	invLn2 = math.Float64frombits(4609176140021203710)
	// two63 = 2^63.
	two63 = math.Float64frombits(0x43E0000000000000)
)

// rcdt is the reverse cumulative distribution table of Alg. 12 (spec
// Table 3.1), scaled by 2^72: entry i is split as hi (top 8 bits) and lo (low
// 64 bits).
var rcdt = [18]struct {
	hi uint32
	lo uint64
}{
	{163, 0xF7F42ED3AC391802}, // 3024686241123004913666
	{84, 0xD32B181F3F7DDB82},  // 1564742784480091954050
	{34, 0x7DCDD0934829C1FF},  // 636254429462080897535
	{10, 0xD1754377C7994AE4},  // 199560484645026482916
	{2, 0x95846CAEF33F1F6F},   // 47667343854657281903
	{0, 0x774AC754ED74BD5F},   // 8595902006365044063
	{0, 0x1024DD542B776AE4},   // 1163297957344668388
	{0, 0x01A1FFDC65AD63DA},   // 117656387352093658
	{0, 0x001F80D88A7B6428},   // 8867391802663976
	{0, 0x0001C3FDB2040C69},   // 496969357462633
	{0, 0x000012CF24D031FB},   // 20680885154299
	{0, 0x000000949F8B091F},   // 638331848991
	{0, 0x00000003665DA998},   // 14602316184
	{0, 0x000000000EBF6EBB},   // 247426747
	{0, 0x00000000002F5D7E},   // 3104126
	{0, 0x0000000000007098},   // 28824
	{0, 0x00000000000000C6},   // 198
	{0, 0x0000000000000001},   // 1
}

// approxExpC are the coefficients of Alg. 13 ApproxExp: 2^-63·Σ C[i]·x^(12-i)
// approximates exp(-x) on [0, ln 2].
var approxExpC = [13]uint64{
	0x00000004741183A3, 0x00000036548CFC06, 0x0000024FDCBF140A,
	0x0000171D939DE045, 0x0000D00CF58F6F84, 0x000680681CF796E3,
	0x002D82D8305B0FEA, 0x011111110E066FD0, 0x0555555555070F00,
	0x155555555581FF00, 0x400000000002B400, 0x7FFFFFFFFFFF4800,
	0x8000000000000000,
}

// baseSampler is Alg. 12: a 72-bit uniform value v (64 low bits first, then
// the 8 high bits) and z0 = #{i : v < RCDT[i]}. Every entry is compared, with
// the borrow of a 72-bit subtraction, so neither the control flow nor the
// memory accesses depend on v.
func (p *prng) baseSampler() int32 {
	lo := p.u64()
	hi := p.u8()
	var z uint32
	for i := range rcdt {
		_, b := bits.Sub64(lo, rcdt[i].lo, 0)
		// hi - rcdt.hi - b is negative iff v < RCDT[i]; all terms < 2^9.
		z += (hi - rcdt[i].hi - uint32(b)) >> 31
	}
	return int32(z)
}

// approxExp is Alg. 13: an integer approximation of 2^63·ccs·exp(-x) for
// 0 ≤ x < ln 2 and 1/2 < ccs ≤ 1, by Horner's rule in 63-bit fixed point.
// (z·y)>>63 with z = ⌊2^63·x⌋ is computed as the high word of (2z)·y.
func approxExp(x, ccs float64) uint64 {
	y := approxExpC[0]
	z := uint64(int64(x*two63)) << 1
	for u := 1; u < len(approxExpC); u++ {
		hi, _ := bits.Mul64(z, y)
		y = approxExpC[u] - hi
	}
	// z = ⌊2^63·ccs⌋ may be 2^63 itself (ccs = 1, σ' = σ_min), so the
	// product is shifted as a 128-bit value. ccs ≥ σ_min/σ_max > 1/2 has
	// its last bit at 2^-53 or above, so 2^62·ccs is an exact integer.
	z = uint64(int64(ccs*(two63/2))) << 1
	hi, lo := bits.Mul64(z, y)
	return hi<<1 | lo>>63
}

// berExp is Alg. 14: it returns 1 with probability ≈ ccs·exp(-x), x ≥ 0.
// x = s·ln 2 + r with s = ⌊x·(1/ln 2)⌋ (capped at 63 with a mask), and the
// 64-bit value (2·ApproxExp(r, ccs) - 1) >> s is compared with uniform bytes
// from the most significant one down, stopping at the first difference
// (the loop of the specification; it reveals only where a uniform byte
// first differs).
func (p *prng) berExp(x, ccs float64) uint32 {
	s := uint32(int32(x * invLn2))
	r := x - float64(float64(int32(s))*ln2)
	// s = min(s, 63) without a branch.
	s ^= (s ^ 63) & -((63 - s) >> 31)
	z := ((approxExp(r, ccs) << 1) - 1) >> s
	var w uint32
	i := 64
	for {
		i -= 8
		w = p.u8() - uint32(z>>uint(i))&0xFF
		if w != 0 || i <= 0 {
			break
		}
	}
	return w >> 31
}

// floorCT returns ⌊x⌋ for |x| < 2^62 without data-dependent branches.
func floorCT(x float64) int64 {
	t := int64(x) // truncation toward zero
	d := math.Float64bits(x - float64(t))
	// Subtract 1 iff x - t < 0 (sign bit set and not -0).
	mag := d << 1
	nonzero := (mag | -mag) >> 63
	return t - int64(d>>63&nonzero)
}

// rintCT returns x rounded to the nearest integer, ties to even, for
// |x| < 2^52, without data-dependent branches: (x + 2^52) - 2^52 rounds a
// non-negative x and (x - 2^52) + 2^52 a negative one; the sign bit selects.
func rintCT(x float64) int64 {
	const two52 = 4503599627370496.0
	pos := int64(float64(x+two52) - two52)
	neg := int64(float64(x-two52) + two52)
	m := int64(math.Float64bits(x)) >> 63 // all ones iff x < 0 (or -0)
	return pos ^ ((pos ^ neg) & m)
}

// samplerZ is Alg. 15: a sample from the discrete Gaussian over Z with centre
// mu and standard deviation σ' = 1/isigma (σ_min ≤ σ' ≤ σ_max). With
// r = mu - ⌊mu⌋, each attempt draws z0 from BaseSampler and a sign bit b,
// z = b + (2b-1)·z0, and accepts with probability
// ccs·exp(-((z-r)²/(2σ'²) - z0²/(2σ_max²))), ccs = σ_min/σ'.
// The random values are read in the reference's order: BaseSampler's u64 and
// u8, the sign byte, then BerExp's bytes.
func (p *prng) samplerZ(mu, isigma float64) int32 {
	s := floorCT(mu)
	r := mu - float64(s)
	dss := float64(isigma*isigma) * 0.5
	ccs := isigma * sigmaMin
	for {
		z0 := p.baseSampler()
		b := int32(p.u8() & 1)
		z := b + ((b<<1)-1)*z0
		d := float64(z) - r
		x := float64(float64(d*d)*dss) - float64(float64(z0*z0)*inv2SqrSigma0)
		if p.berExp(x, ccs) != 0 {
			return int32(s) + z
		}
	}
}
