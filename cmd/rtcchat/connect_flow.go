package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/rtcchat/rtcchat/rtc"
)

// fingerprintHex formats a DTLS certificate fingerprint as colon-separated hex.
func fingerprintHex(fp [rtc.FingerprintSize]byte) string {
	var b strings.Builder
	for i, x := range fp {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// interruptible returns a context cancelled by Ctrl-C.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt)
}
