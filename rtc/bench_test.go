package rtc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// Benchmarks of issue 2. Each compares rtc with raw pion (its defaults, as in
// pion's own examples) measured in the same run, and reports both and the
// ratio as custom metrics. Raw pion is only restricted to the loopback
// interface, as tests may send traffic nowhere else.

func loopbackOnly(ip net.IP) bool { return ip.IsLoopback() }

// rawPionAPI is pion with default settings, on loopback.
func rawPionAPI() *webrtc.API {
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(loopbackOnly)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// rawPionPair connects two raw pion peers the way pion's examples do (full
// gathering, then offer and answer as SessionDescriptions) and returns both
// ends of an open data channel.
func rawPionPair(tb testing.TB) (a, b *webrtc.PeerConnection, da, db *webrtc.DataChannel) {
	api := rawPionAPI()
	var err error
	if a, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		tb.Fatal(err)
	}
	if b, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		tb.Fatal(err)
	}
	if da, err = a.CreateDataChannel("bench", nil); err != nil {
		tb.Fatal(err)
	}
	openA := make(chan struct{})
	da.OnOpen(func() { close(openA) })
	gotB := make(chan *webrtc.DataChannel, 1)
	b.OnDataChannel(func(d *webrtc.DataChannel) { d.OnOpen(func() { gotB <- d }) })
	offer, err := a.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	ga := webrtc.GatheringCompletePromise(a)
	if err := a.SetLocalDescription(offer); err != nil {
		tb.Fatal(err)
	}
	<-ga
	if err := b.SetRemoteDescription(*a.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
	answer, err := b.CreateAnswer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gb := webrtc.GatheringCompletePromise(b)
	if err := b.SetLocalDescription(answer); err != nil {
		tb.Fatal(err)
	}
	<-gb
	if err := a.SetRemoteDescription(*b.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-openA:
	case <-time.After(20 * time.Second):
		tb.Fatal("raw pion channel did not open")
	}
	db = <-gotB
	return a, b, da, db
}

// sdpBlobLen is the length of pion's example encoding of an offer: base64 of
// the JSON of the SessionDescription.
func sdpBlobLen(tb testing.TB, d *webrtc.SessionDescription) int {
	j, err := json.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	return len(base64.StdEncoding.EncodeToString(j))
}

// BenchmarkBlobLength compares the offer text of rtc with base64 SDP JSON for
// the same candidates: the offerer's own pion offer, which holds exactly the
// candidates our blob carries.
func BenchmarkBlobLength(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"loopback", LoopbackConfig()},
		{"host-udp4", Config{Networks: []string{"udp4"}}},
		{"host-udp4-udp6-loopback", Config{Loopback: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ours, sdp, cands int
			for i := 0; i < b.N; i++ {
				o, err := NewOfferer(context.Background(), tc.cfg, make([]byte, 20))
				if err != nil {
					b.Fatal(err)
				}
				ours, cands = len(o.Blob()), len(o.Local().Candidates)
				sdp = sdpBlobLen(b, o.p.pc.LocalDescription())
				o.Close()
			}
			b.ReportMetric(float64(cands), "candidates")
			b.ReportMetric(float64(ours), "chars_rtc")
			b.ReportMetric(float64(sdp), "chars_sdp_b64")
			b.ReportMetric(float64(sdp)/float64(ours), "x_smaller")
		})
	}
}

// BenchmarkConnect measures the time from creating both peers to an open
// channel on loopback, rtc and raw pion alternately.
func BenchmarkConnect(b *testing.B) {
	ctx := context.Background()
	var ours, raw time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		off, ans := connectPair(b, ctx, LoopbackConfig())
		ours += time.Since(start)
		off.Close()
		ans.Close()

		start = time.Now()
		pa, pb, _, _ := rawPionPair(b)
		raw += time.Since(start)
		pa.Close()
		pb.Close()
	}
	b.ReportMetric(float64(ours.Microseconds())/1000/float64(b.N), "ms_rtc")
	b.ReportMetric(float64(raw.Microseconds())/1000/float64(b.N), "ms_pion")
	b.ReportMetric(float64(ours)/float64(raw), "ratio")
}

