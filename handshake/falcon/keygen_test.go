package falcon

import (
	"bytes"
	"crypto/sha3"
	"fmt"
	"testing"
)

// mulZ returns a·b in Z[x]/(x^n+1) with int64 coefficients (schoolbook).
func mulZ(a, b *[n]int16) (c [n]int64) {
	for i := 0; i < n; i++ {
		if a[i] == 0 {
			continue
		}
		for j := 0; j < n; j++ {
			p := int64(a[i]) * int64(b[j])
			if k := i + j; k < n {
				c[k] += p
			} else {
				c[k-n] -= p
			}
		}
	}
	return
}

// checkKeyMath checks, independently of the code under test, every
// algebraic property of a generated key.
func checkKeyMath(t *testing.T, sk *PrivateKey) {
	t.Helper()
	var sq int64
	for i := 0; i < n; i++ {
		for _, v := range []int16{sk.f[i], sk.g[i]} {
			if v < -15 || v > 15 {
				t.Fatalf("f/g coefficient %d out of 5-bit range", v)
			}
			sq += int64(v) * int64(v)
		}
		for _, v := range []int16{sk.F[i], sk.G[i]} {
			if v < -127 || v > 127 {
				t.Fatalf("F/G coefficient %d out of 8-bit range", v)
			}
		}
	}
	if sq >= 16823 {
		t.Fatalf("‖(f,g)‖² = %d ≥ 16823", sq)
	}
	// f·G − g·F = q exactly over Z[x]/(x^n+1).
	fG := mulZ(&sk.f, &sk.G)
	gF := mulZ(&sk.g, &sk.F)
	for i := 0; i < n; i++ {
		want := int64(0)
		if i == 0 {
			want = q
		}
		if fG[i]-gF[i] != want {
			t.Fatalf("fG − gF: coefficient %d is %d, want %d", i, fG[i]-gF[i], want)
		}
	}
	// f·h = g mod q.
	var h [n]int16
	for i := range h {
		h[i] = int16(sk.pub.h[i])
	}
	fh := mulZ(&sk.f, &h)
	for i := 0; i < n; i++ {
		d := (fh[i] - int64(sk.g[i])) % q
		if d != 0 {
			t.Fatalf("f·h ≠ g mod q at coefficient %d", i)
		}
	}
}

func TestGenerateKeyProperties(t *testing.T) {
	keys := 4
	if testing.Short() || raceEnabled {
		keys = 2
	}
	for i := 0; i < keys; i++ {
		seed := sha3.SumSHAKE256([]byte(fmt.Sprintf("keygen test %d", i)), 48)
		sk, err := GenerateKey(bytes.NewReader(seed))
		if err != nil {
			t.Fatal(err)
		}
		checkKeyMath(t, sk)
		// Encoding round trip: NewPrivateKey recomputes G and h.
		sk2, err := NewPrivateKey(sk.Bytes())
		if err != nil {
			t.Fatalf("NewPrivateKey(generated key): %v", err)
		}
		if sk2.G != sk.G || sk2.F != sk.F || !sk2.PublicKey().Equal(sk.PublicKey()) {
			t.Fatal("decoded private key differs from the generated one")
		}
		pk, err := NewPublicKey(sk.PublicKey().Bytes())
		if err != nil || !pk.Equal(sk.PublicKey()) {
			t.Fatalf("public key round trip: %v", err)
		}
		// Sign and verify with the generated key.
		msg := []byte(fmt.Sprintf("message %d", i))
		sig, err := sk.Sign(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		if !Verify(pk, msg, sig) {
			t.Fatal("signature by a generated key does not verify")
		}
		msg[0] ^= 1
		if Verify(pk, msg, sig) {
			t.Fatal("signature verifies for a different message")
		}
	}
}

func TestGenerateKeyNilReader(t *testing.T) {
	sk, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyMath(t, sk)
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, fmt.Errorf("no entropy") }

func TestGenerateKeyReaderError(t *testing.T) {
	if _, err := GenerateKey(failReader{}); err == nil {
		t.Fatal("GenerateKey succeeded with a failing reader")
	}
}

// TestKeygenKAT regenerates the KAT key pairs from the KAT seeds (NIST DRBG →
// 48 bytes → SHAKE256 → f, g as in the round-3 reference, SPEC-NOTES §1.8).
// For most records the first key we accept is the KAT key, byte for byte
// (pk and sk, so F too). For the others the reference rejected, inside its
// NTRUSolve, a candidate that passes every rejection rule of the spec and
// that our solver solves; the KAT key is then the next candidate we accept,
// again byte for byte. The test requires every record to reproduce after at
// most two such skips, and reports how many needed none.
func TestKeygenKAT(t *testing.T) {
	recs := loadKAT(t)
	cnt := len(recs)
	if testing.Short() {
		cnt = 12
	}
	if raceEnabled {
		cnt = 6
	}
	first := 0
	for _, r := range recs[:cnt] {
		d := newNISTDRBG(r.Seed)
		seed := make([]byte, 48)
		d.Read(seed)
		found := false
		for skip := 0; skip <= 2 && !found; skip++ {
			sk, err := keygenSkip(seed, skip)
			if err != nil {
				t.Fatalf("record %d: %v", r.Count, err)
			}
			if !bytes.Equal(sk.PublicKey().Bytes(), r.PK) {
				continue
			}
			if !bytes.Equal(sk.Bytes(), r.SK) {
				t.Fatalf("record %d: public key matches the KAT (skip %d) but the private key (F) differs", r.Count, skip)
			}
			checkKeyMath(t, sk)
			found = true
			if skip == 0 {
				first++
			}
		}
		if !found {
			t.Errorf("record %d: KAT key not among the first 3 accepted candidates", r.Count)
		}
	}
	t.Logf("%d/%d KAT key pairs reproduced byte for byte by keygenFromSeed; all %d within two skipped candidates", first, cnt, cnt)
}

func BenchmarkGenerateKey(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateKey(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGenerateKeyConcurrent: key generation shares only read-only tables
// (initialised once), so concurrent calls are safe (run with -race) and give
// the same keys as sequential ones.
func TestGenerateKeyConcurrent(t *testing.T) {
	seeds := [][]byte{make([]byte, 48), make([]byte, 48)}
	seeds[1][0] = 1
	want := make([][]byte, len(seeds))
	for i, s := range seeds {
		sk, err := keygenFromSeed(s)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = sk.Bytes()
	}
	got := make([][]byte, len(seeds))
	done := make(chan int)
	for i := range seeds {
		go func(i int) {
			defer func() { done <- i }()
			if sk, err := GenerateKey(bytes.NewReader(seeds[i])); err == nil {
				got[i] = sk.Bytes()
			}
		}(i)
	}
	for range seeds {
		<-done
	}
	for i := range seeds {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("seed %d: concurrent key differs from the sequential one", i)
		}
	}
}
