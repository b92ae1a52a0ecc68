package falcon

import (
	"slices"
	"testing"
	"time"
)

// Benchmarks for scripts/falcon-compare.sh. Besides ns/op (a mean, which on a
// shared machine absorbs every preemption), each reports "median-ms": the
// median of individually timed operations, the same statistic the script
// takes for liboqs-js and noble, so the ratios compare like with like; and
// "min-ms", the fastest operation, which is the least disturbed by other load
// on the machine (a long operation is more likely to be preempted than a
// short one, so under load medians favour the faster implementation).

func benchMedian(b *testing.B, op func()) {
	b.Helper()
	var ts []time.Duration
	for b.Loop() {
		t0 := time.Now()
		op()
		ts = append(ts, time.Since(t0))
	}
	if len(ts) == 0 {
		return
	}
	slices.Sort(ts)
	m := ts[len(ts)/2]
	if len(ts)%2 == 0 {
		m = (ts[len(ts)/2-1] + m) / 2
	}
	b.ReportMetric(float64(m.Nanoseconds())/1e6, "median-ms")
	b.ReportMetric(float64(ts[0].Nanoseconds())/1e6, "min-ms")
}

func BenchmarkCompareGenerateKey(b *testing.B) {
	benchMedian(b, func() {
		if _, err := GenerateKey(nil); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCompareSign signs with a key whose expanded form (FFT basis, LDL
// tree) is cached, as repeated Sign calls on one PrivateKey do.
func BenchmarkCompareSign(b *testing.B) {
	sk, err := NewPrivateKey(loadKAT(b)[0].SK)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	sk.Sign(nil, msg)
	benchMedian(b, func() {
		if _, err := sk.Sign(nil, msg); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCompareSignFromBytes decodes the private key and signs once per
// operation, as liboqs's sign(msg, secretKey) does internally.
func BenchmarkCompareSignFromBytes(b *testing.B) {
	skb := loadKAT(b)[0].SK
	msg := make([]byte, 64)
	benchMedian(b, func() {
		sk, err := NewPrivateKey(skb)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sk.Sign(nil, msg); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCompareVerify decodes the public key and verifies once per
// operation, as liboqs's verify(msg, sig, publicKey) does internally.
func BenchmarkCompareVerify(b *testing.B) {
	r := loadKAT(b)[0]
	sig := r.detachedSig()
	benchMedian(b, func() {
		pk, err := NewPublicKey(r.PK)
		if err != nil || !Verify(pk, r.Msg, sig) {
			b.Fatal("verification failed")
		}
	})
}

// BenchmarkCompareVerifyParsedKey verifies with an already decoded key (the
// handshake keeps the peer's PublicKey).
func BenchmarkCompareVerifyParsedKey(b *testing.B) {
	r := loadKAT(b)[0]
	sig := r.detachedSig()
	pk, err := NewPublicKey(r.PK)
	if err != nil {
		b.Fatal(err)
	}
	benchMedian(b, func() {
		if !Verify(pk, r.Msg, sig) {
			b.Fatal("verification failed")
		}
	})
}
