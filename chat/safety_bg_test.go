package chat

import (
	"sync"
	"testing"

	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/rtc"
)

// The safety number is computed on first need, not during the set-up; Info
// must still return the full, agreed number, from concurrent callers too.
func TestSafetyNumberComputedLazily(t *testing.T) {
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	a, b := connectPair(t, Config{RTC: rtc.LoopbackConfig(), Signer: alice}, Config{RTC: rtc.LoopbackConfig(), Signer: bob})
	want := handshake.SafetyNumber(alice.Public(), bob.Public())
	for _, c := range []*Conversation{a, b} {
		if c.info.SafetyNumber != "" {
			t.Fatal("the safety number was computed during the set-up")
		}
	}
	var wg sync.WaitGroup
	for _, c := range []*Conversation{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := c.Info().SafetyNumber; got != want {
				t.Errorf("safety number %q, want %q", got, want)
			}
		}()
	}
	wg.Wait()
	if got := a.Info().SafetyNumber; got != want { // computed once, kept
		t.Fatalf("safety number %q, want %q", got, want)
	}
}
