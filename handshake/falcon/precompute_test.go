package falcon

import (
	"errors"
	"testing"
)

// TestPrecompute: Precompute builds the expanded key that Sign then uses
// (signatures verify and stay reproducible), refuses an invalid basis and a
// destroyed key, and Destroy wipes what it built.
func TestPrecompute(t *testing.T) {
	rec := loadKAT(t)[0]
	sk, _ := NewPrivateKey(rec.SK)
	if sk.expanded != nil {
		t.Fatal("decoded key is already expanded; the test would prove nothing")
	}
	if err := sk.Precompute(); err != nil {
		t.Fatal(err)
	}
	e := sk.expanded
	if e == nil {
		t.Fatal("Precompute did not expand the key")
	}
	if err := sk.Precompute(); err != nil || sk.expanded != e {
		t.Fatalf("second Precompute: %v, expanded key replaced: %v", err, sk.expanded != e)
	}
	fresh, _ := NewPrivateKey(rec.SK)
	msg := []byte("precomputed")
	sig, err := sk.Sign(&fixedReader{}, msg)
	if err != nil || !Verify(sk.PublicKey(), msg, sig) {
		t.Fatalf("sign with the precomputed key: %v", err)
	}
	want, _ := fresh.Sign(&fixedReader{}, msg)
	if string(sig) != string(want) {
		t.Fatal("precomputed and lazily expanded keys sign differently")
	}
	sk.Destroy()
	if e.tree[0] != 0 || e.b00[1] != 0 {
		t.Fatal("Destroy left the precomputed key in memory")
	}
	if err := sk.Precompute(); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("Precompute after Destroy: %v", err)
	}
	bad := &PrivateKey{f: fresh.f, g: fresh.g, F: fresh.F, G: fresh.G, pub: fresh.pub}
	bad.F[7]++
	if err := bad.Precompute(); !errors.Is(err, ErrPrivateKey) {
		t.Fatalf("Precompute of an invalid basis: %v", err)
	}
}

// fixedReader yields a fixed byte stream (0, 1, 2, ...).
type fixedReader struct{ i byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	for k := range p {
		p[k] = r.i
		r.i++
	}
	return len(p), nil
}
