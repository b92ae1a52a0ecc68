package chat

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/ratchet"
)

// tlsRecordPlaintext is TLS's largest record plaintext (RFC 8446 §5.1).
const tlsRecordPlaintext = 16384

func TestTLSSendBatchKeepsMessages(t *testing.T) {
	a, b := tlsPair(t)
	var want [][]byte
	batch := func(sizes ...int) [][]byte {
		var out [][]byte
		for _, n := range sizes {
			m := bytes.Repeat([]byte{byte(len(want))}, n)
			want = append(want, m)
			out = append(out, m)
		}
		return out
	}
	if err := a.SendBatch(batch(1, 100, 0, 20000, 70000, 5)); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(bytes.Repeat([]byte{0xEE}, 300)); err != nil {
		t.Fatal(err)
	}
	want = append(want, bytes.Repeat([]byte{0xEE}, 300))
	var small []int
	for i := 0; i < 200; i++ {
		small = append(small, 90+i%20)
	}
	if err := a.SendBatch(batch(small...)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, w := range want {
		got, err := b.Recv(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, w) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(got), len(w))
		}
	}
	if err := a.SendBatch([][]byte{make([]byte, maxTLSMessage+1)}); err == nil {
		t.Fatal("a message above the limit was sent")
	}
}

// countingConn counts how the writer hands messages to the transport.
type countingConn struct {
	MessageConn
	gate     chan struct{} // the first call waits until it is closed
	mu       sync.Mutex
	calls    int
	messages int
}

func (c *countingConn) Send(m []byte) error { return c.SendBatch([][]byte{m}) }

func (c *countingConn) SendBatch(msgs [][]byte) error {
	c.mu.Lock()
	c.calls++
	c.messages += len(msgs)
	first := c.calls == 1
	c.mu.Unlock()
	if first {
		<-c.gate
	}
	for _, m := range msgs {
		if err := c.MessageConn.Send(m); err != nil {
			return err
		}
	}
	return nil
}

func TestWriterSendsQueuedFramesInBatches(t *testing.T) {
	pa, pb := newMsgPipe()
	cc := &countingConn{MessageConn: pa, gate: make(chan struct{})}
	a, err := NewSession(cc, tagCipher{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(pb, tagCipher{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	a.Start()
	b.Start()
	// The writer takes the first message and is held in the transport while
	// the rest queues up behind it.
	const n = 300
	for i := 0; i < n; i++ {
		if _, err := a.SendText(fmt.Sprintf("message %03d", i)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			eventually(t, "the writer is sending", func() bool { cc.mu.Lock(); defer cc.mu.Unlock(); return cc.calls == 1 })
		}
	}
	close(cc.gate)
	for i := 0; i < n; i++ {
		ev := waitEvent(t, b, EventMessage)
		if want := fmt.Sprintf("message %03d", i); ev.Text != want {
			t.Fatalf("got %q, want %q", ev.Text, want)
		}
	}
	for i := 0; i < n; i++ {
		waitEvent(t, a, EventDelivered)
	}
	cc.mu.Lock()
	calls, msgs := cc.calls, cc.messages
	cc.mu.Unlock()
	if msgs != n {
		t.Fatalf("%d messages reached the transport, want %d", msgs, n)
	}
	// One call for the first message, then full batches.
	if max := 1 + (n-1+writeBatchFrames-1)/writeBatchFrames; calls > max {
		t.Fatalf("%d frames went out in %d transport calls; queued frames should leave in batches (at most %d calls)", n, calls, max)
	}
}

func TestPendingOrderSurvivesAcks(t *testing.T) {
	pa, _ := newMsgPipe()
	s, err := NewSession(pa, tagCipher{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := uint64(1000); id > 800; id-- { // ids deliberately not sorted by value
		s.pending[id] = PendingMessage{ID: id, Text: "x"}
		s.pendingOrder = append(s.pendingOrder, id)
		s.pendingBytes++
	}
	for id := uint64(1000); id > 800; id-- {
		if id%4 != 0 {
			if _, ok := s.dropPendingLocked(id); !ok {
				t.Fatalf("id %d was not pending", id)
			}
		}
	}
	if _, ok := s.dropPendingLocked(999); ok {
		t.Fatal("an id was dropped twice")
	}
	got := s.pendingLocked()
	if len(got) != 50 || s.pendingBytes != 50 {
		t.Fatalf("%d pending (%d bytes), want 50", len(got), s.pendingBytes)
	}
	for i, m := range got {
		if want := uint64(1000 - 4*i); m.ID != want {
			t.Fatalf("pending %d is id %d, want %d (oldest first)", i, m.ID, want)
		}
	}
	if len(s.pendingOrder) > 2*len(s.pending) {
		t.Fatalf("order list of %d ids for %d pending: not compacted", len(s.pendingOrder), len(s.pending))
	}
}

// A full file chunk, padded and encrypted by the ratchet, fills one TLS
// record (16 KiB of plaintext, with our 4-byte length) and no more, at every
// level, except on the first message of a sending chain at the quantum
// level, which also carries a KEM object.
func TestFileChunkFillsOneTLSRecord(t *testing.T) {
	for _, pq := range []bool{false, true} {
		secret := bytes.Repeat([]byte{7}, 64)
		rk, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ratchet.Config{PQ: pq}
		a, err := ratchet.NewInitiator(cfg, secret, []byte("ad"), rk.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		f := &Frame{Type: FrameFileChunk, ID: 1, Offset: 1 << 40, Data: make([]byte, chunkSize)}
		pt := f.Encode()
		for i := 0; i < 3; i++ {
			ct, err := a.Encrypt(pt)
			if err != nil {
				t.Fatal(err)
			}
			size := 4 + len(ct)
			if i > 0 && size > tlsRecordPlaintext {
				t.Errorf("pq=%v: a chunk is %d bytes inside TLS, more than one record (%d)", pq, size, tlsRecordPlaintext)
			}
			if i > 0 && size < tlsRecordPlaintext-512 {
				t.Errorf("pq=%v: a chunk is %d bytes inside TLS: a %d-byte record is mostly padding waste", pq, size, tlsRecordPlaintext)
			}
			t.Logf("pq=%v message %d: frame %d bytes, %d inside TLS", pq, i, len(pt), size)
		}
	}
}
