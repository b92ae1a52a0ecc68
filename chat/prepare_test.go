package chat

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/ratchet"
	"github.com/rtcchat/rtcchat/rtc"
)

// preparedParts waits for p's background work and returns what it made
// (the ephemeral keys also once a handshake took them: the answering side
// starts its handshake in NewAnswer).
func preparedParts(t *testing.T, p *prepared) (key ed25519.PrivateKey, eph *handshake.Ephemerals) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("preparation did not finish")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cert != nil {
		key = p.cert.PrivateKey.(ed25519.PrivateKey)
	}
	if p.eph != nil {
		return key, p.eph
	}
	return key, p.given
}

func zero(b []byte) bool { return len(b) > 0 && bytes.Equal(b, make([]byte, len(b))) }

// The keys and certificate made while the blobs are exchanged are the ones
// the connection uses (taken by the handshake, certificate key wiped after
// the inner TLS handshake), at every level.
func TestConnectUsesPreparedKeys(t *testing.T) {
	for _, level := range []handshake.Level{handshake.LevelStandard, handshake.LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			alice, bob := newTestIdentity(t), newTestIdentity(t)
			cfgA := Config{RTC: rtc.LoopbackConfig(), Signer: alice, MinLevel: level, MaxLevel: level}
			cfgB := Config{RTC: rtc.LoopbackConfig(), Signer: bob, MinLevel: level, MaxLevel: level}
			offer, err := NewOffer(ctx, cfgA)
			if err != nil {
				t.Fatal(err)
			}
			defer offer.Close()
			answer, err := NewAnswer(ctx, cfgB, offer.Blob())
			if err != nil {
				t.Fatal(err)
			}
			defer answer.Close()
			// The answer exists only once the answering side has prepared
			// everything and its handshake has signed (PROTOCOL.md §2.8).
			select {
			case <-answer.prep.done:
			default:
				t.Fatal("NewAnswer returned before its preparation ended")
			}
			keyA, ephA := preparedParts(t, offer.prep)
			// The offering side signed σ_I over its offer meanwhile.
			if !ephA.Presigned() {
				t.Fatal("the offering side did not sign σ_I ahead")
			}
			keyB, ephB := preparedParts(t, answer.prep)
			if ephA == nil || ephB == nil || ephA.Role() != handshake.Initiator || ephB.Role() != handshake.Responder {
				t.Fatal("no ephemeral keys prepared")
			}
			offer.prep.mu.Lock()
			rk, rkPQ := offer.prep.rkeys, offer.prep.rkeysPQ
			offer.prep.mu.Unlock()
			if rk == nil || rkPQ != (level == handshake.LevelQuantum) || answer.prep.rkeys != nil {
				t.Fatalf("first ratchet keys: prepared %v (PQ %v) on the offering side, %v on the answering side", rk != nil, rkPQ, answer.prep.rkeys != nil)
			}
			// Only the offering side, the inner TLS server, has a certificate.
			if (keyA == nil) != (level == handshake.LevelStandard) || keyB != nil {
				t.Fatalf("certificates prepared: %v %v at level %v", keyA != nil, keyB != nil, level)
			}
			ch := make(chan error, 1)
			go func() {
				c, err := answer.Connect(ctx)
				if err == nil {
					t.Cleanup(func() { c.Close() })
				}
				ch <- err
			}()
			a, err := offer.Connect(ctx, answer.Blob())
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := <-ch; err != nil {
				t.Fatal(err)
			}
			// Taken by the handshakes (the Offer and Answer are still open).
			if !ephA.Spent() || !ephB.Spent() || offer.prep.eph != nil || answer.prep.eph != nil {
				t.Fatal("prepared ephemeral keys were not used")
			}
			if offer.prep.rkeys != nil {
				t.Fatal("prepared ratchet keys were not handed to the ratchet")
			}
			// Handed to NewInitiator, which took them: they serve no other session.
			if _, err := ratchet.NewInitiator(ratchet.Config{PQ: rkPQ, Keys: rk}, make([]byte, 64), []byte("ad"), nil); err == nil {
				t.Fatal("the prepared ratchet keys were not used (a second session could take them)")
			}
			if level > handshake.LevelStandard && !zero(keyA) {
				t.Fatal("prepared certificate keys not used or not wiped")
			}
		})
	}
}

// Closing an Offer or Answer that never connected drops what it prepared,
// also when the preparation is still running.
func TestClosePreparedNeverConnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	offer, err := NewOffer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: alice})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := NewAnswer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: bob}, offer.Blob())
	if err != nil {
		t.Fatal(err)
	}
	keyA, ephA := preparedParts(t, offer.prep)
	if keyA == nil || ephA == nil {
		t.Fatal("nothing prepared")
	}
	offer.Close()
	if !zero(keyA) || !ephA.Spent() || offer.prep.cert != nil || offer.prep.eph != nil || offer.prep.rkeys != nil {
		t.Fatal("Close left prepared secrets behind")
	}
	if offer.prep.takeCert(ctx) != nil || offer.prep.takeEphemerals(ctx) != nil {
		t.Fatal("a closed preparation still hands out keys")
	}
	// Close at once: destroy waits for the background work, which then
	// keeps nothing.
	answer.Close()
	if answer.prep.cert != nil || answer.prep.eph != nil {
		t.Fatal("Close during preparation left secrets behind")
	}
	select {
	case <-answer.prep.done:
	default:
		t.Fatal("Close returned while the preparation was still running")
	}
}
