package falcon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"testing"
)

// TestSignKAT signs every KAT message with the KAT's randomness (the NIST
// DRBG seeded with the record's seed, after keygen's 48-byte read) and
// requires the detached form of the KAT's sm, byte for byte.
func TestSignKAT(t *testing.T) {
	recs := loadKAT(t)
	if testing.Short() {
		recs = recs[:10]
	}
	for _, rec := range recs {
		sk, err := NewPrivateKey(rec.SK)
		if err != nil {
			t.Fatalf("record %d: %v", rec.Count, err)
		}
		d := newNISTDRBG(rec.Seed)
		d.Read(make([]byte, 48)) // consumed by key generation
		sig, err := sk.Sign(d, rec.Msg)
		if err != nil {
			t.Fatalf("record %d: %v", rec.Count, err)
		}
		if want := rec.detachedSig(); !bytes.Equal(sig, want) {
			t.Errorf("record %d: signature differs from the KAT (len %d, want %d)", rec.Count, len(sig), len(want))
		}
		if !Verify(sk.PublicKey(), rec.Msg, sig) {
			t.Errorf("record %d: own signature does not verify", rec.Count)
		}
	}
}

// independentNorm recomputes ‖(s1, s2)‖² of a detached signature with a
// schoolbook product mod q (no NTT), for checks that do not rely on Verify.
func independentNorm(t *testing.T, pk *PublicKey, msg, sig []byte) uint64 {
	t.Helper()
	if len(sig) < 1+NonceSize || sig[0] != headerSignature {
		t.Fatalf("bad signature header or length %d", len(sig))
	}
	var s2 [n]int16
	if err := decompressS2(&s2, sig[1+NonceSize:]); err != nil {
		t.Fatalf("signature does not decode: %v", err)
	}
	c := hashToPoint(sig[1:1+NonceSize], msg)
	var prod [n]int64 // s2·h mod (x^n+1), unreduced
	for i, a := range s2 {
		if a == 0 {
			continue
		}
		for j, b := range pk.h {
			if k := i + j; k < n {
				prod[k] += int64(a) * int64(b)
			} else {
				prod[k-n] -= int64(a) * int64(b)
			}
		}
	}
	var norm uint64
	for i := range prod {
		s1 := ((int64(c[i])-prod[i])%q + q) % q
		if s1 > q/2 {
			s1 -= q
		}
		norm += uint64(s1*s1) + uint64(int64(s2[i])*int64(s2[i]))
	}
	return norm
}

// TestSignVerifies signs random messages with fresh randomness under several
// KAT keys; every signature must verify, have a norm within the bound
// (computed independently of Verify) and the detached format.
func TestSignVerifies(t *testing.T) {
	recs := loadKAT(t)
	keys, msgs := 4, 4
	if testing.Short() {
		keys, msgs = 2, 2
	}
	for _, rec := range recs[:keys] {
		sk, err := NewPrivateKey(rec.SK)
		if err != nil {
			t.Fatal(err)
		}
		pk := sk.PublicKey()
		for i := 0; i < msgs; i++ {
			msg := []byte(fmt.Sprintf("message %d under key %d", i, rec.Count))
			sig, err := sk.Sign(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) > MaxSignatureSize || sig[0] != 0x3A {
				t.Fatalf("signature length %d, header %#x", len(sig), sig[0])
			}
			if !Verify(pk, msg, sig) {
				t.Fatalf("key %d message %d: signature does not verify", rec.Count, i)
			}
			if norm := independentNorm(t, pk, msg, sig); norm > sigBound {
				t.Fatalf("key %d message %d: norm %d > %d", rec.Count, i, norm, sigBound)
			}
			if Verify(pk, append(msg, 0), sig) {
				t.Fatal("signature verifies for another message")
			}
		}
	}
}

// TestSignDeterministicReader: the same randomness gives the same signature,
// different randomness a different one.
func TestSignDeterministicReader(t *testing.T) {
	rec := loadKAT(t)[3]
	sk, _ := NewPrivateKey(rec.SK)
	msg := []byte("deterministic")
	stream := func(seed byte) io.Reader {
		b := make([]byte, 88)
		for i := range b {
			b[i] = seed + byte(i)
		}
		return bytes.NewReader(b)
	}
	a, err := sk.Sign(stream(1), msg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sk.Sign(stream(1), msg)
	c, _ := sk.Sign(stream(2), msg)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("signature is not a function of the randomness")
	}
	if !bytes.Equal(a[1:41], []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
		21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40}) {
		t.Fatal("nonce is not the first 40 bytes read")
	}
}

type failingReader struct{ left int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errors.New("entropy source failed")
	}
	k := min(len(p), r.left)
	r.left -= k
	return k, nil
}

// TestSignRandomnessErrors: a failing or short source is reported, at each of
// the two reads.
func TestSignRandomnessErrors(t *testing.T) {
	sk, _ := NewPrivateKey(loadKAT(t)[0].SK)
	for _, left := range []int{0, 20, 40, 60} {
		sig, err := sk.Sign(&failingReader{left: left}, []byte("m"))
		if err == nil || sig != nil || !errors.Is(err, errSignRandom) {
			t.Errorf("source failing after %d bytes: sig %x, err %v", left, sig, err)
		}
	}
	if _, err := sk.Sign(bytes.NewReader(make([]byte, 87)), []byte("m")); err == nil {
		t.Error("a source 1 byte short was accepted")
	}
}

