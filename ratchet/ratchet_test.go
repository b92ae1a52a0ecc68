package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestChainKDFVector checks KDF_CK against the Double Ratchet chain-key
// vector asserted by libsignal (testdata copy of
// shared/vectors/signal-doubleratchet-chainkey.json).
func TestChainKDFVector(t *testing.T) {
	raw, err := os.ReadFile("testdata/signal-doubleratchet-chainkey.json")
	if err != nil {
		t.Skipf("chain-key vector not available: %v", err)
	}
	var v struct {
		ChainKey     string `json:"chain_key"`
		MkSeed       string `json:"mk_seed"`
		NextChainKey string `json:"next_chain_key"`
		HkdfInfo     string `json:"hkdf_info"`
		CipherKey    string `json:"cipher_key"`
		MacKey       string `json:"mac_key"`
		IV           string `json:"iv"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var ck [keySize]byte
	copy(ck[:], h(v.ChainKey))
	mk, next := kdfCK(&ck)
	if !bytes.Equal(mk[:], h(v.MkSeed)) {
		t.Errorf("message key = %x, want %s", mk, v.MkSeed)
	}
	if !bytes.Equal(next[:], h(v.NextChainKey)) {
		t.Errorf("next chain key = %x, want %s", next, v.NextChainKey)
	}
	// The vector's message-key expansion (libsignal's, not ours) checks the
	// HKDF convention we rely on: salt of 32 zero bytes, info as given.
	okm, err := hkdf.Key(sha256.New, mk[:], make([]byte, 32), v.HkdfInfo, 80)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(h(v.CipherKey), h(v.MacKey)...), h(v.IV)...)
	if !bytes.Equal(okm, want) {
		t.Errorf("HKDF expansion = %x, want %x", okm, want)
	}
}

func TestInOrder(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			for i := range 5 {
				m := fmt.Sprintf("a->b %d", i)
				mustDecrypt(t, b, mustEncrypt(t, a, m), m)
			}
			for i := range 5 {
				m := fmt.Sprintf("b->a %d", i)
				mustDecrypt(t, a, mustEncrypt(t, b, m), m)
			}
			for i := range 5 {
				m := fmt.Sprintf("a->b again %d", i)
				mustDecrypt(t, b, mustEncrypt(t, a, m), m)
			}
		})
	}
}

func TestResponderSpeaksFirst(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			b0 := mustEncrypt(t, b, "bob first")
			b1 := mustEncrypt(t, b, "bob second")
			a0 := mustEncrypt(t, a, "alice first")
			mustDecrypt(t, a, b1, "bob second")
			mustDecrypt(t, b, a0, "alice first")
			mustDecrypt(t, a, b0, "bob first")
			mustDecrypt(t, a, mustEncrypt(t, b, "bob third"), "bob third")
			mustDecrypt(t, b, mustEncrypt(t, a, "alice again"), "alice again")
		})
	}
}

func TestOutOfOrder(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			var ms [][]byte
			for i := range 6 {
				ms = append(ms, mustEncrypt(t, a, fmt.Sprint("m", i)))
			}
			for _, i := range []int{3, 0, 5, 1, 4, 2} {
				mustDecrypt(t, b, ms[i], fmt.Sprint("m", i))
			}
			// Messages of an old chain arriving after a ratchet step.
			r0 := mustEncrypt(t, b, "r0")
			old1 := mustEncrypt(t, a, "old1") // still Alice's first chain
			mustDecrypt(t, a, r0, "r0")
			n0 := mustEncrypt(t, a, "new0") // new chain
			n1 := mustEncrypt(t, a, "new1")
			mustDecrypt(t, b, n1, "new1")
			mustDecrypt(t, b, old1, "old1")
			mustDecrypt(t, b, n0, "new0")
		})
	}
}

func TestLostMessages(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			for round := range 6 {
				// Every chain loses its first message (which carries the KEM
				// object at the PQ level) and some others; the KEM ratchet
				// must recover by itself.
				for i := range 5 {
					m := mustEncrypt(t, a, fmt.Sprint("a", round, i))
					if i == 0 || i == 2 {
						continue
					}
					mustDecrypt(t, b, m, fmt.Sprint("a", round, i))
				}
				for i := range 3 {
					m := mustEncrypt(t, b, fmt.Sprint("b", round, i))
					if round%2 == 0 && i == 0 {
						continue
					}
					mustDecrypt(t, a, m, fmt.Sprint("b", round, i))
				}
			}
			mustDecrypt(t, b, mustEncrypt(t, a, "end"), "end")
		})
	}
}

func TestBothSendAtOnce(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			mustDecrypt(t, b, mustEncrypt(t, a, "hello"), "hello")
			for round := range 10 {
				ma := [][]byte{mustEncrypt(t, a, fmt.Sprint("a", round, 0)), mustEncrypt(t, a, fmt.Sprint("a", round, 1))}
				mb := [][]byte{mustEncrypt(t, b, fmt.Sprint("b", round, 0)), mustEncrypt(t, b, fmt.Sprint("b", round, 1))}
				for i := range 2 {
					mustDecrypt(t, b, ma[i], fmt.Sprint("a", round, i))
					mustDecrypt(t, a, mb[i], fmt.Sprint("b", round, i))
				}
			}
		})
	}
}

func TestLongOneWay(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 1000
	}
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			for i := range n {
				m := fmt.Sprint("one way ", i)
				mustDecrypt(t, b, mustEncrypt(t, a, m), m)
			}
			mustDecrypt(t, a, mustEncrypt(t, b, "reply"), "reply")
		})
	}
}

func TestLongPingPong(t *testing.T) {
	n := 300 // 600 ratchet steps per level
	if testing.Short() {
		n = 100
	}
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			for i := range n {
				m := fmt.Sprint("ping ", i)
				mustDecrypt(t, b, mustEncrypt(t, a, m), m)
				m = fmt.Sprint("pong ", i)
				mustDecrypt(t, a, mustEncrypt(t, b, m), m)
			}
			if l.cfg.PQ {
				// The KEM ratchet kept stepping: Alice generated a new
				// ML-KEM key for (almost) every round.
				a.mu.Lock()
				ids := a.st.nextKEMID
				a.mu.Unlock()
				if k := l.cfg.PQInterval; k > 1 && ids < uint32(n/k)-1 || k <= 1 && ids < uint32(n)-1 {
					t.Errorf("only %d KEM keys in %d round trips", ids, n)
				}
			}
		})
	}
}

func TestRestartFromState(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			var held [][]byte
			for round := range 8 {
				for i := range 3 {
					m := mustEncrypt(t, a, fmt.Sprint("a", round, i))
					if i == 1 {
						held = append(held, m) // delivered after restarts
						continue
					}
					mustDecrypt(t, b, m, fmt.Sprint("a", round, i))
				}
				// Both restart from serialised state mid-conversation.
				a, b = restore(t, a), restore(t, b)
				mustDecrypt(t, a, mustEncrypt(t, b, fmt.Sprint("b", round)), fmt.Sprint("b", round))
			}
			for round, m := range held[len(held)-4:] {
				mustDecrypt(t, b, m, fmt.Sprint("a", round+4, 1))
			}
		})
	}
}

func TestReplayRejected(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			m0 := mustEncrypt(t, a, "m0")
			m1 := mustEncrypt(t, a, "m1")
			m2 := mustEncrypt(t, a, "m2")
			mustDecrypt(t, b, m0, "m0")
			mustDecrypt(t, b, m2, "m2")
			if err := mustReject(t, b, m0); !errors.Is(err, ErrReplay) {
				t.Errorf("replay of m0: %v, want ErrReplay", err)
			}
			if err := mustReject(t, b, m2); !errors.Is(err, ErrReplay) {
				t.Errorf("replay of m2: %v, want ErrReplay", err)
			}
			mustDecrypt(t, b, m1, "m1") // a skipped key still works once
			if err := mustReject(t, b, m1); !errors.Is(err, ErrReplay) {
				t.Errorf("replay of skipped m1: %v, want ErrReplay", err)
			}
			// Replay after ratchet steps.
			mustDecrypt(t, a, mustEncrypt(t, b, "r"), "r")
			mustDecrypt(t, b, mustEncrypt(t, a, "n"), "n")
			mustReject(t, b, m1)
		})
	}
}

// TestTamperedRejected flips bits all over messages (plain and carrying a
// KEM object, in-chain and ratchet-step) and checks each is rejected with
// the state untouched, and the genuine message still decrypts afterwards.
func TestTamperedRejected(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			check := func(recv *Session, m []byte, want string) {
				t.Helper()
				step := 1
				if len(m) > 400 {
					step = 7
				}
				for i := 0; i < len(m); i += step {
					bad := bytes.Clone(m)
					bad[i] ^= 1 << (i % 8)
					mustReject(t, recv, bad)
				}
				mustReject(t, recv, m[:len(m)-1])
				mustReject(t, recv, append(bytes.Clone(m), 0))
				mustReject(t, recv, nil)
				mustDecrypt(t, recv, m, want)
			}
			check(b, mustEncrypt(t, a, "first, with KEM key at pq level"), "first, with KEM key at pq level")
			check(b, mustEncrypt(t, a, "second"), "second")
			check(a, mustEncrypt(t, b, "reply: ratchet step"), "reply: ratchet step")
			check(b, mustEncrypt(t, a, "again"), "again")
		})
	}
}

func TestWrongSessionRejected(t *testing.T) {
	a, _ := newPair(t, Config{})
	_, b2 := newPair(t, Config{})
	if err := mustReject(t, b2, mustEncrypt(t, a, "x")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("foreign message: %v, want ErrUnknownKey", err)
	}
	// Level mismatch: same secret, one side PQ.
	bk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	ai, _ := NewInitiator(Config{PQ: true}, testSecret, testAD, bk.PublicKey())
	br, _ := NewResponder(Config{}, testSecret, testAD, bk)
	if err := mustReject(t, br, mustEncrypt(t, ai, "x")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("level mismatch: %v, want ErrUnknownKey", err)
	}
	// AD mismatch.
	ai, _ = NewInitiator(Config{}, testSecret, []byte("ad one"), bk.PublicKey())
	br, _ = NewResponder(Config{}, testSecret, []byte("ad two"), bk)
	mustReject(t, br, mustEncrypt(t, ai, "x"))
}

func TestDerivedResponderKey(t *testing.T) {
	a, err := NewInitiator(Config{PQ: true}, testSecret, testAD, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewResponder(Config{PQ: true}, testSecret, testAD, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustDecrypt(t, b, mustEncrypt(t, a, "hi"), "hi")
	mustDecrypt(t, a, mustEncrypt(t, b, "ho"), "ho")
}

func TestSkipBounds(t *testing.T) {
	cfg := Config{MaxSkip: 10, MaxSkippedKeys: 15, MaxSkippedChains: 2}
	a, b := newPair(t, cfg)
	var ms [][]byte
	for i := range 12 {
		ms = append(ms, mustEncrypt(t, a, fmt.Sprint(i)))
	}
	// Message 11 needs 11 skipped keys > MaxSkip.
	if err := mustReject(t, b, ms[11]); !errors.Is(err, ErrTooManySkipped) {
		t.Fatalf("got %v, want ErrTooManySkipped", err)
	}
	mustDecrypt(t, b, ms[10], "10") // exactly MaxSkip skipped
	mustDecrypt(t, b, ms[11], "11")
	for i := range 10 {
		mustDecrypt(t, b, ms[i], fmt.Sprint(i))
	}
	// Total bound: skip 10, then 10 more in the next chain; the oldest 5
	// are evicted.
	mustDecrypt(t, a, mustEncrypt(t, b, "r"), "r")
	var c1 [][]byte
	for i := range 11 {
		c1 = append(c1, mustEncrypt(t, a, fmt.Sprint("c1 ", i)))
	}
	mustDecrypt(t, b, c1[10], "c1 10")
	mustDecrypt(t, a, mustEncrypt(t, b, "r2"), "r2")
	var c2 [][]byte
	for i := range 11 {
		c2 = append(c2, mustEncrypt(t, a, fmt.Sprint("c2 ", i)))
	}
	mustDecrypt(t, b, c2[10], "c2 10")
	b.mu.Lock()
	if b.nskip != 15 {
		t.Errorf("stored %d skipped keys, want 15", b.nskip)
	}
	b.mu.Unlock()
	for i := range 5 {
		if err := mustReject(t, b, c1[i]); !errors.Is(err, ErrReplay) {
			t.Errorf("evicted key %d: %v, want ErrReplay", i, err)
		}
	}
	for i := 5; i < 10; i++ {
		mustDecrypt(t, b, c1[i], fmt.Sprint("c1 ", i))
	}
	for i := range 10 {
		mustDecrypt(t, b, c2[i], fmt.Sprint("c2 ", i))
	}
	// Chain bound: three chains with skipped keys, bound 2: the oldest
	// chain's keys go.
	var olds [][]byte
	for range 3 {
		mustDecrypt(t, a, mustEncrypt(t, b, "r"), "r")
		olds = append(olds, mustEncrypt(t, a, "skipped"))
		mustDecrypt(t, b, mustEncrypt(t, a, "x"), "x")
	}
	if err := mustReject(t, b, olds[0]); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("evicted chain: %v, want ErrUnknownKey", err)
	}
	mustDecrypt(t, b, olds[1], "skipped")
	mustDecrypt(t, b, olds[2], "skipped")
}

func TestConfigAndInputs(t *testing.T) {
	bk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		cfg    Config
		secret []byte
		ad     []byte
	}{
		{"short secret", Config{}, make([]byte, 31), nil},
		{"long secret", Config{}, make([]byte, 97), nil},
		{"long AD", Config{}, testSecret, make([]byte, MaxADSize+1)},
		{"negative MaxSkip", Config{MaxSkip: -1}, testSecret, nil},
		{"huge MaxSkippedKeys", Config{MaxSkippedKeys: limitMaxSkippedKeys + 1}, testSecret, nil},
		{"huge MaxSkippedChains", Config{MaxSkippedChains: 65}, testSecret, nil},
	} {
		if _, err := NewInitiator(tc.cfg, tc.secret, tc.ad, bk.PublicKey()); err == nil {
			t.Errorf("%s: NewInitiator accepted", tc.name)
		}
		if _, err := NewResponder(tc.cfg, tc.secret, tc.ad, bk); err == nil {
			t.Errorf("%s: NewResponder accepted", tc.name)
		}
	}
	a, _ := newPair(t, Config{})
	if _, err := a.Encrypt(make([]byte, MaxPlaintextSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized plaintext: %v", err)
	}
}

func TestPadding(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, 32}, {31, 32}, {32, 64}, {100, 128}, {255, 256}, {256, 272}, {1000, 1024},
		{16383, 16384}, {16384, 17408}, {MaxPlaintextSize, 1<<20 + 1<<15},
	} {
		if got := paddedLen(tc.n); got != tc.want {
			t.Errorf("paddedLen(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	if got := 1 + nonceSize + longHeaderSize + tagSize + paddedLen(MaxPlaintextSize) + tagSize; got != MaxMessageSize {
		t.Errorf("MaxMessageSize = %d, want %d", MaxMessageSize, got)
	}
	for n := range 5000 {
		p := bytes.Repeat([]byte{0xaa}, n)
		padded := pad(nil, p)
		if len(padded) != paddedLen(n) {
			t.Fatalf("pad(%d) length %d", n, len(padded))
		}
		got, err := unpad(padded)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("unpad(pad(%d)) = %d bytes, %v", n, len(got), err)
		}
	}
	for _, bad := range [][]byte{make([]byte, 32), append(make([]byte, 31), 1), append(append(make([]byte, 10), 0x80), make([]byte, 53)...)} {
		if _, err := unpad(bad); err == nil {
			t.Errorf("unpad accepted %x", bad)
		}
	}
	// Message sizes depend only on the bucket.
	a, _ := newPair(t, Config{})
	mustEncrypt(t, a, "") // first message
	m1, m2 := mustEncrypt(t, a, "x"), mustEncrypt(t, a, "a much longer message of 31 b.")
	if len(m1) != len(m2) || len(m1) != 1+Overhead(1) {
		t.Errorf("sizes %d, %d; Overhead(1)+1 = %d", len(m1), len(m2), 1+Overhead(1))
	}
}

func TestHeaderRejections(t *testing.T) {
	good := header{dh: [32]byte{1}, pn: 1, n: 2}
	short := good.appendTo(nil)
	long := (&header{flags: flagEK, kemID: 1, obj: make([]byte, KEMObjectSize)}).appendTo(nil)
	for _, tc := range []struct {
		name string
		b    []byte
		kind byte
	}{
		{"short as long", short, kindLong},
		{"long as short", long, kindShort},
		{"unknown flag", append([]byte{0x80}, short[1:]...), kindShort},
		{"ek and ct", append([]byte{flagEK | flagCT}, long[1:]...), kindLong},
		{"object without flag", append([]byte{0}, long[1:]...), kindLong},
		{"truncated", short[:len(short)-1], kindShort},
		{"object on n>0", func() []byte {
			b := bytes.Clone(long)
			b[40] = 1
			return b
		}(), kindLong},
		{"object id 0", (&header{flags: flagCT, obj: make([]byte, KEMObjectSize)}).appendTo(nil), kindLong},
	} {
		if _, err := parseHeader(tc.b, tc.kind); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tc.name, err)
		}
	}
	if _, err := parseHeader(short, kindShort); err != nil {
		t.Errorf("good header: %v", err)
	}
	for _, m := range [][]byte{{}, {0x20}, {0x12}, bytes.Repeat([]byte{0x10}, 100), make([]byte, MaxMessageSize+1)} {
		if _, err := parseWire(m); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseWire(%d bytes): %v", len(m), err)
		}
	}
}

func TestConcurrentSendReceive(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			const n = 300
			ab, ba := make(chan []byte, n), make(chan []byte, n)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			send := func(s *Session, out chan<- []byte, tag string) {
				defer wg.Done()
				for i := range n {
					m, err := s.Encrypt([]byte(fmt.Sprint(tag, i)))
					if err != nil {
						errs <- err
						return
					}
					out <- m
				}
			}
			recv := func(s *Session, in <-chan []byte, tag string) {
				defer wg.Done()
				for i := range n {
					pt, err := s.Decrypt(<-in)
					if err != nil {
						errs <- err
						return
					}
					if string(pt) != fmt.Sprint(tag, i) {
						errs <- fmt.Errorf("got %q want %s%d", pt, tag, i)
						return
					}
				}
			}
			wg.Add(4)
			go send(a, ab, "a")
			go send(b, ba, "b")
			go recv(b, ab, "a")
			go recv(a, ba, "b")
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestClose(t *testing.T) {
	a, b := newPair(t, Config{PQ: true})
	m := mustEncrypt(t, a, "x")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decrypt(m); !errors.Is(err, ErrClosed) {
		t.Errorf("Decrypt after Close: %v", err)
	}
	if _, err := b.Encrypt(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Encrypt after Close: %v", err)
	}
	if _, err := b.MarshalBinary(); !errors.Is(err, ErrClosed) {
		t.Errorf("MarshalBinary after Close: %v", err)
	}
	var zero [keySize]byte
	if b.st.rk != zero || b.st.cks != zero || b.st.nhkr != zero || b.st.dhs != nil {
		t.Error("keys not wiped")
	}
}

// TestKEMRecoversFromLoss: when message 0 of chains (the carrier of the KEM
// object) is lost, the KEM ratchet re-sends the pending key or ciphertext on
// the next chain and completes its steps once delivery is clean again.
func TestKEMRecoversFromLoss(t *testing.T) {
	a, b := newPair(t, Config{PQ: true})
	exchange := func(from, to *Session, tag string, dropFirst bool) {
		m0 := mustEncrypt(t, from, tag+"0")
		m1 := mustEncrypt(t, from, tag+"1")
		if !dropFirst {
			mustDecrypt(t, to, m0, tag+"0")
		}
		mustDecrypt(t, to, m1, tag+"1")
	}
	// Lossy phase: every carrier is lost; no KEM step can complete.
	for i := range 4 {
		exchange(a, b, fmt.Sprint("a", i), true)
		exchange(b, a, fmt.Sprint("b", i), true)
	}
	settle(t, a)
	settle(t, b)
	if a.st.sendMixed || b.st.sendMixed {
		t.Fatal("a KEM secret was mixed although every KEM object was lost")
	}
	// Clean phase: the pending objects are re-sent and steps complete.
	mixedA, mixedB := 0, 0
	for i := range 4 {
		exchange(a, b, fmt.Sprint("A", i), false)
		settle(t, b)
		if b.st.sendMixed {
			mixedB++
		}
		exchange(b, a, fmt.Sprint("B", i), false)
		settle(t, a)
		if a.st.sendMixed {
			mixedA++
		}
	}
	t.Logf("mixed chains in the clean phase: initiator %d, responder %d", mixedA, mixedB)
	if mixedA+mixedB < 3 {
		t.Fatalf("only %d+%d mixed chains in 4 clean round trips", mixedA, mixedB)
	}
	settle(t, a)
	settle(t, b)
	if a.st.hasCt && b.st.hasCt {
		t.Fatal("both sides hold an unconfirmed ciphertext")
	}
}

func TestUnmarshalBinary(t *testing.T) {
	a, b := newPair(t, Config{PQ: true})
	mustDecrypt(t, b, mustEncrypt(t, a, "x"), "x")
	var restored Session
	if err := restored.UnmarshalBinary(snapshot(t, b)); err != nil {
		t.Fatal(err)
	}
	mustDecrypt(t, a, mustEncrypt(t, &restored, "from restored"), "from restored")
	before := snapshot(t, &restored)
	if err := restored.UnmarshalBinary([]byte("rtcR garbage")); !errors.Is(err, ErrBadState) {
		t.Fatalf("garbage: %v", err)
	}
	if !bytes.Equal(before, snapshot(t, &restored)) {
		t.Fatal("failed UnmarshalBinary changed the session")
	}
}

// TestReflectionRejected: a side's own messages sent back to it are not
// accepted (sending and receiving header keys differ in every state).
func TestReflectionRejected(t *testing.T) {
	for _, l := range modeLevels {
		t.Run(l.name, func(t *testing.T) {
			a, b := newPair(t, l.cfg)
			for i := range 4 {
				ma, mb := mustEncrypt(t, a, "a"), mustEncrypt(t, b, "b")
				if err := mustReject(t, a, ma); !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("round %d: initiator accepted or misreported its own message: %v", i, err)
				}
				if err := mustReject(t, b, mb); !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("round %d: responder accepted or misreported its own message: %v", i, err)
				}
				mustDecrypt(t, b, ma, "a")
				mustDecrypt(t, a, mb, "b")
			}
		})
	}
}

func TestZeroSession(t *testing.T) {
	var s Session
	if _, err := s.Encrypt([]byte("x")); !errors.Is(err, ErrUninitialised) {
		t.Errorf("Encrypt: %v", err)
	}
	if _, err := s.Decrypt([]byte{0x10}); err == nil {
		t.Error("Decrypt accepted")
	}
	if _, err := s.MarshalBinary(); !errors.Is(err, ErrUninitialised) {
		t.Errorf("MarshalBinary: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
