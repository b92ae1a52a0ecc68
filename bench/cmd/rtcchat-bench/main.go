// Command rtcchat-bench measures rtcchat between two processes on loopback
// against raw pion measured in the same run, prints a table and writes
// bench.json (issue 8). `make bench` runs it through scripts/bench.sh.
//
// It re-executes itself for the two sides of each connection (see package
// bench); the children use the chat package directly, at the default
// security level, with identities made before anything is timed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rtcchat/rtcchat/bench"
	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/internal/gctune"
)

func main() {
	if o, ok, err := bench.OptionsFromEnv(); ok {
		// RTCCHAT_BENCH_CPUPROFILE=DIR writes each child's CPU profile
		// to DIR/KIND-ROLE-PID.prof (for go tool pprof).
		if dir := os.Getenv("RTCCHAT_BENCH_CPUPROFILE"); dir != "" && err == nil {
			f, perr := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.prof", o.Kind, o.Role, os.Getpid())))
			if perr == nil {
				pprof.StartCPUProfile(f)
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
		if err == nil {
			err = bench.RunChild(o, os.Stdin, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "rtcchat-bench child:", err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
		return
	}
	out := flag.String("out", "bench.json", "where to write the JSON report")
	gobench := flag.String("gobench", "", "`go test -bench` output to summarise (ratchet, handshake, falcon)")
	connects := flag.Int("connects", 7, "connections per kind for the connect time")
	msgs := flag.Int("msgs", 5000, "100-byte messages per round")
	rounds := flag.Int("rounds", 3, "rounds of the message and bulk measurements, alternating kinds")
	rtts := flag.Int("rtts", 400, "round trips per kind")
	bulkMB := flag.Int("bulk", 64, "MiB per bulk transfer")
	flag.Parse()
	r := &runner{}
	rep, err := r.run(*connects, *msgs, *rounds, *rtts, int64(*bulkMB)<<20)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtcchat-bench:", err)
		os.Exit(1)
	}
	if *gobench != "" {
		if f, err := os.Open(*gobench); err == nil {
			rep.Micro = bench.ParseGoBench(f, "ratchet", "handshake", "handshake/falcon")
			f.Close()
		} else {
			fmt.Fprintln(os.Stderr, "rtcchat-bench: micro-benchmarks:", err)
		}
	}
	rep.print(os.Stdout)
	j, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(*out, append(j, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "rtcchat-bench:", err)
		os.Exit(1)
	}
	fmt.Printf("\nwritten to %s\n", *out)
}

// report is bench.json. The first keys are the ones issue 8 names.
type report struct {
	ConnectMS    float64 `json:"connect_ms"`
	ConnectMSRaw float64 `json:"connect_ms_raw"`
	MsgsPerS     float64 `json:"msgs_per_s"`
	MsgsPerSRaw  float64 `json:"msgs_per_s_raw"`
	BulkMBs      float64 `json:"bulk_mb_s"`
	BulkMBsRaw   float64 `json:"bulk_mb_s_raw"`
	RTTms        float64 `json:"rtt_ms"`
	RTTmsRaw     float64 `json:"rtt_ms_raw"`
	RSSMB        float64 `json:"rss_mb"`

	// The same chat processes with Go's default garbage collector instead
	// of the rtcchat command's setting (internal/gctune), for comparison.
	MsgsPerSGoGC float64   `json:"msgs_per_s_go_default_gc"`
	BulkMBsGoGC  float64   `json:"bulk_mb_s_go_default_gc"`
	MsgsGoGCRuns []float64 `json:"msgs_per_s_go_default_gc_runs"`
	BulkGoGCRuns []float64 `json:"bulk_mb_s_go_default_gc_runs"`
	GC           string    `json:"gc"`

	RTTp99ms         float64                 `json:"rtt_p99_ms"`
	RTTp99msRaw      float64                 `json:"rtt_p99_ms_raw"`
	MsgsPerSRawUnack float64                 `json:"msgs_per_s_raw_unacked"`
	RSSMBRaw         float64                 `json:"rss_mb_raw"`
	ConnectMSRuns    []float64               `json:"connect_ms_runs"`
	ConnectMSRawRuns []float64               `json:"connect_ms_raw_runs"`
	MsgsPerSRuns     []float64               `json:"msgs_per_s_runs"`
	MsgsPerSRawRuns  []float64               `json:"msgs_per_s_raw_runs"`
	BulkMBsRuns      []float64               `json:"bulk_mb_s_runs"`
	BulkMBsRawRuns   []float64               `json:"bulk_mb_s_raw_runs"`
	Level            string                  `json:"level"`
	ByLevel          map[string]levelFigures `json:"by_level"`
	Ratios           map[string]float64      `json:"ratios"`
	Targets          map[string]string       `json:"targets"`
	Met              map[string]bool         `json:"met"`
	Time             string                  `json:"time"`
	LoadAvg          string                  `json:"loadavg"`
	Micro            []bench.Micro           `json:"micro,omitempty"`
}

// levelFigures are the chat's figures at one security level.
type levelFigures struct {
	ConnectMS float64 `json:"connect_ms"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	RTTms     float64 `json:"rtt_ms"`
	RTTp99ms  float64 `json:"rtt_p99_ms"`
}

type runner struct{}

func (r *runner) startLevel(role, kind, level string, env ...string) (*bench.Proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(append(os.Environ(), bench.Options{Role: role, Kind: kind, Level: level}.Env()), env...)
	return bench.Start(kind+"-"+role, cmd, os.Stderr)
}

func (r *runner) pair(kind string) (off, ans *bench.Proc, d time.Duration, err error) {
	return r.pairLevel(kind, "")
}

func (r *runner) pairLevel(kind, level string, env ...string) (off, ans *bench.Proc, d time.Duration, err error) {
	if off, err = r.startLevel("offer", kind, level, env...); err != nil {
		return nil, nil, 0, err
	}
	if ans, err = r.startLevel("answer", kind, level, env...); err != nil {
		off.Kill()
		return nil, nil, 0, err
	}
	d, err = bench.Connect(off, ans, 2*time.Minute)
	if err != nil {
		off.Kill()
		ans.Kill()
		return nil, nil, 0, fmt.Errorf("%s connect: %w", kind, err)
	}
	return off, ans, d, nil
}

func (r *runner) run(connects, msgs, rounds, rtts int, bulk int64) (*report, error) {
	rep := &report{Level: handshake.DefaultLevel.String(), Time: time.Now().UTC().Format(time.RFC3339), LoadAvg: loadavg()}
	kinds := []string{"chat", "raw"}
	step := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...) }

	step("connect time, %d two-process connections per kind", connects)
	for i := 0; i < connects; i++ {
		for _, k := range order(kinds, i) {
			off, ans, d, err := r.pair(k)
			if err != nil {
				return nil, err
			}
			if k == "chat" {
				rep.ConnectMSRuns = append(rep.ConnectMSRuns, msf(d))
			} else {
				rep.ConnectMSRawRuns = append(rep.ConnectMSRawRuns, msf(d))
			}
			off.Quit(5 * time.Second)
			ans.Quit(5 * time.Second)
		}
	}
	rep.ConnectMS, rep.ConnectMSRaw = median(rep.ConnectMSRuns), median(rep.ConnectMSRawRuns)

	procs := map[string][2]*bench.Proc{}
	for _, k := range kinds {
		off, ans, _, err := r.pair(k)
		if err != nil {
			return nil, err
		}
		defer off.Quit(5 * time.Second)
		defer ans.Quit(5 * time.Second)
		procs[k] = [2]*bench.Proc{off, ans}
	}
	// rtcchat as the command runs it (internal/gctune) is "chat"; the same
	// with Go's default collector is measured beside it for messages and
	// bulk, where the collector matters.
	rep.GC = "rtcchat: GOGC=" + fmt.Sprint(gctune.Percent) + ", GOMEMLIMIT=" + fmt.Sprint(gctune.MemoryLimit>>20) + "MiB (as the rtcchat command); raw pion: Go's defaults"
	{
		off, ans, _, err := r.pairLevel("chat", "", bench.EnvGoDefaultGC+"=1")
		if err != nil {
			return nil, err
		}
		defer off.Quit(5 * time.Second)
		defer ans.Quit(5 * time.Second)
		procs[chatGoGC] = [2]*bench.Proc{off, ans}
	}
	measured := append(kinds, chatGoGC)
	const long = 10 * time.Minute

	step("%d acknowledged 100-byte messages one way, %d rounds", msgs, rounds)
	for i := 0; i < rounds; i++ {
		for _, k := range order(measured, i) {
			v, err := procs[k][0].CallFloats(fmt.Sprintf("send %d 100", msgs), long)
			if err != nil {
				return nil, err
			}
			switch k {
			case "chat":
				rep.MsgsPerSRuns = append(rep.MsgsPerSRuns, float64(msgs)/v[0])
			case chatGoGC:
				rep.MsgsGoGCRuns = append(rep.MsgsGoGCRuns, float64(msgs)/v[0])
			default:
				rep.MsgsPerSRawRuns = append(rep.MsgsPerSRawRuns, float64(msgs)/v[0])
			}
		}
	}
	rep.MsgsPerS, rep.MsgsPerSRaw, rep.MsgsPerSGoGC = median(rep.MsgsPerSRuns), median(rep.MsgsPerSRawRuns), median(rep.MsgsGoGCRuns)
	var unack []float64
	for i := 0; i < rounds; i++ {
		v, err := procs["raw"][0].CallFloats(fmt.Sprintf("sendunacked %d 100", msgs), long)
		if err != nil {
			return nil, err
		}
		unack = append(unack, float64(msgs)/v[0])
	}
	rep.MsgsPerSRawUnack = median(unack)
	for _, k := range measured {
		n, dups, inOrder, _, err := procs[k][1].Stats(time.Minute)
		if err != nil {
			return nil, err
		}
		want := msgs * rounds
		if k == "raw" {
			want *= 2
		}
		if n != want || dups != 0 || !inOrder {
			return nil, fmt.Errorf("%s: receiver got %d of %d messages, %d duplicates, in order %v", k, n, want, dups, inOrder)
		}
	}

	step("round trips of a 100-byte message, %d per kind", rtts)
	for _, k := range kinds {
		v, err := procs[k][0].CallFloats(fmt.Sprintf("rtt %d 100", rtts), long)
		if err != nil {
			return nil, err
		}
		if k == "chat" {
			rep.RTTms, rep.RTTp99ms = v[0], v[1]
		} else {
			rep.RTTmsRaw, rep.RTTp99msRaw = v[0], v[1]
		}
	}

	step("bulk: %d MiB per transfer (chat: a file), %d rounds", bulk>>20, rounds)
	for i := 0; i < rounds; i++ {
		for _, k := range order(measured, i) {
			v, err := procs[k][0].CallFloats(fmt.Sprintf("bulk %d", bulk), long)
			if err != nil {
				return nil, err
			}
			mbs := float64(bulk) / 1e6 / v[0]
			switch k {
			case "chat":
				rep.BulkMBsRuns = append(rep.BulkMBsRuns, mbs)
			case chatGoGC:
				rep.BulkGoGCRuns = append(rep.BulkGoGCRuns, mbs)
			default:
				rep.BulkMBsRawRuns = append(rep.BulkMBsRawRuns, mbs)
			}
		}
	}
	rep.BulkMBs, rep.BulkMBsRaw, rep.BulkMBsGoGC = median(rep.BulkMBsRuns), median(rep.BulkMBsRawRuns), median(rep.BulkGoGCRuns)
	for _, k := range []string{"chat", chatGoGC} {
		if _, _, _, files, err := procs[k][1].Stats(time.Minute); err != nil || files != rounds {
			return nil, fmt.Errorf("%s receiver completed %d of %d files (%v)", k, files, rounds, err)
		}
	}
	for _, k := range kinds {
		for _, p := range procs[k] {
			v, err := p.CallFloats("rss", time.Minute)
			if err != nil {
				return nil, err
			}
			if k == "chat" {
				rep.RSSMB = math.Max(rep.RSSMB, v[0])
			} else {
				rep.RSSMBRaw = math.Max(rep.RSSMBRaw, v[0])
			}
		}
	}
	// The same figures at the lower levels show what each layer costs:
	// standard = DTLS + classic ratchet, enhanced = + inner TLS 1.3,
	// quantum = + ML-KEM in the handshake and the ML-KEM ratchet.
	rep.ByLevel = map[string]levelFigures{rep.Level: {rep.ConnectMS, rep.MsgsPerS, rep.RTTms, rep.RTTp99ms}}
	for _, l := range []handshake.Level{handshake.LevelStandard, handshake.LevelEnhanced, handshake.LevelQuantum} {
		if l.String() == rep.Level {
			continue
		}
		step("level %s: connect, messages, round trips", l)
		var lf levelFigures
		var cs []float64
		for i := 0; i < connects; i++ {
			off, ans, d, err := r.pairLevel("chat", l.String())
			if err != nil {
				return nil, err
			}
			cs = append(cs, msf(d))
			if i < connects-1 {
				off.Quit(5 * time.Second)
				ans.Quit(5 * time.Second)
				continue
			}
			v, err := off.CallFloats(fmt.Sprintf("send %d 100", msgs), long)
			if err != nil {
				return nil, err
			}
			lf.MsgsPerS = float64(msgs) / v[0]
			if v, err = off.CallFloats(fmt.Sprintf("rtt %d 100", rtts), long); err != nil {
				return nil, err
			}
			lf.RTTms, lf.RTTp99ms = v[0], v[1]
			off.Quit(5 * time.Second)
			ans.Quit(5 * time.Second)
		}
		lf.ConnectMS = median(cs)
		rep.ByLevel[l.String()] = lf
	}

	rep.LoadAvg += " -> " + loadavg()
	rep.Ratios = map[string]float64{
		"connect":             rep.ConnectMS / rep.ConnectMSRaw,
		"msgs":                rep.MsgsPerS / rep.MsgsPerSRaw,
		"msgs_go_default_gc":  ratio(rep.MsgsPerSGoGC, rep.MsgsPerSRaw),
		"bulk_go_default_gc":  ratio(rep.BulkMBsGoGC, rep.BulkMBsRaw),
		"msgs_vs_unacked_raw": rep.MsgsPerS / rep.MsgsPerSRawUnack,
		"bulk":                rep.BulkMBs / rep.BulkMBsRaw,
		"rtt_delta_ms":        rep.RTTms - rep.RTTmsRaw,
	}
	rep.Targets = map[string]string{
		"connect": "<= 2.0", "msgs": ">= 0.7", "bulk": ">= 1.0", "rtt_delta_ms": "<= 1.0", "rss_mb": "<= 60",
	}
	rep.Met = map[string]bool{
		"connect":      rep.Ratios["connect"] <= 2.0,
		"msgs":         rep.Ratios["msgs"] >= 0.7,
		"bulk":         rep.Ratios["bulk"] >= 1.0,
		"rtt_delta_ms": rep.Ratios["rtt_delta_ms"] <= 1.0,
		"rss_mb":       rep.RSSMB <= 60,
	}
	return rep, nil
}

// order alternates which kind goes first, so that drifting load on a shared
// machine favours neither.
// order alternates which kind goes first from one round to the next.
func order(k []string, i int) []string {
	if i%2 == 0 {
		return k
	}
	r := append([]string(nil), k...)
	slices.Reverse(r)
	return r
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// chatGoGC names the chat pair that runs with Go's default collector.
const chatGoGC = "chat-go-default-gc"

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (rep *report) print(w *os.File) {
	mark := func(k string) string {
		if rep.Met[k] {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "\nrtcchat vs raw pion, two processes on loopback (level %s), %s, load average %s\n\n", rep.Level, rep.Time, rep.LoadAvg)
	fmt.Fprintf(w, "%-38s %12s %12s %10s %8s %7s\n", "measurement", "rtcchat", "raw pion", "ratio", "target", "")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 92))
	fmt.Fprintf(w, "%-38s %12.2f %12.2f %10.2f %8s %7s\n", "connect to secure chat ready (ms, med)", rep.ConnectMS, rep.ConnectMSRaw, rep.Ratios["connect"], "<= 2.0", mark("connect"))
	fmt.Fprintf(w, "%-38s %12.0f %12.0f %10.2f %8s %7s\n", "100 B msgs/s, acknowledged", rep.MsgsPerS, rep.MsgsPerSRaw, rep.Ratios["msgs"], ">= 0.7", mark("msgs"))
	fmt.Fprintf(w, "%-38s %12.0f %12.0f %10.2f %8s %7s\n", "  (raw pion without acks)", rep.MsgsPerS, rep.MsgsPerSRawUnack, rep.Ratios["msgs_vs_unacked_raw"], "", "")
	fmt.Fprintf(w, "%-38s %12.1f %12.1f %10.2f %8s %7s\n", "bulk MB/s (chat: file; raw: 16 KiB)", rep.BulkMBs, rep.BulkMBsRaw, rep.Ratios["bulk"], ">= 1.0", mark("bulk"))
	fmt.Fprintf(w, "%-38s %12.0f %12.0f %10.2f\n", "  msgs/s, rtcchat on Go's default GC", rep.MsgsPerSGoGC, rep.MsgsPerSRaw, ratio(rep.MsgsPerSGoGC, rep.MsgsPerSRaw))
	fmt.Fprintf(w, "%-38s %12.1f %12.1f %10.2f\n", "  bulk MB/s, rtcchat on Go's default GC", rep.BulkMBsGoGC, rep.BulkMBsRaw, ratio(rep.BulkMBsGoGC, rep.BulkMBsRaw))
	fmt.Fprintf(w, "%-38s %12.3f %12.3f %+10.3f %8s %7s\n", "RTT 100 B median (ms; delta)", rep.RTTms, rep.RTTmsRaw, rep.Ratios["rtt_delta_ms"], "<= +1", mark("rtt_delta_ms"))
	fmt.Fprintf(w, "%-38s %12.3f %12.3f %+10.3f %8s\n", "RTT 100 B p99 (ms; delta)", rep.RTTp99ms, rep.RTTp99msRaw, rep.RTTp99ms-rep.RTTp99msRaw, "")
	fmt.Fprintf(w, "%-38s %12.1f %12.1f %10s %8s %7s\n", "peak RSS of one process (MB)", rep.RSSMB, rep.RSSMBRaw, "", "<= 60", mark("rss_mb"))
	fmt.Fprintf(w, "\ngarbage collector: %s\n", rep.GC)
	fmt.Fprintf(w, "\nruns: connect %v / %v ms; msgs/s %v / %v; MB/s %v / %v\n",
		round(rep.ConnectMSRuns, 2), round(rep.ConnectMSRawRuns, 2), round(rep.MsgsPerSRuns, 0), round(rep.MsgsPerSRawRuns, 0), round(rep.BulkMBsRuns, 1), round(rep.BulkMBsRawRuns, 1))
	fmt.Fprintf(w, "\nrtcchat by security level (what each layer costs; raw pion: connect %.2f ms, %.0f msgs/s, RTT %.3f ms)\n", rep.ConnectMSRaw, rep.MsgsPerSRaw, rep.RTTmsRaw)
	fmt.Fprintf(w, "  %-10s %12s %12s %12s %12s\n", "level", "connect ms", "msgs/s", "RTT med ms", "RTT p99 ms")
	for _, l := range []string{"standard", "enhanced", "quantum"} {
		if f, ok := rep.ByLevel[l]; ok {
			fmt.Fprintf(w, "  %-10s %12.2f %12.0f %12.3f %12.3f\n", l, f.ConnectMS, f.MsgsPerS, f.RTTms, f.RTTp99ms)
		}
	}
	if len(rep.Micro) > 0 {
		fmt.Fprintf(w, "\nmicro-benchmarks (go test -bench, same run)\n")
		pkg := ""
		for _, m := range rep.Micro {
			if m.Package != pkg {
				pkg = m.Package
				fmt.Fprintf(w, "  %s\n", strings.TrimPrefix(pkg, "github.com/rtcchat/rtcchat/"))
			}
			fmt.Fprintf(w, "    %-44s %s\n", strings.TrimPrefix(m.Name, "Benchmark"), metrics(m.Metrics))
		}
	}
}

func metrics(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k == "B/op" || k == "allocs/op" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == "ns/op") != (keys[j] == "ns/op") {
			return keys[i] == "ns/op"
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		v := m[k]
		if k == "ns/op" {
			parts = append(parts, humanNs(v))
			continue
		}
		parts = append(parts, fmt.Sprintf("%.4g %s", v, k))
	}
	return strings.Join(parts, ", ")
}

func humanNs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms/op", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs/op", v/1e3)
	}
	return fmt.Sprintf("%.0f ns/op", v)
}

func round(v []float64, digits int) []float64 {
	p := math.Pow(10, float64(digits))
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(x*p) / p
	}
	return out
}

// loadavg is the 1-minute load average: figures from a busy machine are
// worth less, and the report says so.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "n/a"
	}
	return f[0]
}
