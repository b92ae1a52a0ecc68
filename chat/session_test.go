package chat

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// tagCipher stands in for the ratchet in these tests: it only frames the
// plaintext so that a mix-up of layers is caught.
type tagCipher struct{}

func (tagCipher) Encrypt(p []byte) ([]byte, error) { return append([]byte("ct:"), p...), nil }
func (tagCipher) Decrypt(c []byte) ([]byte, error) {
	if !bytes.HasPrefix(c, []byte("ct:")) {
		return nil, errors.New("not a ciphertext")
	}
	return c[3:], nil
}

type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Load(kind string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[kind], nil
}

func (s *memStore) get(kind string) []byte {
	b, _ := s.Load(kind)
	return b
}

// eventually waits up to 10 s for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *memStore) Save(kind string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[kind] = append([]byte(nil), b...)
	return nil
}

func sessionPair(t *testing.T, sa, sb Store) (*Session, *Session, *msgPipe) {
	t.Helper()
	pa, pb := newMsgPipe()
	a, err := NewSession(pa, tagCipher{}, sa)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(pb, tagCipher{}, sb)
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	b.Start()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, pa
}

// waitEvent returns the next event of the given kind, failing after a timeout.
func waitEvent(t testing.TB, s *Session, kind EventKind) Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-s.Events():
			if ev.Kind == kind {
				return ev
			}
			if ev.Kind == EventDisconnected && kind != EventDisconnected {
				t.Fatalf("disconnected while waiting for %s: %v", kind, ev.Err)
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

func TestSessionTextAndAcks(t *testing.T) {
	a, b, _ := sessionPair(t, newMemStore(), newMemStore())
	id, err := a.SendText("hello")
	if err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, b, EventMessage)
	if ev.Text != "hello" || ev.ID != id {
		t.Fatalf("received %+v", ev)
	}
	if ev := waitEvent(t, a, EventDelivered); ev.ID != id {
		t.Fatalf("delivered %x, want %x", ev.ID, id)
	}
	if p := a.Pending(); len(p) != 0 {
		t.Fatalf("pending after ack: %+v", p)
	}
	if _, err := b.SendText("back"); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, a, EventMessage); ev.Text != "back" {
		t.Fatalf("got %q", ev.Text)
	}
	a.Close()
	if ev := waitEvent(t, b, EventDisconnected); ev.Err != nil {
		t.Fatalf("clean bye reported as %v", ev.Err)
	}
}

// Without an acknowledgement a message stays pending, in memory and in the store.
func TestSessionPendingUntilAck(t *testing.T) {
	pa, pb := newMsgPipe()
	store := newMemStore()
	a, err := NewSession(pa, tagCipher{}, store)
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer a.Close()
	id, _ := a.SendText("anyone there?")
	ct, err := pb.Recv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := tagCipher{}.Decrypt(ct)
	if f, err := DecodeFrame(pt); err != nil || f.ID != id || f.Text != "anyone there?" {
		t.Fatalf("frame on the wire: %+v, %v", f, err)
	}
	if p := a.Pending(); len(p) != 1 || p[0].ID != id {
		t.Fatalf("pending: %+v", p)
	}
	// The group commit stores it within moments.
	eventually(t, "the message is stored", func() bool {
		stored, _ := decodePending(store.get(storePending))
		return len(stored) == 1 && stored[0].Text == "anyone there?"
	})
	ack, _ := tagCipher{}.Encrypt((&Frame{Type: FrameAck, ID: id}).Encode())
	pb.Send(ack)
	waitEvent(t, a, EventDelivered)
	eventually(t, "the acknowledged message leaves the store", func() bool {
		stored, _ := decodePending(store.get(storePending))
		return len(stored) == 0
	})
}

