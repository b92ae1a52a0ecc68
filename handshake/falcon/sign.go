package falcon

import (
	"crypto/rand"
	"crypto/sha3"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// expandedKey holds what signing derives from a private key once (spec
// §3.8.3, Alg. 9 and the start of Alg. 10): the basis B = [[g, -f], [G, -F]]
// in FFT form and the normalised Falcon tree of its Gram matrix B·B*.
// It is read-only after construction, so concurrent Sign calls share it.
type expandedKey struct {
	b00, b01, b10, b11 [n]float64 // FFT(g), FFT(-f), FFT(G), FFT(-F)
	tree               [fullTreeSize]float64
}

// wipe zeroes the expanded key (PrivateKey.Destroy calls it).
func (e *expandedKey) wipe() {
	clear(e.b00[:])
	clear(e.b01[:])
	clear(e.b10[:])
	clear(e.b11[:])
	clear(e.tree[:])
}

// smallToFFT sets dst to the FFT of the small polynomial src.
func smallToFFT(dst *[n]float64, src *[n]int16) {
	for i, v := range src {
		dst[i] = float64(v)
	}
	fft(dst[:])
}

// newExpandedKey computes the FFT basis and the tree of sk. It also checks
// what signing relies on and what NewPrivateKey cannot see in the encoding:
// the NTRU equation f·G − g·F = q holds over Z[x]/(x^n+1) (spec §3.8.2), so
// that every sampled vector is a valid signature, and every normalised leaf
// σ' lies in [σ_min, σ_max] (spec §3.8.3), so that SamplerZ's inputs are in
// its domain. Keys from key generation always pass; an encoded key that
// fails is rejected with an error wrapping ErrPrivateKey. The checks' results
// are the only data-dependent branches, and they reveal only whether the key
// is valid.
func newExpandedKey(sk *PrivateKey) (*expandedKey, error) {
	e := new(expandedKey)
	smallToFFT(&e.b00, &sk.g)
	smallToFFT(&e.b01, &sk.f)
	smallToFFT(&e.b10, &sk.G)
	smallToFFT(&e.b11, &sk.F)
	polyNeg(e.b01[:])
	polyNeg(e.b11[:])

	var buf [6 * n]float64
	defer clear(buf[:])
	g00, g01, g11 := buf[0:n], buf[n:2*n], buf[2*n:3*n]
	t0, t1 := buf[3*n:4*n], buf[4*n:5*n]
	tmp := buf[5*n : 6*n]

	// det B = g·(−F) − (−f)·G = f·G − g·F must be the constant q. The
	// coefficients of the products are below 2^22 in magnitude, far inside
	// float64's exact range for the FFT's rounding errors.
	copy(t0, e.b00[:])
	polyMulFFT(t0, e.b11[:])
	copy(t1, e.b01[:])
	polyMulFFT(t1, e.b10[:])
	polySub(t0, t1)
	ifft(t0)
	bad := rintCT(t0[0]) ^ q
	for _, v := range t0[1:] {
		bad |= rintCT(v)
	}

	// Gram matrix G = B·B*:
	//   g00 = b00·adj(b00) + b01·adj(b01)
	//   g01 = b00·adj(b10) + b01·adj(b11)
	//   g11 = b10·adj(b10) + b11·adj(b11)
	copy(g00, e.b00[:])
	polyMulSelfAdjFFT(g00)
	copy(t0, e.b01[:])
	polyMulSelfAdjFFT(t0)
	polyAdd(g00, t0)

	copy(g01, e.b00[:])
	polyMulAdjFFT(g01, e.b10[:])
	copy(t0, e.b01[:])
	polyMulAdjFFT(t0, e.b11[:])
	polyAdd(g01, t0)

	copy(g11, e.b10[:])
	polyMulSelfAdjFFT(g11)
	copy(t1, e.b11[:])
	polyMulSelfAdjFFT(t1)
	polyAdd(g11, t1)

	ffLDL(e.tree[:], g00, g01, g11, tmp)

	// Leaves hold 1/σ'; σ_min ≤ σ' ≤ σ_max (NaN fails both comparisons).
	ok := bad == 0
	for leaf := range treeLeaves(n) {
		v := e.tree[leaf]
		ok = ok && v >= 1/sigmaMax && v <= 1/sigmaMin
	}
	if !ok {
		e.wipe()
		return nil, errBadBasis
	}
	return e, nil
}

// sigmaMax is σ_max = 1.8205 (spec Table 3.3).
const sigmaMax = 1.8205

var errBadBasis = fmt.Errorf("%w: f·G − g·F ≠ q or the tree's σ' leave [σ_min, σ_max] (not a valid Falcon key)", ErrPrivateKey)

// treeLeaves yields the indices of the leaves of a tree for length m, in order.
func treeLeaves(m int) func(yield func(int) bool) {
	return func(yield func(int) bool) {
		var walk func(off, m int) bool
		walk = func(off, m int) bool {
			if m == 1 {
				return yield(off)
			}
			ts := treeSize(m / 2)
			return walk(off+m, m/2) && walk(off+m+ts, m/2)
		}
		walk(0, m)
	}
}

// expandMu guards the lazy initialisation of PrivateKey.expanded.
var expandMu sync.Mutex

// expand returns the expanded form of sk, computing it on first use. It is
// safe for concurrent use; constructors may call it eagerly.
func (sk *PrivateKey) expand() (*expandedKey, error) {
	expandMu.Lock()
	e := sk.expanded
	expandMu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := newExpandedKey(sk)
	if err != nil {
		return nil, err
	}
	expandMu.Lock()
	if sk.expanded == nil {
		sk.expanded = e
	} else {
		e.wipe()
		e = sk.expanded
	}
	expandMu.Unlock()
	return e, nil
}

// signState is the per-signature scratch space.
type signState struct {
	c              [n]uint16
	t0, t1, z0, z1 [n]float64
	tmp            [4 * n]float64
	s2             [n]int16
	p              prng
}

func (st *signState) wipe() {
	clear(st.t0[:])
	clear(st.t1[:])
	clear(st.z0[:])
	clear(st.z1[:])
	clear(st.tmp[:])
	st.p.wipe()
}

var signPool = sync.Pool{New: func() any { return new(signState) }}

// ErrKeyDestroyed is returned by Sign for a private key that was destroyed
// (or never initialised).
var ErrKeyDestroyed = errors.New("falcon: private key destroyed or uninitialised")

// errSignRandom wraps a failure of the randomness source.
var errSignRandom = errors.New("falcon: reading signing randomness")

// sign is spec Alg. 10 (Sign) with the round-3 reference's randomness
// plumbing (SPEC-NOTES §1.8), so that feeding it the KAT's randombytes()
// stream reproduces the KAT signatures:
//
//  1. nonce r: one 40-byte read from rand; c = HashToPoint(r || msg).
//  2. seed: one 48-byte read from rand, absorbed into SHAKE256.
//  3. t = (c, 0)·B⁻¹ = (c·(-F)/q, c·f/q) in FFT form (B⁻¹ = (1/q)·[[-F, f], [-G, g]]).
//  4. Each attempt seeds the ChaCha20 PRNG from the next 56 bytes of the
//     SHAKE256 stream, samples z = ffSampling(t, T), computes
//     s = (t - z)·B, i.e. s1 = c - (z·B)_0 and s2 = -(z·B)_1 (rounded to
//     integers), and restarts unless ‖(s1, s2)‖² ≤ ⌊β²⌋ and s2 compresses
//     into MaxSignatureSize-41 bytes.
//
// The output is 0x3A || r || Compress(s2).
func sign(sk *PrivateKey, rnd io.Reader, msg []byte) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	// A destroyed (or zero) key has f = 0: its basis is singular and the
	// sampler would never terminate. Valid keys always have f ≠ 0.
	var nz int16
	for _, v := range sk.f {
		nz |= v
	}
	if nz == 0 {
		return nil, ErrKeyDestroyed
	}
	e, err := sk.expand()
	if err != nil {
		return nil, err
	}

	var nonce [NonceSize]byte
	if _, err := io.ReadFull(rnd, nonce[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", errSignRandom, err)
	}
	var seed [48]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", errSignRandom, err)
	}
	shake := sha3.NewSHAKE256()
	defer shake.Reset() // drop the seed-derived sponge state
	shake.Write(seed[:])
	clear(seed[:])

	st := signPool.Get().(*signState)
	defer func() {
		st.wipe()
		signPool.Put(st)
	}()
	st.c = hashToPoint(nonce[:], msg)

	// Target vector t = (c, 0)·B⁻¹.
	for i, v := range st.c {
		st.t0[i] = float64(v)
	}
	fft(st.t0[:])
	st.t1 = st.t0
	polyMulFFT(st.t1[:], e.b01[:])
	polyMulConst(st.t1[:], -invQ)
	polyMulFFT(st.t0[:], e.b11[:])
	polyMulConst(st.t0[:], invQ)

	for attempt := 0; ; attempt++ {
		// With a valid key an attempt fails with a tiny probability; the
		// cap only turns a logic error into an error instead of a hang.
		if attempt == maxSignAttempts {
			return nil, errors.New("falcon: no short signature found after many attempts")
		}
		if err := st.p.init(shake); err != nil {
			return nil, fmt.Errorf("%w: %w", errSignRandom, err)
		}
		st.p.ffSampling(st.z0[:], st.z1[:], st.t0[:], st.t1[:], e.tree[:], st.tmp[:])
		if comp, ok := st.finish(e); ok {
			sig := make([]byte, 0, 1+NonceSize+len(comp))
			sig = append(sig, headerSignature)
			sig = append(sig, nonce[:]...)
			return append(sig, comp...), nil
		}
	}
}

