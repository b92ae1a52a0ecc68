package chat

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/rtc"
)

func newTestIdentity(t testing.TB) *handshake.Identity {
	t.Helper()
	id, err := handshake.GenerateIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.Destroy)
	return id
}

type testContacts struct {
	name  string
	store *memStore
	err   error
}

func (c *testContacts) Admit(*handshake.PublicIdentity) (string, bool, bool, error) {
	return c.name, true, false, c.err
}
func (c *testContacts) MarkVerified(*handshake.PublicIdentity) error   { return nil }
func (c *testContacts) Store(*handshake.PublicIdentity) (Store, error) { return c.store, nil }

// connectPair runs the whole flow over real pion peers on loopback.
func connectPair(t testing.TB, cfgA, cfgB Config) (*Conversation, *Conversation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	offer, err := NewOffer(ctx, cfgA)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { offer.Close() })
	answer, err := NewAnswer(ctx, cfgB, offer.Blob())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { answer.Close() })
	type res struct {
		c   *Conversation
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := answer.Connect(ctx)
		ch <- res{c, err}
	}()
	a, errA := offer.Connect(ctx, answer.Blob())
	r := <-ch
	if errA != nil || r.err != nil {
		t.Fatalf("connect: offerer %v, answerer %v", errA, r.err)
	}
	t.Cleanup(func() { a.Close(); r.c.Close() })
	return a, r.c
}

func TestConnectEndToEnd(t *testing.T) {
	for _, level := range []handshake.Level{handshake.LevelStandard, handshake.LevelEnhanced, handshake.LevelQuantum} {
		t.Run(level.String(), func(t *testing.T) {
			alice, bob := newTestIdentity(t), newTestIdentity(t)
			cfgA := Config{RTC: rtc.LoopbackConfig(), Signer: alice, MinLevel: level, MaxLevel: level, Contacts: &testContacts{name: "bob", store: newMemStore()}}
			cfgB := Config{RTC: rtc.LoopbackConfig(), Signer: bob, MinLevel: level, MaxLevel: level, Contacts: &testContacts{name: "alice", store: newMemStore()}}
			a, b := connectPair(t, cfgA, cfgB)
			ia, ib := a.Info(), b.Info()
			if ia.Level != level.String() || ib.Level != level.String() {
				t.Fatalf("levels %s / %s, want %s", ia.Level, ib.Level, level)
			}
			if ia.SessionCode != ib.SessionCode || ia.SafetyNumber != ib.SafetyNumber {
				t.Fatal("the two sides disagree on the session code or safety number")
			}
			if (ia.TLS == "") != (level == handshake.LevelStandard) {
				t.Fatalf("inner TLS at level %s: %q", level, ia.TLS)
			}
			id, err := a.SendText("hello over every layer")
			if err != nil {
				t.Fatal(err)
			}
			if ev := waitEvent(t, b.Session, EventMessage); ev.Text != "hello over every layer" || ev.ID != id {
				t.Fatalf("got %+v", ev)
			}
			waitEvent(t, a.Session, EventDelivered)
			if _, err := b.SendText("and back"); err != nil {
				t.Fatal(err)
			}
			if ev := waitEvent(t, a.Session, EventMessage); ev.Text != "and back" {
				t.Fatalf("got %+v", ev)
			}
		})
	}
}

func TestConnectFileTransfer(t *testing.T) {
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	a, b := connectPair(t,
		Config{RTC: rtc.LoopbackConfig(), Signer: alice},
		Config{RTC: rtc.LoopbackConfig(), Signer: bob})
	src, data := writeRandomFile(t, t.TempDir(), 2<<20)
	dst := t.TempDir()
	id, err := a.OfferFile(src)
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, b.Session, EventFileOffered)
	if err := b.AcceptFile(id, dst); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, b.Session, EventFileDone)
	got, _ := os.ReadFile(ev.File.Path)
	if !bytes.Equal(got, data) || filepath.Dir(ev.File.Path) != dst {
		t.Fatal("file differs")
	}
}

// A peer whose acceptable levels do not meet ours is refused before any
// network work, with a clear error.
func TestConnectNoCommonLevel(t *testing.T) {
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	ctx := context.Background()
	offer, err := NewOffer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: alice, MinLevel: handshake.LevelQuantum})
	if err != nil {
		t.Fatal(err)
	}
	defer offer.Close()
	_, err = NewAnswer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: bob, MinLevel: handshake.LevelStandard, MaxLevel: handshake.LevelEnhanced}, offer.Blob())
	if !errors.Is(err, ErrLevel) {
		t.Fatalf("got %v, want ErrLevel", err)
	}
}