// Messages sent while the peer is gone stay pending, survive in the store,
// and arrive exactly once after a new connection.
func TestSessionPendingSurvivesReconnect(t *testing.T) {
	storeA, storeB := newMemStore(), newMemStore()
	a, b, pa := sessionPair(t, storeA, storeB)
	if _, err := a.SendText("first"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, b, EventMessage)
	waitEvent(t, a, EventDelivered)
	// The link dies (no bye): both sides report it.
	pa.Close()
	if ev := waitEvent(t, a, EventDisconnected); ev.Err == nil {
		t.Fatal("a lost link reported as a clean bye")
	}
	waitEvent(t, b, EventDisconnected)
	// A message written while disconnected is kept, not refused.
	if _, err := a.SendText("while away"); !errors.Is(err, ErrQueued) {
		t.Fatalf("send on a dead session: %v", err)
	}
	// One more that b already saw (its acknowledgement was lost): it must be
	// acknowledged again but not shown twice.
	pending, _ := decodePending(storeA.get(storePending))
	if len(pending) != 1 || pending[0].Text != "while away" {
		t.Fatalf("stored pending: %+v", pending)
	}
	pending = append(pending, PendingMessage{ID: 43, SentAt: time.Now().Add(time.Second), Text: "already seen"})
	storeA.Save(storePending, encodePending(pending))
	seenB, _ := decodeSeen(storeB.get(storeSeen))
	storeB.Save(storeSeen, encodeSeen(append(seenB, 43)))

	a3, b3, _ := sessionPair(t, storeA, storeB)
	ev := waitEvent(t, b3, EventMessage)
	if ev.Text != "while away" {
		t.Fatalf("resent message: %+v", ev)
	}
	got := map[uint64]bool{}
	for len(got) < 2 {
		got[waitEvent(t, a3, EventDelivered).ID] = true
	}
	if !got[ev.ID] || !got[43] || len(a3.Pending()) != 0 {
		t.Fatalf("delivered %v, pending %v", got, a3.Pending())
	}
	// The duplicate (43) was acknowledged but not shown again.
	select {
	case ev := <-b3.Events():
		if ev.Kind == EventMessage {
			t.Fatalf("duplicate shown: %+v", ev)
		}
	case <-time.After(100 * time.Millisecond):
	}
}

func writeRandomFile(t testing.TB, dir string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(dir, "payload.bin")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func TestSessionFileTransfer(t *testing.T) {
	// Background fsyncs every 1 MiB run beside the transfer (8 MiB normally).
	defer func(v uint64) { fileSyncEvery = v }(fileSyncEvery)
	fileSyncEvery = 1 << 20
	a, b, _ := sessionPair(t, nil, nil)
	src, data := writeRandomFile(t, t.TempDir(), 3<<20+12345)
	dst := t.TempDir()
	// An existing file with the same name is never replaced.
	os.WriteFile(filepath.Join(dst, "payload.bin"), []byte("keep me"), 0o600)
	id, err := a.OfferFile(src)
	if err != nil {
		t.Fatal(err)
	}
	off := waitEvent(t, b, EventFileOffered)
	if off.ID != id || off.File.Size != uint64(len(data)) || off.File.Name != "payload.bin" {
		t.Fatalf("offer %+v", off.File)
	}
	if err := b.AcceptFile(id, dst); err != nil {
		t.Fatal(err)
	}
	got := waitEvent(t, b, EventFileDone)
	sent := waitEvent(t, a, EventFileDone)
	if sent.File.Done != uint64(len(data)) {
		t.Fatalf("sender saw %d of %d bytes acknowledged", sent.File.Done, len(data))
	}
	if filepath.Base(got.File.Path) != "payload (1).bin" {
		t.Fatalf("final path %s", got.File.Path)
	}
	b2, _ := os.ReadFile(got.File.Path)
	if !bytes.Equal(b2, data) {
		t.Fatal("received file differs")
	}
	if keep, _ := os.ReadFile(filepath.Join(dst, "payload.bin")); string(keep) != "keep me" {
		t.Fatal("existing file was replaced")
	}
	assertNoPartials(t, dst)
}

func assertNoPartials(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".rtcchat-*"))
	if len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

func TestSessionFileDeclined(t *testing.T) {
	a, b, _ := sessionPair(t, nil, nil)
	src, _ := writeRandomFile(t, t.TempDir(), 1000)
	id, _ := a.OfferFile(src)
	waitEvent(t, b, EventFileOffered)
	if err := b.DeclineFile(id); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, a, EventFileFailed); ev.ID != id {
		t.Fatalf("failed event %+v", ev)
	}
}

// A transfer cut by a lost connection leaves nothing under the final name.
func TestSessionFileInterrupted(t *testing.T) {
	a, b, pa := sessionPair(t, nil, nil)
	src, _ := writeRandomFile(t, t.TempDir(), 32<<20)
	dst := t.TempDir()
	id, _ := a.OfferFile(src)
	waitEvent(t, b, EventFileOffered)
	b.AcceptFile(id, dst)
	for {
		ev := waitEvent(t, b, EventFileProgress)
		if ev.File.Done > 1<<20 {
			break
		}
	}
	pa.Close()
	waitEvent(t, b, EventFileFailed)
	if _, err := os.Stat(filepath.Join(dst, "payload.bin")); !os.IsNotExist(err) {
		t.Fatalf("final file exists after an interrupted transfer: %v", err)
	}
	assertNoPartials(t, dst)
}

