package bench

import (
	"strings"
	"testing"
	"time"
)

func TestSeqTracker(t *testing.T) {
	for _, tc := range []struct {
		seqs    []int
		count   int
		dups    int
		inOrder bool
	}{
		{[]int{0, 1, 2}, 3, 0, true},
		{[]int{5, 6, 7}, 3, 0, true}, // numbering continues across commands
		{[]int{0, 2, 1}, 3, 0, false},
		{[]int{0, 1, 1, 2}, 3, 1, true},
		{[]int{0, 2}, 2, 0, false}, // a gap
	} {
		tr := newSeqTracker()
		for _, s := range tc.seqs {
			tr.add(s)
		}
		st := tr.get()
		if st.Count != tc.count || st.Dups != tc.dups || st.InOrder != tc.inOrder {
			t.Errorf("%v: got %+v", tc.seqs, st)
		}
		tr.reset()
		tr.add(9)
		if st := tr.get(); st.Count != 1 || !st.InOrder {
			t.Errorf("after reset: %+v", st)
		}
	}
}

func TestSeqPayload(t *testing.T) {
	for _, size := range []int{11, 100, 1000} {
		b := seqPayload(1234, size)
		if len(b) != size {
			t.Fatalf("size %d: got %d bytes", size, len(b))
		}
		if n, ok := parseSeq(b); !ok || n != 1234 {
			t.Fatalf("parseSeq = %d, %v", n, ok)
		}
	}
	if _, ok := parseSeq([]byte("12345")); ok {
		t.Fatal("parsed a short message")
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	med, p99 := percentiles(ds)
	if med != 50500*time.Microsecond || p99 != 99*time.Millisecond {
		t.Fatalf("median %v p99 %v", med, p99)
	}
}

func TestOptionsEnvRoundTrip(t *testing.T) {
	o := Options{Role: "offer", Kind: "chat", IP: "10.1.0.2", FailedTimeout: 10 * time.Second, Level: "enhanced"}
	k, v, _ := strings.Cut(o.Env(), "=")
	t.Setenv(k, v)
	got, ok, err := OptionsFromEnv()
	if !ok || err != nil || got != o {
		t.Fatalf("got %+v %v %v, want %+v", got, ok, err, o)
	}
	t.Setenv(k, "offer")
	if _, _, err := OptionsFromEnv(); err == nil {
		t.Fatal("accepted a malformed value")
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/rtcchat/rtcchat/ratchet
BenchmarkOneWay/pq-2   	     300	    151611 ns/op	        10.76 cpu-µs/msg	     7509 msgs/s	    3264 B/op	      15 allocs/op
pkg: github.com/rtcchat/rtcchat/rtc
BenchmarkConnect-2   	 10	 5000 ns/op
pkg: github.com/rtcchat/rtcchat/handshake/falcon
BenchmarkSign-2                	      20	   5096785 ns/op
BenchmarkSign-2 log line
`
	ms := ParseGoBench(strings.NewReader(out), "ratchet", "handshake/falcon")
	if len(ms) != 2 {
		t.Fatalf("got %d results: %+v", len(ms), ms)
	}
	if ms[0].Name != "BenchmarkOneWay/pq" || ms[0].Metrics["msgs/s"] != 7509 || ms[0].Metrics["ns/op"] != 151611 {
		t.Fatalf("first: %+v", ms[0])
	}
	if ms[1].Package != "github.com/rtcchat/rtcchat/handshake/falcon" || ms[1].Metrics["ns/op"] != 5096785 {
		t.Fatalf("second: %+v", ms[1])
	}
}
