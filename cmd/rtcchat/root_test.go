package main

import (
	"bytes"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("rtcchat %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestVersion(t *testing.T) {
	if out := run(t, "version"); !strings.HasPrefix(out, "rtcchat ") {
		t.Fatalf("version output %q", out)
	}
}

func TestHelpAndCompletion(t *testing.T) {
	if out := run(t, "--help"); !strings.Contains(out, "rtcchat offer") {
		t.Fatalf("help does not explain the flow:\n%s", out)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := run(t, "completion", sh); len(out) < 100 {
			t.Fatalf("completion %s too short: %q", sh, out)
		}
	}
}