// failingSigner is an identity whose signing fails (a key process gone).
type failingSigner struct{ *handshake.Identity }

func (failingSigner) SignBundle([]byte, handshake.Level) ([]byte, []byte, error) {
	return nil, nil, errors.New("key process went away")
}

// The answering side signs before it hands out the answer, so a signer
// that fails is reported by NewAnswer itself, with no answer to carry.
func TestNewAnswerReportsSignerFailure(t *testing.T) {
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offer, err := NewOffer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: alice})
	if err != nil {
		t.Fatal(err)
	}
	defer offer.Close()
	a, err := NewAnswer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: failingSigner{bob}}, offer.Blob())
	if !errors.Is(err, handshake.ErrSigner) || a != nil {
		t.Fatalf("got %v, want ErrSigner and no answer", err)
	}
}

// The contact book's refusal (an identity change) ends the connection.
func TestConnectContactRefused(t *testing.T) {
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	refuse := errors.New("IDENTITY CHANGED")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offer, _ := NewOffer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: alice, Contacts: &testContacts{err: refuse, store: newMemStore()}})
	defer offer.Close()
	answer, err := NewAnswer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: bob}, offer.Blob())
	if err != nil {
		t.Fatal(err)
	}
	defer answer.Close()
	go answer.Connect(ctx)
	if _, err := offer.Connect(ctx, answer.Blob()); !errors.Is(err, refuse) {
		t.Fatalf("got %v, want the refusal", err)
	}
}

// A pinned contact that shows up with another identity is refused.
func TestConnectPinMismatch(t *testing.T) {
	alice, bob, mallory := newTestIdentity(t), newTestIdentity(t), newTestIdentity(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offer, _ := NewOffer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: alice, PinnedPeer: bob.Public()})
	defer offer.Close()
	answer, _ := NewAnswer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: mallory}, offer.Blob())
	defer answer.Close()
	go answer.Connect(ctx)
	if _, err := offer.Connect(ctx, answer.Blob()); !errors.Is(err, handshake.ErrPinMismatch) {
		t.Fatalf("got %v, want ErrPinMismatch", err)
	}
}

// A blob that commits to one identity while another identity connects is
// refused by the peer.
func TestConnectBlobFromOtherIdentity(t *testing.T) {
	alice, bob, mallory := newTestIdentity(t), newTestIdentity(t), newTestIdentity(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offer, _ := NewOffer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: alice})
	defer offer.Close()
	offer.cfg.Signer = mallory // the blob still commits to alice
	answer, _ := NewAnswer(ctx, Config{RTC: rtc.LoopbackConfig(), Signer: bob}, offer.Blob())
	defer answer.Close()
	errB := make(chan error, 1)
	go func() { _, err := answer.Connect(ctx); errB <- err }()
	offer.Connect(ctx, answer.Blob())
	if err := <-errB; !errors.Is(err, handshake.ErrCommitment) {
		t.Fatalf("answerer: got %v, want ErrCommitment", err)
	}
}

// Messages left pending by a lost connection are sent again over a new
// connection (new blobs, new handshake) and arrive exactly once.
func TestConnectPendingAfterReconnect(t *testing.T) {
	alice, bob := newTestIdentity(t), newTestIdentity(t)
	storeA, storeB := newMemStore(), newMemStore()
	cfgA := Config{RTC: rtc.LoopbackConfig(), Signer: alice, Contacts: &testContacts{name: "bob", store: storeA}}
	cfgB := Config{RTC: rtc.LoopbackConfig(), Signer: bob, Contacts: &testContacts{name: "alice", store: storeB}}
	a, b := connectPair(t, cfgA, cfgB)
	// Bob's side goes away without a goodbye (as if killed).
	b.Session.conn.Close()
	waitEvent(t, a.Session, EventDisconnected)
	if _, err := a.SendText("written while offline"); !errors.Is(err, ErrQueued) {
		t.Fatalf("send on a dead connection: %v", err)
	}
	// The message is not lost: it is in Alice's store, and goes out next time.
	a2, b2 := connectPair(t, cfgA, cfgB)
	ev := waitEvent(t, b2.Session, EventMessage)
	if ev.Text != "written while offline" {
		t.Fatalf("got %+v", ev)
	}
	waitEvent(t, a2.Session, EventDelivered)
	if len(a2.Pending()) != 0 {
		t.Fatalf("still pending: %+v", a2.Pending())
	}
}