// A file whose bytes do not match the offered SHA-256 is discarded.
func TestSessionFileChecksumMismatch(t *testing.T) {
	a, b, _ := sessionPair(t, nil, nil)
	src, _ := writeRandomFile(t, t.TempDir(), 100_000)
	dst := t.TempDir()
	id, _ := a.OfferFile(src)
	waitEvent(t, b, EventFileOffered)
	// The file changes after the offer (or is damaged on the way).
	os.WriteFile(src, make([]byte, 100_000), 0o600)
	b.AcceptFile(id, dst)
	if ev := waitEvent(t, b, EventFileFailed); ev.Err == nil {
		t.Fatal("no reason given")
	}
	waitEvent(t, a, EventFileFailed)
	entries, _ := os.ReadDir(dst)
	if len(entries) != 0 {
		t.Fatalf("files left after a checksum mismatch: %v", entries)
	}
}

func TestSanitizeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd":     "_.._etc_passwd",
		".hidden":              "hidden",
		"a\x00b\nc":            "a_b_c",
		"..":                   "file",
		"ok.txt":               "ok.txt",
		`C:\x\y`:               "C__x_y",
		"invoice\u202Efdp.exe": "invoice_fdp.exe",
		"con.txt":              "_con.txt",
		"report.pdf. ":         "report.pdf",
		"a|b?c*":               "a_b_c_",
	} {
		if got := sanitizeFileName(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDecodeStored(f *testing.F) {
	f.Add(encodePending([]PendingMessage{{ID: 1, SentAt: time.UnixMilli(5), Text: "x"}}))
	f.Add(encodeSeen([]uint64{1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if msgs, err := decodePending(b); err == nil && !bytes.Equal(encodePending(msgs), b) {
			t.Fatalf("pending not canonical")
		}
		if ids, err := decodeSeen(b); err == nil && !bytes.Equal(encodeSeen(ids), b) {
			t.Fatalf("seen not canonical")
		}
	})
}

// A backlog larger than the send queue is resent in full on the next
// connection (the writer runs before the resends are queued).
func TestSessionLargeBacklogResent(t *testing.T) {
	storeA, storeB := newMemStore(), newMemStore()
	var backlog []PendingMessage
	for i := 0; i < 6000; i++ {
		backlog = append(backlog, PendingMessage{ID: uint64(i + 1), SentAt: time.UnixMilli(int64(i)), Text: "m"})
	}
	storeA.Save(storePending, encodePending(backlog))
	a, b, _ := sessionPair(t, storeA, storeB)
	go func() { // Alice's UI
		for {
			select {
			case <-a.Events():
			case <-a.Done():
				return
			}
		}
	}()
	for i := 0; i < len(backlog); i++ {
		if ev := waitEvent(t, b, EventMessage); ev.ID != uint64(i+1) {
			t.Fatalf("message %d arrived as %d", i+1, ev.ID)
		}
	}
	eventually(t, "every message is acknowledged", func() bool { return len(a.Pending()) == 0 })
}

// What waits for acknowledgement is bounded, with a clear error.
func TestSessionPendingBound(t *testing.T) {
	pa, _ := newMsgPipe()
	s, err := NewSession(pa, tagCipher{}, newMemStore())
	if err != nil {
		t.Fatal(err)
	}
	// Fill the bound without starting the session (nothing is acknowledged).
	for i := 0; i < maxPending; i++ {
		s.pending[uint64(i)] = PendingMessage{ID: uint64(i), Text: "x"}
	}
	if _, err := s.SendText("one too many"); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("got %v, want ErrTooManyPending", err)
	}
	s.pending = map[uint64]PendingMessage{}
	s.pendingBytes = maxPendingBytes - 10
	if _, err := s.SendText(strings.Repeat("y", 11)); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("byte bound: got %v", err)
	}
}

// An offer larger than the free space is refused at accept, whatever the
// peer claims; nothing is created.
func TestSessionHugeOfferRefused(t *testing.T) {
	if _, ok := freeSpace(t.TempDir()); !ok {
		t.Skip("free space is not known on this system")
	}
	a, b, _ := sessionPair(t, nil, nil)
	_ = a
	b.mu.Lock()
	b.inFiles[9] = &inTransfer{id: 9, name: "huge.bin", size: 1 << 62}
	b.mu.Unlock()
	dst := t.TempDir()
	if err := b.AcceptFile(9, dst); err == nil || !strings.Contains(err.Error(), "not enough free space") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Fatalf("files created: %v", entries)
	}
}

// Queued acknowledgements leave in as few frames as the batch bound allows,
// each id exactly once and in order.
func TestSessionAckBatching(t *testing.T) {
	pa, _ := newMsgPipe()
	s, err := NewSession(pa, tagCipher{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 2500; i++ {
		s.queueAck(i)
	}
	var got []uint64
	frames := 0
	for b := s.takeAcks(); b != nil; b = s.takeAcks() {
		f, err := DecodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		frames++
		got = append(got, f.ID)
		got = append(got, f.More...)
	}
	if frames != 3 || len(got) != 2500 {
		t.Fatalf("%d frames with %d ids, want 3 frames with 2500", frames, len(got))
	}
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("id %d is %d", i, id)
		}
	}
}