// maxSignAttempts bounds the restarts of the signing loop.
const maxSignAttempts = 1000

// invQ is 1/q, correctly rounded.
var invQ = 1 / float64(q)

// finish maps the sample z back to the lattice, forms (s1, s2) and checks
// the norm bound and the compressed size; it returns Compress(s2).
func (st *signState) finish(e *expandedKey) ([]byte, bool) {
	// (x, y) = z·B = (z0·b00 + z1·b10, z0·b01 + z1·b11); reuse tmp.
	x, y, w := st.tmp[:n], st.tmp[n:2*n], st.tmp[2*n:3*n]
	copy(x, st.z0[:])
	polyMulFFT(x, e.b00[:])
	copy(w, st.z1[:])
	polyMulFFT(w, e.b10[:])
	polyAdd(x, w)
	copy(y, st.z0[:])
	polyMulFFT(y, e.b01[:])
	copy(w, st.z1[:])
	polyMulFFT(w, e.b11[:])
	polyAdd(y, w)
	ifft(x)
	ifft(y)

	// s1 = c - x, s2 = -y; the squared norm is accumulated in 64 bits
	// (at most 2·1024·2^32, no overflow). An out-of-range value can only
	// make the norm too large, which is then rejected.
	var norm uint64
	for i := range x {
		s1 := int64(st.c[i]) - rintCT(x[i])
		s2 := -rintCT(y[i])
		norm += uint64(s1*s1) + uint64(s2*s2)
		// |s2| ≤ 2047 is checked by compressS2; clamp into int16 range so
		// that an absurd value cannot wrap into a small one.
		s2 = max(min(s2, math.MaxInt16), math.MinInt16)
		st.s2[i] = int16(s2)
	}
	if norm > sigBound {
		return nil, false
	}
	return compressS2(&st.s2, MaxSignatureSize-1-NonceSize)
}
