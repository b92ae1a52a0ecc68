package falcon

import "math"

// The Falcon tree (spec §3.8.3, Alg. 9 ffLDL*) and fast Fourier sampling
// (§3.9.2, Alg. 11 ffSampling).
//
// Tree layout: a node for polynomials of length m ≥ 2 (FFT form) is stored as
// its value l10 (m floats) followed by its left subtree (built from D00) and its
// right subtree (built from D11), each for length m/2; a leaf (m = 1) is one
// float. treeSize(m) = m·(log2 m + 1), so the tree for n = 1024 holds 11264
// floats. Leaves are normalised (§3.8.3, "leaf ← σ/√leaf") and stored
// inverted, as 1/σ' = √leaf · (1/σ), the form SamplerZ consumes.

// treeSize returns the number of floats of a tree for polynomials of length m.
func treeSize(m int) int {
	k := 0
	for 1<<k < m {
		k++
	}
	return m * (k + 1)
}

const fullTreeSize = n * (logN + 1)

// ffLDL fills tree (length treeSize(m)) with the Falcon tree of the
// self-adjoint Gram matrix G = [[g00, g01], [adj(g01), g11]] (FFT form,
// length m each). g00, g01 and g11 are overwritten; tmp must hold m floats.
//
// Each node: G = L·D·L* (polyLDLFFT), value l10; D00 and D11 are split
// (splitFFT) into (d0, d1), and the child is the tree of the quasi-cyclic
// Gram matrix [[d0, d1], [adj(d1), d0]].
func ffLDL(tree, g00, g01, g11, tmp []float64) {
	m := len(g00)
	if m == 1 {
		tree[0] = float64(math.Sqrt(g00[0])) * invSigma
		return
	}
	h := m >> 1
	polyLDLFFT(g00, g01, g11)
	copy(tree[:m], g01)
	// Children Gram matrices, each as (d0, d1, copy of d0):
	// left in g00[:h], g00[h:], g01[:h]; right in g11[:h], g11[h:], g01[h:].
	a0, a1 := tmp[:h], tmp[h:m]
	splitFFT(a0, a1, g00)
	copy(g00, tmp[:m])
	splitFFT(a0, a1, g11)
	copy(g11, tmp[:m])
	copy(g01[:h], g00[:h])
	copy(g01[h:], g11[:h])
	ts := treeSize(h)
	ffLDL(tree[m:m+ts], g00[:h], g00[h:], g01[:h], tmp)
	ffLDL(tree[m+ts:m+2*ts], g11[:h], g11[h:], g01[h:], tmp)
}

// ffSampling is Alg. 11: given the target (t0, t1) in FFT form (length m)
// and the tree, it writes the sample (z0, z1) in FFT form. t0 and t1 are
// left unchanged; tmp must hold 4m floats. Order of work (which fixes the
// order in which the PRNG is consumed): the right subtree on split(t1) first,
// then t0' = t0 + (t1 - z1)·l10, then the left subtree on split(t0'); at a
// leaf, t0 is sampled before t1, both with 1/σ' = the leaf value.
func (p *prng) ffSampling(z0, z1, t0, t1, tree, tmp []float64) {
	m := len(t0)
	if m == 1 {
		isigma := tree[0]
		z0[0] = float64(p.samplerZ(t0[0], isigma))
		z1[0] = float64(p.samplerZ(t1[0], isigma))
		return
	}
	h := m >> 1
	ts := treeSize(h)
	l10 := tree[:m]
	left, right := tree[m:m+ts], tree[m+ts:m+2*ts]

	u, v := tmp[:m], tmp[m:2*m]
	splitFFT(u[:h], u[h:], t1)
	p.ffSampling(v[:h], v[h:], u[:h], u[h:], right, tmp[2*m:])
	mergeFFT(z1, v[:h], v[h:])

	copy(u, t1)
	polySub(u, z1)
	polyMulFFT(u, l10)
	polyAdd(u, t0)

	splitFFT(v[:h], v[h:], u)
	p.ffSampling(u[:h], u[h:], v[:h], v[h:], left, tmp[2*m:])
	mergeFFT(z0, u[:h], u[h:])
}
