package ratchet

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
)

// recordingKeys is a keySource that records every X25519 private key it
// hands out, so the quantum-attacker tests can leak them.
type recordingKeys struct {
	mu      sync.Mutex
	x       []xKey   // copies: the sessions wipe their keys after use
	seeds   [][]byte // ML-KEM-1024 key generation seeds
	encRand [][]byte // encapsulation randomness
}

func (r *recordingKeys) newX25519() (*xKey, error) {
	k, err := generateXKey()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.x = append(r.x, *k)
	r.mu.Unlock()
	return k, nil
}

func (r *recordingKeys) newMLKEM() (*kemDK, error) {
	seed := make([]byte, kemSeedSize)
	rand.Read(seed)
	k, err := newKEMDK(seed)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.seeds = append(r.seeds, seed)
	r.mu.Unlock()
	return k, nil
}

func (r *recordingKeys) encapsulate(ek *kemEK) ([]byte, []byte, error) {
	random := make([]byte, 32)
	rand.Read(random)
	r.mu.Lock()
	r.encRand = append(r.encRand, random)
	r.mu.Unlock()
	ss, ct := ek.encapsulateWith(random)
	return ss, ct, nil
}

func (r *recordingKeys) xCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.x)
}

// replayKeys hands out a victim's leaked X25519 keys (from index next on)
// and fresh ML-KEM keys of its own: the attacker knows every X25519
// secret but no ML-KEM secret.
type replayKeys struct {
	victim *recordingKeys
	next   int
}

func (r *replayKeys) newX25519() (*xKey, error) {
	r.victim.mu.Lock()
	defer r.victim.mu.Unlock()
	if r.next >= len(r.victim.x) {
		return nil, fmt.Errorf("attacker: victim key %d not generated yet", r.next)
	}
	k := r.victim.x[r.next]
	r.next++
	return &k, nil
}

func (r *replayKeys) newMLKEM() (*kemDK, error) { return generateKEMDK() }

func (r *replayKeys) encapsulate(ek *kemEK) ([]byte, []byte, error) { return ek.encapsulate() }

var testSecret = bytes.Repeat([]byte{0x42}, 64)
var testAD = []byte("rtcchat test session AD")

// newPair returns an initiator and a responder session sharing a secret,
// with the production key source.
func newPair(tb testing.TB, cfg Config) (alice, bob *Session) {
	tb.Helper()
	bobKey, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	secret := make([]byte, 64)
	rand.Read(secret)
	if alice, err = NewInitiator(cfg, secret, testAD, bobKey.PublicKey()); err != nil {
		tb.Fatal(err)
	}
	if bob, err = NewResponder(cfg, secret, testAD, bobKey); err != nil {
		tb.Fatal(err)
	}
	return alice, bob
}

func newRecordedPair(tb testing.TB, cfg Config) (alice, bob *Session, ak, bk *recordingKeys) {
	tb.Helper()
	ak, bk = &recordingKeys{}, &recordingKeys{}
	bk0, err := bk.newX25519()
	if err != nil {
		tb.Fatal(err)
	}
	bobKey, err := ecdh.X25519().NewPrivateKey(bk0.priv[:])
	if err != nil {
		tb.Fatal(err)
	}
	secret := make([]byte, 64)
	rand.Read(secret)
	alice, err = newInitiator(cfg, secret, testAD, bobKey.PublicKey(), ak)
	if err != nil {
		tb.Fatal(err)
	}
	bob, err = newResponder(cfg, secret, testAD, bobKey, bk)
	if err != nil {
		tb.Fatal(err)
	}
	return alice, bob, ak, bk
}

func mustEncrypt(tb testing.TB, s *Session, msg string) []byte {
	tb.Helper()
	ct, err := s.Encrypt([]byte(msg))
	if err != nil {
		tb.Fatalf("Encrypt(%q): %v", msg, err)
	}
	return ct
}

func mustDecrypt(tb testing.TB, s *Session, ct []byte, want string) {
	tb.Helper()
	pt, err := s.Decrypt(ct)
	if err != nil {
		tb.Fatalf("Decrypt (want %q): %v", want, err)
	}
	if string(pt) != want {
		tb.Fatalf("Decrypt = %q, want %q", pt, want)
	}
}

func snapshot(tb testing.TB, s *Session) []byte {
	tb.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustReject checks that Decrypt fails and leaves the state byte-for-byte
// unchanged.
func mustReject(tb testing.TB, s *Session, ct []byte) error {
	tb.Helper()
	before := snapshot(tb, s)
	pt, err := s.Decrypt(ct)
	if err == nil {
		tb.Fatalf("Decrypt accepted a message it must reject (plaintext %q)", pt)
	}
	if after := snapshot(tb, s); !bytes.Equal(before, after) {
		tb.Fatalf("rejected message (%v) changed the state", err)
	}
	return err
}

// restore round-trips a session through MarshalBinary/Unmarshal.
func restore(tb testing.TB, s *Session) *Session {
	tb.Helper()
	st := snapshot(tb, s)
	r, err := unmarshal(st, s.src)
	if err != nil {
		tb.Fatalf("Unmarshal: %v", err)
	}
	if again := snapshot(tb, r); !bytes.Equal(st, again) {
		tb.Fatal("state does not round-trip byte for byte")
	}
	return r
}

// peekOwn decrypts a message that s itself sent, from s's sending chain
// state, without changing s: what an attacker holding s's state can read of
// s's outgoing traffic.
func peekOwn(s *Session, msg []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.settleLocked(); err != nil {
		return nil, err
	}
	w, err := parseWire(msg)
	if err != nil {
		return nil, err
	}
	c := s.st
	hpt, ok := openHeader(&c.hks, w, headerAD(c.ad, msg[0]))
	if !ok {
		return nil, ErrUnknownKey
	}
	h, err := parseHeader(hpt, w.kind)
	if err != nil {
		return nil, err
	}
	if h.n < c.ns {
		return nil, ErrReplay
	}
	ck := c.cks
	for i := c.ns; i < h.n; i++ {
		_, ck = kdfCK(&ck)
	}
	mk, _ := kdfCK(&ck)
	return openBody(&mk, w, c.ad)
}

var levels = []struct {
	name string
	cfg  Config
}{
	{"classic", Config{}},
	{"pq", Config{PQ: true}},
	{"pq-interval3", Config{PQ: true, PQInterval: 3}},
}

// settle applies the pending sending half of s's last ratchet step, so a
// test can inspect the state fields directly.
func settle(tb testing.TB, s *Session) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.settleLocked(); err != nil {
		tb.Fatal(err)
	}
}

// modeLevels adds the other ways of computing a ratchet step (Config
// Synchronous and KeysAhead) to levels, for the tests that drive sessions
// with the system key source. They must all behave the same.
var modeLevels = append(append([]struct {
	name string
	cfg  Config
}(nil), levels...), []struct {
	name string
	cfg  Config
}{
	{"classic-sync", Config{Synchronous: true}},
	{"pq-sync", Config{PQ: true, Synchronous: true}},
	{"classic-ahead", Config{KeysAhead: true}},
	{"pq-ahead", Config{PQ: true, KeysAhead: true}},
	{"pq-interval3-ahead", Config{PQ: true, PQInterval: 3, KeysAhead: true}},
}...)