// TestSignConcurrent signs from several goroutines with one key whose
// expanded form has not been computed yet (run with -race).
func TestSignConcurrent(t *testing.T) {
	rec := loadKAT(t)[5]
	sk, _ := NewPrivateKey(rec.SK)
	pk := sk.PublicKey()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				msg := []byte(fmt.Sprintf("goroutine %d message %d", g, i))
				sig, err := sk.Sign(nil, msg)
				if err != nil {
					errs <- err
					return
				}
				if !Verify(pk, msg, sig) {
					errs <- fmt.Errorf("goroutine %d: signature does not verify", g)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSignAfterDestroy(t *testing.T) {
	sk, _ := NewPrivateKey(loadKAT(t)[0].SK)
	if _, err := sk.Sign(nil, []byte("before")); err != nil {
		t.Fatal(err)
	}
	sk.Destroy()
	if sig, err := sk.Sign(nil, []byte("after")); !errors.Is(err, ErrKeyDestroyed) || sig != nil {
		t.Fatalf("Sign after Destroy: %x, %v", sig, err)
	}
	if _, err := new(PrivateKey).Sign(nil, []byte("zero key")); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("Sign with a zero key: %v", err)
	}
}

// TestTreeLeaves checks the normalised leaves of the KAT keys' trees:
// σ' = 1/leaf must lie in [σ_min, σ_max] (spec §3.8.3), and the tree's
// inner values must be finite.
func TestTreeLeaves(t *testing.T) {
	for _, rec := range loadKAT(t)[:5] {
		sk, _ := NewPrivateKey(rec.SK)
		e, err := newExpandedKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		var walk func(tree []float64, m int)
		leaves := 0
		walk = func(tree []float64, m int) {
			if m == 1 {
				leaves++
				if s := 1 / tree[0]; !(s >= sigmaMin && s <= 1.8205) {
					t.Fatalf("record %d: leaf σ' = %v outside [σ_min, σ_max]", rec.Count, s)
				}
				return
			}
			for _, v := range tree[:m] {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("record %d: non-finite tree value", rec.Count)
				}
			}
			ts := treeSize(m / 2)
			walk(tree[m:m+ts], m/2)
			walk(tree[m+ts:m+2*ts], m/2)
		}
		walk(e.tree[:], n)
		if leaves != n {
			t.Fatalf("%d leaves, want %d", leaves, n)
		}
		// The unnormalised leaves are the squared Gram-Schmidt norms of the
		// basis, each shared by two of its 2n vectors, so their product is
		// √det(B·B*) = |det B|^n = q^n: Σ log d = n·log q.
		var sum float64
		for leaf := range treeLeaves(n) {
			d := e.tree[leaf] / invSigma
			sum += math.Log(d * d)
		}
		if want := n * math.Log(q); math.Abs(sum-want) > 1e-6*want {
			t.Fatalf("record %d: Σ log(leaf) = %v, want n·log q = %v", rec.Count, sum, want)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	sk, _ := NewPrivateKey(loadKAT(b)[0].SK)
	if _, err := sk.expand(); err != nil {
		b.Fatal(err)
	}
	msg := []byte("benchmark message")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sk.Sign(nil, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignWithExpansion includes the key expansion in every signature
// (what a one-shot signer with a freshly decoded key pays).
func BenchmarkSignWithExpansion(b *testing.B) {
	sk, _ := NewPrivateKey(loadKAT(b)[0].SK)
	msg := []byte("benchmark message")
	b.ReportAllocs()
	for b.Loop() {
		sk.expanded = nil
		if _, err := sk.Sign(nil, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExpandKey(b *testing.B) {
	sk, _ := NewPrivateKey(loadKAT(b)[0].SK)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newExpandedKey(sk); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSignRejectsInvalidBasis: private keys whose polynomials decode but do
// not form a Falcon basis are refused with an error (no hang, no invalid
// signature).
func TestSignRejectsInvalidBasis(t *testing.T) {
	rec := loadKAT(t)[0]
	good, _ := NewPrivateKey(rec.SK)
	cases := map[string]func(sk *PrivateKey){
		"F = 2f, G = 2g (f·G − g·F = 0)": func(sk *PrivateKey) {
			for i := range sk.F {
				sk.F[i], sk.G[i] = 2*sk.f[i], 2*sk.g[i]
			}
		},
		"F perturbed (f·G − g·F ≠ q)": func(sk *PrivateKey) { sk.F[7]++ },
		"G negated":                   func(sk *PrivateKey) { polyNegInt16(&sk.G) },
	}
	for name, mutate := range cases {
		sk := &PrivateKey{f: good.f, g: good.g, F: good.F, G: good.G, pub: good.pub}
		mutate(sk)
		sig, err := sk.Sign(nil, []byte("m"))
		if !errors.Is(err, ErrPrivateKey) || sig != nil {
			t.Errorf("%s: Sign = %x, %v; want an ErrPrivateKey error", name, sig, err)
		}
	}
	if _, err := good.Sign(nil, []byte("m")); err != nil {
		t.Fatalf("valid key: %v", err)
	}
}

func polyNegInt16(a *[n]int16) {
	for i := range a {
		a[i] = -a[i]
	}
}
