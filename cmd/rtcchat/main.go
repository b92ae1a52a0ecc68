// Command rtcchat is a serverless, post-quantum, end-to-end encrypted
// peer-to-peer messenger. One side runs `rtcchat offer`, the other
// `rtcchat answer <blob>`, and after the blobs are swapped they talk directly.
package main

import (
	"fmt"
	"os"

	"github.com/rtcchat/rtcchat/internal/gctune"
)

func main() {
	gctune.Apply()
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "rtcchat:", err)
		os.Exit(1)
	}
}
