package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestNoGoroutineLeft: Close waits for the background work of a session and
// drops its unused pre-generated keys; no goroutine is left behind.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, l := range modeLevels {
		a, b := newPair(t, l.cfg)
		for i := range 5 {
			mustDecrypt(t, b, mustEncrypt(t, a, fmt.Sprint(i)), fmt.Sprint(i))
			mustDecrypt(t, a, mustEncrypt(t, b, fmt.Sprint(i)), fmt.Sprint(i))
		}
		// b's last step is still pending; a's pool may be filling.
		mustDecrypt(t, b, mustEncrypt(t, a, "last"), "last")
		for _, s := range []*Session{a, b} {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s.st.pend != nil || s.pool != nil {
				t.Fatalf("%s: Close left a pending step or a key pool", l.name)
			}
		}
	}
	// A goroutine that has signalled its end may take a moment to exit.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines before, %d after closing every session", before, n)
	}
}

// TestKeysAheadPool: with KeysAhead, the X25519 key a step uses was
// generated before the step (it comes from the pool), only the side that
// generates ML-KEM keys keeps one ready, and nothing pre-generated is
// serialised.
func TestKeysAheadPool(t *testing.T) {
	a, b := newPair(t, Config{PQ: true, KeysAhead: true})
	for i := range 3 {
		mustDecrypt(t, b, mustEncrypt(t, a, fmt.Sprint(i)), fmt.Sprint(i))
		mustDecrypt(t, a, mustEncrypt(t, b, fmt.Sprint(i)), fmt.Sprint(i))
	}
	settle(t, a)
	settle(t, b)
	waitSlot := func(s *Session, dk bool) *poolSlot {
		t.Helper()
		s.mu.Lock()
		defer s.mu.Unlock()
		deadline := time.Now().Add(5 * time.Second)
		for {
			s.pool.mu.Lock()
			sl := s.pool.x
			if dk {
				sl = s.pool.dk
			}
			s.pool.mu.Unlock()
			if sl != nil || time.Now().After(deadline) {
				if sl != nil {
					sl.t.wait()
				}
				return sl
			}
			time.Sleep(time.Millisecond)
		}
	}
	next := waitSlot(b, false)
	if next == nil || next.err != nil {
		t.Fatal("no X25519 key ready in the pool")
	}
	if waitSlot(a, true) == nil {
		t.Fatal("the initiator (which generates ML-KEM keys) has none ready")
	}
	b.mu.Lock()
	hasDK := b.pool.dk != nil
	b.mu.Unlock()
	if hasDK {
		t.Fatal("the responder, which never generated an ML-KEM key, keeps one ready")
	}
	st := snapshot(t, b)
	if bytes.Contains(st, next.x.priv[:]) || bytes.Contains(st, next.x.pub[:]) {
		t.Fatal("the pre-generated key is in the serialised state")
	}
	// b's next step uses exactly that key.
	mustDecrypt(t, b, mustEncrypt(t, a, "step"), "step")
	settle(t, b)
	if b.st.dhs != next.x {
		t.Fatal("the step did not use the pre-generated key")
	}
}

// TestGenerateKeys: NewInitiator uses pre-generated key pairs exactly once.
func TestGenerateKeys(t *testing.T) {
	for _, pq := range []bool{false, true} {
		t.Run(fmt.Sprint("pq=", pq), func(t *testing.T) {
			keys, err := GenerateKeys(pq)
			if err != nil {
				t.Fatal(err)
			}
			x, dk := keys.x, keys.dk
			bobKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
			cfg := Config{PQ: pq, Keys: keys}
			a, err := NewInitiator(cfg, testSecret, testAD, bobKey.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewResponder(cfg, testSecret, testAD, bobKey)
			if err != nil {
				t.Fatal(err)
			}
			if a.st.dhs != x || pq && a.st.myDK != dk {
				t.Fatal("NewInitiator did not use the supplied keys")
			}
			if a.st.cfg.Keys != nil || b.st.cfg.Keys != nil {
				t.Fatal("the session keeps a reference to Config.Keys")
			}
			mustDecrypt(t, b, mustEncrypt(t, a, "hi"), "hi")
			mustDecrypt(t, a, mustEncrypt(t, b, "ho"), "ho")
			if _, err := NewInitiator(cfg, testSecret, testAD, bobKey.PublicKey()); err == nil {
				t.Fatal("Config.Keys used twice")
			}
			wiped, _ := GenerateKeys(pq)
			wx, wdk := wiped.x, wiped.dk
			wiped.Wipe()
			if wx.priv != [32]byte{} || wdk != nil && wdk.seed != [kemSeedSize]byte{} {
				t.Fatal("Wipe left the unused keys' secrets in memory")
			}
			if _, err := NewInitiator(Config{PQ: pq, Keys: wiped}, testSecret, testAD, bobKey.PublicKey()); err == nil {
				t.Fatal("wiped Config.Keys used")
			}
		})
	}
	// Keys without an ML-KEM pair at the PQ level: NewInitiator makes one.
	keys, _ := GenerateKeys(false)
	a, b := func() (*Session, *Session) {
		bobKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
		a, err := NewInitiator(Config{PQ: true, Keys: keys}, testSecret, testAD, bobKey.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewResponder(Config{PQ: true}, testSecret, testAD, bobKey)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}()
	mustDecrypt(t, b, mustEncrypt(t, a, "hi"), "hi")
	if a.st.myDK == nil {
		t.Fatal("no ML-KEM key generated")
	}
}

// failingKeys fails to generate X25519 keys after the first ok ones.
type failingKeys struct {
	systemKeys
	ok int
}

var errNoKeys = errors.New("test: key source exhausted")

func (f *failingKeys) newX25519() (*xKey, error) {
	if f.ok == 0 {
		return nil, errNoKeys
	}
	f.ok--
	return generateXKey()
}

// TestBackgroundError: a key source failure in the sending half of a step
// fails Decrypt with Synchronous (state unchanged), and otherwise the next
// Encrypt (and MarshalBinary), since Decrypt has returned by then.
func TestBackgroundError(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprint("synchronous=", sync), func(t *testing.T) {
			bobKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
			cfg := Config{PQ: true, Synchronous: sync}
			a, err := NewInitiator(cfg, testSecret, testAD, bobKey.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			b, err := newResponder(cfg, testSecret, testAD, bobKey, &failingKeys{})
			if err != nil {
				t.Fatal(err)
			}
			m := mustEncrypt(t, a, "x")
			if sync {
				if err := mustReject(t, b, m); !errors.Is(err, errNoKeys) {
					t.Fatalf("Decrypt: %v, want the key source's error", err)
				}
				return
			}
			mustDecrypt(t, b, m, "x")
			if _, err := b.Encrypt([]byte("y")); !errors.Is(err, errNoKeys) {
				t.Fatalf("Encrypt: %v, want the key source's error", err)
			}
			if _, err := b.MarshalBinary(); !errors.Is(err, errNoKeys) {
				t.Fatalf("MarshalBinary: %v, want the key source's error", err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
