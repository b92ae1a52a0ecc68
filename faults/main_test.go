package faults

import (
	"fmt"
	"os"
	"testing"

	"github.com/rtcchat/rtcchat/bench"
)

// TestMain turns the test binary into a chat child when the parent test
// re-executes it inside a namespace (bench.EnvChild set).
func TestMain(m *testing.M) {
	if o, ok, err := bench.OptionsFromEnv(); ok {
		if err == nil {
			err = bench.RunChild(o, os.Stdin, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fault child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
