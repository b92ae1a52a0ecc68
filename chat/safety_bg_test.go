package chat

import (
	"testing"

	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/rtc"
)

// The safety number is computed in the background (it is not needed before
// the chat is ready); Info must still return the full, agreed number.
func TestSafetyNumberComputedInBackground(t *testing.T) {
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	a, b := connectPair(t, Config{RTC: rtc.LoopbackConfig(), Signer: alice}, Config{RTC: rtc.LoopbackConfig(), Signer: bob})
	want := handshake.SafetyNumber(alice.Public(), bob.Public())
	for _, c := range []*Conversation{a, b, a} { // a twice: the second call must not wait again
		if got := c.Info().SafetyNumber; got != want {
			t.Fatalf("safety number %q, want %q", got, want)
		}
	}
}
