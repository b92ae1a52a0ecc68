package chat

import (
	"testing"

	"github.com/rtcchat/rtcchat/rtc"
)

// BenchmarkFileTransfer moves a file through every layer (DTLS, inner TLS,
// ratchet, frames, disk) between two in-process peers on loopback.
func BenchmarkFileTransfer(b *testing.B) {
	alice, bob := newTestIdentity(b), newTestIdentity(b)
	a, c := connectPair(b, Config{RTC: rtc.LoopbackConfig(), Signer: alice}, Config{RTC: rtc.LoopbackConfig(), Signer: bob})
	const size = 32 << 20
	src, _ := writeRandomFile(b, b.TempDir(), size)
	dst := b.TempDir()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := a.OfferFile(src)
		if err != nil {
			b.Fatal(err)
		}
		waitEvent(b, c.Session, EventFileOffered)
		if err := c.AcceptFile(id, dst); err != nil {
			b.Fatal(err)
		}
		waitEvent(b, a.Session, EventFileDone)
	}
}