// offerAnswer makes an offer and the answer to it (not yet connected).
func offerAnswer(tb testing.TB, ctx context.Context, cfg Config) (*Offerer, *Answerer) {
	tb.Helper()
	o, err := NewOfferer(ctx, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := NewAnswerer(ctx, cfg, o.Blob(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return o, a
}

func connectPair(tb testing.TB, ctx context.Context, cfg Config) (off, ans *Conn) {
	o, a := offerAnswer(tb, ctx, cfg)
	done := make(chan error, 1)
	go func() {
		var err error
		ans, err = a.Wait(ctx)
		done <- err
	}()
	off, err := o.Accept(ctx, a.Blob())
	if werr := <-done; err != nil || werr != nil {
		tb.Fatalf("accept %v wait %v", err, werr)
	}
	return off, ans
}

// BenchmarkThroughput sends messages one way through Conn and through raw
// pion's data channel (OnMessage, Send with the buffered-amount flow control
// of pion's example), alternating rounds on two standing connections.
func BenchmarkThroughput(b *testing.B) {
	aes := LoopbackConfig()
	aes.PreferAESGCM = true
	for _, tc := range []struct {
		name  string
		size  int
		count int
		cfg   Config
	}{
		{"100B", 100, 4000, LoopbackConfig()},
		{"16KiB", 16 << 10, 250, LoopbackConfig()},
		// Raw pion negotiates AES-128-GCM; this separates what Conn costs
		// from what the ChaCha20-Poly1305 preference costs.
		{"16KiB-aesgcm", 16 << 10, 250, aes},
	} {
		b.Run(tc.name, func(b *testing.B) {
			off, ans := connectPair(b, context.Background(), tc.cfg)
			defer off.Close()
			defer ans.Close()
			pa, pb, da, db := rawPionPair(b)
			defer pa.Close()
			defer pb.Close()

			var got atomic.Int64
			rawDone := make(chan struct{}, 1)
			var target atomic.Int64
			db.OnMessage(func(m webrtc.DataChannelMessage) {
				if got.Add(1) == target.Load() {
					rawDone <- struct{}{}
				}
			})
			low := make(chan struct{}, 1)
			da.SetBufferedAmountLowThreshold(bufferedLow)
			da.OnBufferedAmountLow(func() {
				select {
				case low <- struct{}{}:
				default:
				}
			})
			msg := make([]byte, tc.size)
			var ours, raw time.Duration
			b.SetBytes(int64(tc.size * tc.count * 8))
			b.ResetTimer()
			runOurs := func() time.Duration {
				start := time.Now()
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < tc.count; j++ {
						if err := off.Send(msg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
				for j := 0; j < tc.count; j++ {
					if _, err := ans.Recv(); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
				return time.Since(start)
			}
			runRaw := func() time.Duration {
				got.Store(0)
				target.Store(int64(tc.count))
				start := time.Now()
				for j := 0; j < tc.count; j++ {
					for da.BufferedAmount() > bufferedHigh {
						<-low
					}
					if err := da.Send(msg); err != nil {
						b.Fatal(err)
					}
				}
				select {
				case <-rawDone:
				case <-time.After(60 * time.Second):
					b.Fatalf("raw pion: %d of %d messages arrived", got.Load(), tc.count)
				}
				return time.Since(start)
			}
			// Many short rounds, alternating which goes first, so that the
			// drifting load of a shared machine does not favour either.
			const rounds = 8
			for i := 0; i < b.N*rounds; i++ {
				if i%2 == 0 {
					ours += runOurs()
					raw += runRaw()
				} else {
					raw += runRaw()
					ours += runOurs()
				}
			}
			if d, ok := udpDrops(ans.Path().Local.Addr.Port()); ok {
				b.ReportMetric(float64(d), "drops_rtc")
			}
			if pair, err := pb.SCTP().Transport().ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
				if d, ok := udpDrops(pair.Local.Port); ok {
					b.ReportMetric(float64(d), "drops_pion")
				}
			}
			n := float64(tc.count * b.N * rounds)
			mb := n * float64(tc.size) / 1e6
			b.ReportMetric(n/ours.Seconds(), "msgs/s_rtc")
			b.ReportMetric(n/raw.Seconds(), "msgs/s_pion")
			b.ReportMetric(mb/ours.Seconds(), "MB/s_rtc")
			b.ReportMetric(mb/raw.Seconds(), "MB/s_pion")
			b.ReportMetric(raw.Seconds()/ours.Seconds(), "ratio")
		})
	}
}

// udpDrops returns the datagrams the kernel dropped on the UDP socket bound
// to port, because its receive buffer was full (the last column of
// /proc/net/udp on Linux).
func udpDrops(port uint16) (int, bool) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, false
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 13 || !strings.HasSuffix(f[1], want) {
			continue
		}
		d, err := strconv.Atoi(f[len(f)-1])
		return d, err == nil
	}
	return 0, false
}
