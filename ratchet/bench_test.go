package ratchet

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// Benchmarks for issue 5: 100-byte messages, encrypt+decrypt per op.
// Baseline (libsignal 0.103 via Node, SPQR on, measured on this 2-core
// machine): ~3,000-3,700 encrypts/s and ~3,300-4,300 decrypts/s one
// direction, ~1,000-1,200 ping-pong messages/s; ~101-107 bytes of overhead.
// scripts/ratchet-libsignal-bench.sh measures it in the same run.

const benchMsgSize = 100

// cpuStart is the process CPU time when the timed loop began (startCPU).
var cpuStart float64

// startCPU resets the benchmark timer and notes the process CPU time.
func startCPU(b *testing.B) {
	b.ResetTimer()
	cpuStart = processCPU()
}

func reportMsgs(b *testing.B, msgs int, overhead int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(msgs)/s, "msgs/s")
	}
	if cpuStart > 0 && msgs > 0 {
		b.ReportMetric((processCPU()-cpuStart)*1e6/float64(msgs), "cpu-µs/msg")
	}
	if msgs > 0 {
		b.ReportMetric(float64(overhead)/float64(msgs), "overhead-B/msg")
	}
}

// BenchmarkOneWay: one side sends, the other decrypts; no ratchet step.
// oneWay sends msg b.N times from a to r and returns the total ciphertext
// overhead in bytes.
func oneWay(b *testing.B, a, r *Session, msg []byte) int {
	overhead := 0
	for i := 0; i < b.N; i++ {
		ct, err := a.Encrypt(msg)
		if err != nil {
			b.Fatal(err)
		}
		overhead += len(ct) - len(msg)
		if _, err := r.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
	return overhead
}

func BenchmarkOneWay(b *testing.B) {
	for _, l := range levels {
		b.Run(l.name, func(b *testing.B) {
			a, r := newPair(b, l.cfg)
			msg := make([]byte, benchMsgSize)
			// Past the first message, which carries the KEM key at the PQ level.
			mustDecrypt(b, r, mustEncrypt(b, a, ""), "")
			b.ReportAllocs()
			startCPU(b)
			reportMsgs(b, b.N, oneWay(b, a, r, msg))
		})
	}
}

// BenchmarkPingPong: the direction changes with every message, so every
// message is a DH ratchet step (and, at the PQ level, carries a KEM object).
func BenchmarkPingPong(b *testing.B) {
	for _, l := range levels {
		b.Run(l.name, func(b *testing.B) {
			x, y := newPair(b, l.cfg)
			msg := make([]byte, benchMsgSize)
			overhead := 0
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				ct, err := x.Encrypt(msg)
				if err != nil {
					b.Fatal(err)
				}
				overhead += len(ct) - len(msg)
				if _, err := y.Decrypt(ct); err != nil {
					b.Fatal(err)
				}
				x, y = y, x
			}
			reportMsgs(b, b.N, overhead)
		})
	}
}

