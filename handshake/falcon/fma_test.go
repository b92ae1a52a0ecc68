package falcon

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestNoFusedMultiplyAdd compiles this package for arm64, where the Go
// compiler fuses x*y+z into one instruction (as it does for amd64 with
// GOAMD64=v3, ppc64le, s390x and riscv64), and checks that the code
// generated for the FFT, the tree, the sampler and signing contains no fused
// multiply-add: the explicit float64() conversions must keep every product
// separately rounded (see the package documentation). It first checks, on a
// two-line probe, that the compiler does fuse an unconverted a*b+c on the
// target, so that the check cannot pass vacuously.
func TestNoFusedMultiplyAdd(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go tool not found in PATH: %v", err)
	}
	// The files of the FFT, the tree, the sampler and signing are held to
	// the rule; fused instructions elsewhere in the package are reported in
	// the test log only.
	signingFile := regexp.MustCompile(`/(fft|tree|sampler|prng|sign)\.go:`)
	fused := regexp.MustCompile(`(?m)^\s+0x[0-9a-f]+ \d+ \([^)]*\)\s+(V?F(N)?M(ADD|SUB)\w*|WFMA\w*|WFMS\w*)\b`)
	probe := t.TempDir()
	if err := os.WriteFile(probe+"/go.mod", []byte("module probe\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "package probe\n\nfunc F(a, b, c float64) float64 { return a*b + c }\n"
	if err := os.WriteFile(probe+"/p.go", []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// darwin/arm64 is one of the CI's cross builds (make cross), so its
	// standard library is usually in the build cache already; a target whose
	// standard library is not cached costs a full cross build of it. The
	// same check was run by hand for linux/arm64, amd64 (GOAMD64=v3),
	// ppc64le, s390x and riscv64, with the same result.
	targets := [][]string{
		{"GOOS=darwin", "GOARCH=arm64"},
	}
	build := func(dir string, env []string, pkg string) string {
		t.Helper()
		cmd := exec.Command(goTool, "build", "-o", os.DevNull, "-gcflags=-S", pkg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v go build %s: %v\n%s", env, pkg, err, out)
		}
		return string(out)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range targets {
		name := strings.Join(env, " ")
		if !fused.MatchString(build(probe, env, ".")) {
			t.Errorf("%s: the probe a*b+c was not fused; the pattern does not match this compiler's output", name)
			continue
		}
		var mine, others []string
		for _, m := range fused.FindAllString(build(wd, env, "."), -1) {
			if signingFile.MatchString(m) {
				mine = append(mine, m)
			} else {
				others = append(others, m)
			}
		}
		if len(mine) > 0 {
			t.Errorf("%s: fused multiply-add in the signing code:\n%s", name, strings.Join(mine[:min(len(mine), 5)], "\n"))
		}
		if len(others) > 0 {
			t.Logf("%s: note: %d fused multiply-adds outside the signing code, e.g.\n%s", name, len(others), strings.Join(others[:min(len(others), 3)], "\n"))
		}
	}
}
