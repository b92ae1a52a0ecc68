package handshake

import (
	"testing"
	"time"
)

// timedRun runs one handshake in lock step and returns the time spent in
// each side's own calls (New, Start/Handle) and the bytes on the wire. The
// calls sign on another goroutine beside the rest of their work, so on two
// or more cores this is a side's share of the critical path, less than its CPU.
// The initiator's σ_I, started in New, is awaited before the responder's
// clock starts (the chat layer creates the handshake during ICE): ti
// includes it, and presign is the part of ti from New until σ_I is ready;
// likewise the responder's σ_R (tr includes it, presignR is that part).
func timedRun(b *testing.B, p *testPair) (ti, tr time.Duration, wire int) {
	ti, tr, _, _, wire = timedRunPrepared(b, p, false)
	return ti, tr, wire
}

// timedRunPrepared is timedRun; with prepared, each side's ephemeral keys
// are made by Prepare before its clock starts, as the chat layer does while
// the blobs are exchanged.
func timedRunPrepared(b *testing.B, p *testPair, prepared bool) (ti, tr, presign, presignR time.Duration, wire int) {
	ca, cb := p.ca, p.cb
	if prepared {
		var err error
		if ca.Ephemerals, err = Prepare(nil, Initiator, MaxSupportedLevel); err != nil {
			b.Fatal(err)
		}
		if cb.Ephemerals, err = Prepare(nil, Responder, MaxSupportedLevel); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	hi, err := New(ca)
	if err != nil {
		b.Fatal(err)
	}
	m, err := hi.Start()
	if err != nil {
		b.Fatal(err)
	}
	if err := hi.WaitSigned(); err != nil {
		b.Fatal(err)
	}
	presign = time.Since(t0)
	ti += presign
	// The responder signs th_R in New too (version 2 amendment): the chat
	// layer creates it before ICE, so σ_R is awaited before Init is handed
	// over; tr includes it, presignR is that part.
	t0 = time.Now()
	hr, err := New(cb)
	if err != nil {
		b.Fatal(err)
	}
	if err := hr.WaitSigned(); err != nil {
		b.Fatal(err)
	}
	presignR = time.Since(t0)
	tr += presignR
	t0 = time.Now()
	resp, _, err := hr.Handle(m)
	if err != nil {
		b.Fatal(err)
	}
	tr += time.Since(t0)
	t0 = time.Now()
	fin, _, err := hi.Handle(resp)
	if err != nil {
		b.Fatal(err)
	}
	ti += time.Since(t0)
	t0 = time.Now()
	conf, _, err := hr.Handle(fin)
	if err != nil {
		b.Fatal(err)
	}
	tr += time.Since(t0)
	t0 = time.Now()
	if _, done, err := hi.Handle(conf); err != nil || !done {
		b.Fatal(err)
	}
	ti += time.Since(t0)
	r, _ := hi.Result()
	return ti, tr, presign, presignR, r.WireBytes
}

// BenchmarkHandshake reports, per level, the CPU time of each side of a whole
// handshake and the bytes on the wire (both directions, all four messages).
// The -prepared variants leave out what Prepare does ahead of time (the
// ephemeral keys). initiator-presign is the initiator's share made in New,
// before Response can arrive (σ_I, and Init's keys unless prepared); the
// initiator's time on the critical path is initiator minus initiator-presign.
// responder-presign is likewise the responder's share made in New before
// Init arrives (σ_R, and its keys unless prepared).
func BenchmarkHandshake(b *testing.B) {
	for _, level := range []Level{LevelStandard, LevelEnhanced, LevelQuantum} {
		for _, prepared := range []bool{false, true} {
			name := level.String()
			if prepared {
				name += "-prepared"
			}
			b.Run(name, func(b *testing.B) { benchHandshake(b, level, prepared) })
		}
	}
}

func benchHandshake(b *testing.B, level Level, prepared bool) {
	p := newTestPair(b, level, "bench")
	var ti, tr, pre, preR time.Duration
	var wire int
	b.ResetTimer()
	for b.Loop() {
		i, r, ps, psR, w := timedRunPrepared(b, p, prepared)
		ti, tr, pre, preR, wire = ti+i, tr+r, pre+ps, preR+psR, wire+w
	}
	n := float64(b.N)
	b.ReportMetric(float64(ti.Microseconds())/n, "initiator-µs/op")
	b.ReportMetric(float64(pre.Microseconds())/n, "initiator-presign-µs/op")
	b.ReportMetric(float64(tr.Microseconds())/n, "responder-µs/op")
	b.ReportMetric(float64(preR.Microseconds())/n, "responder-presign-µs/op")
	b.ReportMetric(float64(wire)/n, "wire-B/op")
}

// BenchmarkHandshakeRatio runs the three levels interleaved in one loop and
// reports the CPU time and wire bytes of enhanced and quantum as ratios to
// the standard level (X25519 + Ed25519 only) measured in the same run.
func BenchmarkHandshakeRatio(b *testing.B) {
	pairs := map[Level]*testPair{}
	for _, l := range []Level{LevelStandard, LevelEnhanced, LevelQuantum} {
		pairs[l] = newTestPair(b, l, "bench-ratio")
	}
	cpu := map[Level]time.Duration{}
	wire := map[Level]int{}
	b.ResetTimer()
	for b.Loop() {
		for l, p := range pairs {
			i, r, w := timedRun(b, p)
			cpu[l] += i + r
			wire[l] += w
		}
	}
	base, baseWire := float64(cpu[LevelStandard]), float64(wire[LevelStandard])
	b.ReportMetric(float64(cpu[LevelStandard].Microseconds())/float64(b.N)/2, "standard-µs/side")
	b.ReportMetric(float64(cpu[LevelEnhanced])/base, "enhanced/standard-cpu")
	b.ReportMetric(float64(cpu[LevelQuantum])/base, "quantum/standard-cpu")
	b.ReportMetric(float64(wire[LevelEnhanced])/baseWire, "enhanced/standard-wire")
	b.ReportMetric(float64(wire[LevelQuantum])/baseWire, "quantum/standard-wire")
}