// BenchmarkEncrypt and BenchmarkDecrypt split the one-way figure.
func BenchmarkEncrypt(b *testing.B) {
	for _, l := range levels {
		b.Run(l.name, func(b *testing.B) {
			a, _ := newPair(b, l.cfg)
			msg := make([]byte, benchMsgSize)
			mustEncrypt(b, a, "")
			b.ReportAllocs()
			startCPU(b)
			for i := 0; i < b.N; i++ {
				if _, err := a.Encrypt(msg); err != nil {
					b.Fatal(err)
				}
			}
			reportMsgs(b, b.N, 0)
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, l := range levels {
		b.Run(l.name, func(b *testing.B) {
			a, r := newPair(b, l.cfg)
			msg := make([]byte, benchMsgSize)
			mustDecrypt(b, r, mustEncrypt(b, a, ""), "")
			const batch = 1024
			cts := make([][]byte, batch)
			b.ReportAllocs()
			startCPU(b)
			for done := 0; done < b.N; {
				b.StopTimer()
				n := min(batch, b.N-done)
				for i := range n {
					cts[i], _ = a.Encrypt(msg)
				}
				b.StartTimer()
				for i := range n {
					if _, err := r.Decrypt(cts[i]); err != nil {
						b.Fatal(err)
					}
				}
				done += n
			}
			reportMsgs(b, b.N, 0)
		})
	}
}

// BenchmarkStateRoundTrip: MarshalBinary + Unmarshal of a PQ session.
func BenchmarkStateRoundTrip(b *testing.B) {
	a, _ := newPair(b, Config{PQ: true})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st, err := a.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Unmarshal(st); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBulk: encrypt+decrypt of file-chunk-sized messages (chat sends
// 12 KiB chunks), one direction, in MB/s of plaintext.
func BenchmarkBulk(b *testing.B) {
	for _, size := range []int{12 << 10, 16<<10 - 1} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			a, r := newPair(b, Config{PQ: true})
			mustDecrypt(b, r, mustEncrypt(b, a, ""), "")
			msg := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			startCPU(b)
			reportMsgs(b, b.N, oneWay(b, a, r, msg))
		})
	}
}

// roundTripModes are the ways of computing a DH ratchet step compared by
// BenchmarkRoundTrip: "sync" is the specification's pseudocode (everything
// inside Decrypt: the baseline), "bg" the default (sending half in the
// background), "ahead" the default plus key pairs generated one step ahead.
var roundTripModes = []struct {
	name string
	set  func(*Config)
}{
	{"sync", func(c *Config) { c.Synchronous = true }},
	{"bg", func(c *Config) {}},
	{"ahead", func(c *Config) { c.KeysAhead = true }},
}

// BenchmarkRoundTrip measures the latency of a round trip in a
// conversation where every message is a direction change: x encrypts 100
// bytes, y decrypts and replies at once, x decrypts the reply. "idle"
// pauses 1 ms between round trips (timer stopped), as a chat does between
// messages, so work left in the background can finish; "b2b" sends the next
// message at once. rtt-µs is the wall-clock time of the round trip (its
// critical path; rtt-µs-median its median, less disturbed by other
// processes); cpu-µs/rtt the CPU time of the whole process per round
// trip, pauses included. Compare the modes within one run: the machine is
// shared and noisy.
func BenchmarkRoundTrip(b *testing.B) {
	for _, pause := range []struct {
		name string
		d    time.Duration
	}{{"idle", time.Millisecond}, {"b2b", 0}} {
		for _, l := range levels[:2] {
			for _, m := range roundTripModes {
				b.Run(pause.name+"/"+l.name+"/"+m.name, func(b *testing.B) {
					cfg := l.cfg
					m.set(&cfg)
					x, y := newPair(b, cfg)
					defer x.Close()
					defer y.Close()
					msg := make([]byte, benchMsgSize)
					// Warm up past the start of the KEM ratchet.
					for range 3 {
						mustDecrypt(b, y, mustEncrypt(b, x, ""), "")
						mustDecrypt(b, x, mustEncrypt(b, y, ""), "")
					}
					rtts := make([]time.Duration, 0, b.N)
					startCPU(b)
					for i := 0; i < b.N; i++ {
						if pause.d > 0 {
							b.StopTimer()
							time.Sleep(pause.d)
							b.StartTimer()
						}
						t0 := time.Now()
						ct, err := x.Encrypt(msg)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := y.Decrypt(ct); err != nil {
							b.Fatal(err)
						}
						if ct, err = y.Encrypt(msg); err != nil {
							b.Fatal(err)
						}
						if _, err := x.Decrypt(ct); err != nil {
							b.Fatal(err)
						}
						rtts = append(rtts, time.Since(t0))
					}
					b.StopTimer()
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "rtt-µs")
					slices.Sort(rtts)
					b.ReportMetric(float64(rtts[len(rtts)/2].Nanoseconds())/1e3, "rtt-µs-median")
					if cpuStart > 0 {
						b.ReportMetric((processCPU()-cpuStart)*1e6/float64(b.N), "cpu-µs/rtt")
					}
					b.ReportMetric(0, "ns/op")
				})
			}
		}
	}
}
