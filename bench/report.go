package bench

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Micro is one benchmark result from `go test -bench` output: ns/op and every
// other metric it reported (B/op, allocs/op, MB/s and custom metrics).
type Micro struct {
	Package string             `json:"package"`
	Name    string             `json:"name"`
	Metrics map[string]float64 `json:"metrics"`
}

// ParseGoBench reads `go test -bench` output and returns the results of the
// packages whose import path ends in one of suffixes (all when none given).
func ParseGoBench(r io.Reader, suffixes ...string) []Micro {
	var out []Micro
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if p, ok := strings.CutPrefix(l, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(l, "Benchmark") || !wanted(pkg, suffixes) {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a log line, not a result
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // drop the GOMAXPROCS suffix
			}
		}
		m := Micro{Package: pkg, Name: name, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m.Metrics[f[i+1]] = v
		}
		out = append(out, m)
	}
	return out
}

func wanted(pkg string, suffixes []string) bool {
	if len(suffixes) == 0 {
		return true
	}
	for _, s := range suffixes {
		if pkg == s || strings.HasSuffix(pkg, "/"+s) {
			return true
		}
	}
	return false
}
