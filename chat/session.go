package chat

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Cipher protects frames end to end: the Double Ratchet session in
// production. Encrypt and Decrypt are never called concurrently.
type Cipher interface {
	Encrypt(plaintext []byte) ([]byte, error)
	Decrypt(ciphertext []byte) ([]byte, error)
}

// Store keeps one conversation's state across connections (pending messages,
// identifiers already seen). The vault seals it in production. Load returns
// (nil, nil) when nothing was saved under kind.
type Store interface {
	Load(kind string) ([]byte, error)
	Save(kind string, data []byte) error
}

// Store kinds used by a session.
const (
	storePending = "pending"
	storeSeen    = "seen"
)

// EventKind says what happened in a session.
type EventKind int

// Session events, delivered in order on Events().
const (
	EventMessage      EventKind = iota + 1 // the peer sent a text (ID, Text, Time)
	EventDelivered                         // the peer acknowledged our message ID
	EventFileOffered                       // the peer offers a file (File); answer with AcceptFile or DeclineFile
	EventFileProgress                      // bytes of a transfer moved (File)
	EventFileDone                          // a transfer completed and its SHA-256 matched (File)
	EventFileFailed                        // a transfer was declined, cancelled or broken (File, Err)
	EventDisconnected                      // the connection ended (Err says why; nil after a clean bye)
)

func (k EventKind) String() string {
	return [...]string{"?", "message", "delivered", "file-offered", "file-progress", "file-done", "file-failed", "disconnected"}[min(int(k), 7)]
}

// Event is one thing a UI shows.
type Event struct {
	Kind EventKind
	ID   uint64
	Text string
	Time time.Time
	File *FileStatus
	Err  error
}

// PendingMessage is a message sent but not yet acknowledged by the peer.
type PendingMessage struct {
	ID     uint64
	SentAt time.Time
	Text   string
}

// Session is one end-to-end encrypted conversation over one connection. It
// acknowledges every message, keeps unacknowledged ones in its Store so they
// are sent again on the next connection with the same contact, suppresses
// duplicates, and moves files with back-pressure.
type Session struct {
	conn   MessageConn
	cipher Cipher
	store  Store
	events chan Event
	done   chan struct{}

	// Outgoing frames (encoded) wait in two queues for the writer goroutine:
	// control frames (texts, acks, file control) go before file chunks, so
	// typing never waits behind a transfer.
	ctrlQ chan []byte
	bulkQ chan []byte

	onReject func(what string, err error) // optional security-log hook

	// Acknowledgements wait here (guarded by mu) for the writer, which sends
	// all that queued up in one frame: fewer frames in the other direction
	// means fewer ratchet steps when messages stream one way.
	acks    []uint64
	ackKick chan struct{}
	cmu     sync.Mutex // guards cipher

	mu      sync.Mutex
	pending map[uint64]PendingMessage
	// pendingOrder lists pending ids oldest first; it may still hold
	// acknowledged ids (skipped, and compacted from time to time).
	pendingOrder []uint64
	seen         []uint64 // ids received, oldest first (bounded by maxSeen)
	seenSet      map[uint64]bool
	outFiles     map[uint64]*outTransfer
	inFiles      map[uint64]*inTransfer
	closeErr     error
	closing      bool // a bye was sent or received: the end is expected

	// Group commit: changes to pending and seen mark these flags and kick
	// the persister, which saves the store (one fsync per batch, however many
	// messages arrived meanwhile). Sending never waits for the disk.
	dirtyPending bool
	dirtySeen    bool
	pendingBytes int
	flushMu      sync.Mutex
	kick         chan struct{}
	startOne     sync.Once
	stopOne      sync.Once
}

// maxSeen bounds the duplicate-suppression memory of a conversation.
const maxSeen = 4096

// NewSession prepares a session; Start runs it.
func NewSession(conn MessageConn, cipher Cipher, store Store) (*Session, error) {
	s := &Session{
		conn: conn, cipher: cipher, store: store,
		events:   make(chan Event, 256),
		done:     make(chan struct{}),
		ctrlQ:    make(chan []byte, 4096),
		kick:     make(chan struct{}, 1),
		ackKick:  make(chan struct{}, 1),
		bulkQ:    make(chan []byte, 8),
		pending:  map[uint64]PendingMessage{},
		seenSet:  map[uint64]bool{},
		outFiles: map[uint64]*outTransfer{},
		inFiles:  map[uint64]*inTransfer{},
	}
	if store != nil {
		if b, err := store.Load(storePending); err != nil {
			return nil, fmt.Errorf("chat: loading pending messages: %w", err)
		} else if b != nil {
			msgs, err := decodePending(b)
			if err != nil {
				return nil, fmt.Errorf("chat: stored pending messages: %w", err)
			}
			for _, m := range msgs {
				s.pending[m.ID] = m
				s.pendingOrder = append(s.pendingOrder, m.ID)
				s.pendingBytes += len(m.Text)
			}
		}
		if b, err := store.Load(storeSeen); err != nil {
			return nil, fmt.Errorf("chat: loading seen ids: %w", err)
		} else if b != nil {
			ids, err := decodeSeen(b)
			if err != nil {
				return nil, fmt.Errorf("chat: stored seen ids: %w", err)
			}
			for _, id := range ids {
				s.markSeenLocked(id)
			}
		}
	}
	return s, nil
}

// Start sends again every message still pending from an earlier connection
// and starts receiving.
func (s *Session) Start() {
	s.startOne.Do(func() {
		go s.writeLoop()
		go s.persistLoop()
		go s.recvLoop()
		// Resend in the background: a backlog larger than the send queue
		// must not hold up the caller (whose UI drains our events).
		pending := s.Pending()
		go func() {
			for _, m := range pending {
				if s.sendFrame(&Frame{Type: FrameText, ID: m.ID, SentAt: m.SentAt.UnixMilli(), Text: m.Text}) != nil {
					return
				}
			}
		}()
	})
}

// Events delivers what happens, in order. It is never closed; use Done.
func (s *Session) Events() <-chan Event { return s.events }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended (nil after a clean bye).
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeErr
}

// Pending lists the messages not yet acknowledged, oldest first.
func (s *Session) Pending() []PendingMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingLocked()
}

// pendingLocked lists the pending messages, oldest first (the order they
// were written in, or stored in).
func (s *Session) pendingLocked() []PendingMessage {
	out := make([]PendingMessage, 0, len(s.pending))
	for _, id := range s.pendingOrder {
		if m, ok := s.pending[id]; ok {
			out = append(out, m)
		}
	}
	return out
}

// dropPendingLocked forgets an acknowledged message.
func (s *Session) dropPendingLocked(id uint64) (PendingMessage, bool) {
	m, ok := s.pending[id]
	if !ok {
		return m, false
	}
	delete(s.pending, id)
	s.pendingBytes -= len(m.Text)
	s.dirtyPending = true
	// Compact the order list once most of it is acknowledged ids.
	if len(s.pendingOrder) > 64 && len(s.pendingOrder) > 2*len(s.pending) {
		kept := s.pendingOrder[:0]
		for _, id := range s.pendingOrder {
			if _, ok := s.pending[id]; ok {
				kept = append(kept, id)
			}
		}
		clear(s.pendingOrder[len(kept):])
		s.pendingOrder = kept
	}
	return m, true
}

// ErrQueued is returned by SendText when the session has ended: the message
// is kept in the store and goes out on the next connection with this contact.
var ErrQueued = errors.New("chat: not connected; the message is kept and will be sent on the next connection")

// Bounds on what waits for acknowledgement: beyond them SendText refuses
// with ErrTooManyPending instead of growing the store without limit.
const (
	maxPending      = 10_000
	maxPendingBytes = 8 << 20
)

// ErrTooManyPending: too much is waiting for the peer's acknowledgement.
var ErrTooManyPending = errors.New("chat: too many undelivered messages are waiting for this contact; wait until they are delivered")

// SendText sends a message and returns its id. The message stays pending
// until the peer acknowledges it (EventDelivered) and is saved in the store
// within one group commit (a few milliseconds), in parallel with sending; on
// a closed session it is saved before SendText returns ErrQueued. SendText
// does not wait for the network.
func (s *Session) SendText(text string) (uint64, error) {
	if len(text) > MaxTextSize {
		return 0, fmt.Errorf("chat: message of %d bytes is longer than %d", len(text), MaxTextSize)
	}
	id, err := randomID()
	if err != nil {
		return 0, err
	}
	m := PendingMessage{ID: id, SentAt: time.Now().Truncate(time.Millisecond), Text: text}
	s.mu.Lock()
	closed := s.closing
	if closed && s.store == nil {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	if len(s.pending) >= maxPending || s.pendingBytes+len(text) > maxPendingBytes {
		s.mu.Unlock()
		return 0, ErrTooManyPending
	}
	s.pending[id] = m
	s.pendingOrder = append(s.pendingOrder, id)
	s.pendingBytes += len(text)
	s.dirtyPending = true
	s.mu.Unlock()
	if closed {
		if err := s.flush(); err != nil {
			return 0, err
		}
		return id, ErrQueued
	}
	s.kickPersist()
	// Should the connection fail before the peer acknowledges, the message
	// stays pending (and stored) and goes out on the next connection.
	if err := s.sendFrame(&Frame{Type: FrameText, ID: id, SentAt: m.SentAt.UnixMilli(), Text: text}); err != nil {
		return id, ErrQueued
	}
	return id, nil
}

// Close says goodbye to the peer and ends the session. It waits up to
// byeTimeout for the peer to hang up, so the bye is not lost in flight.
// Pending messages stay in the store.
func (s *Session) Close() error {
	s.mu.Lock()
	sendBye := !s.closing
	s.closing = true
	s.mu.Unlock()
	if sendBye {
		// Acknowledgements still waiting go out before the goodbye.
		for ack := s.takeAcks(); ack != nil; ack = s.takeAcks() {
			select {
			case s.ctrlQ <- ack:
			case <-s.done:
			}
		}
	}
	if sendBye && s.sendFrame(&Frame{Type: FrameBye, Text: "bye"}) == nil {
		select {
		case <-s.done:
		case <-time.After(byeTimeout):
		}
	}
	s.shutdown(nil)
	return nil
}

// byeTimeout bounds how long Close waits for the peer to hang up.
const byeTimeout = 2 * time.Second

// shutdown ends the session once, reporting err as the reason.
func (s *Session) shutdown(err error) {
	s.stopOne.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.closeErr = err
		in := s.inFiles
		out := s.outFiles
		s.inFiles, s.outFiles = map[uint64]*inTransfer{}, map[uint64]*outTransfer{}
		s.mu.Unlock()
		s.conn.Close()
		for _, t := range in {
			t.mu.Lock()
			t.abortLocked()
			st := t.status()
			t.mu.Unlock()
			s.emit(Event{Kind: EventFileFailed, ID: t.id, File: st, Err: errors.New("connection ended before the transfer completed")})
		}
		for _, t := range out {
			t.stop()
			if !t.finished() {
				s.emit(Event{Kind: EventFileFailed, ID: t.id, File: t.status(), Err: errors.New("connection ended before the transfer completed")})
			}
		}
		// The last group commit: whatever changed is on disk before the UI
		// hears that the session ended (and perhaps exits).
		if ferr := s.flush(); ferr != nil {
			if err == nil {
				err = fmt.Errorf("cannot store the conversation: %w", ferr)
			}
			s.mu.Lock()
			s.closeErr = err
			s.mu.Unlock()
		}
		s.emit(Event{Kind: EventDisconnected, Err: err, Time: time.Now()})
		close(s.done)
	})
}

// emit delivers an event unless the session has already finished. Progress
// events are dropped rather than waited for when the UI is behind.
func (s *Session) emit(ev Event) {
	if ev.Kind == EventFileProgress {
		select {
		case s.events <- ev:
		default:
		}
		return
	}
	select {
	case s.events <- ev:
	case <-s.done:
	}
}

// sendFrame queues a control frame; frames leave in call order. It fails
// only when the session has ended.
func (s *Session) sendFrame(f *Frame) error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	select {
	case s.ctrlQ <- f.Encode():
		return nil
	case <-s.done:
		return ErrClosed
	}
}

// sendBulk queues a file frame behind the control frames. It blocks while
// the bulk queue is full (back-pressure from the transport).
func (s *Session) sendBulk(f *Frame) error {
	select {
	case s.bulkQ <- f.Encode():
		return nil
	case <-s.done:
		return ErrClosed
	}
}

func (s *Session) queueAck(id uint64) {
	s.mu.Lock()
	s.acks = append(s.acks, id)
	s.mu.Unlock()
	select {
	case s.ackKick <- struct{}{}:
	default:
	}
}

// takeAcks returns one ack frame with up to maxAckBatch queued ids, or nil.
func (s *Session) takeAcks() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acks) == 0 {
		return nil
	}
	n := min(len(s.acks), maxAckBatch)
	f := &Frame{Type: FrameAck, ID: s.acks[0], More: append([]uint64(nil), s.acks[1:n]...)}
	s.acks = append(s.acks[:0], s.acks[n:]...)
	if len(s.acks) > 0 {
		select {
		case s.ackKick <- struct{}{}:
		default:
		}
	}
	return f.Encode()
}

// writeLoop encrypts and sends queued frames: control frames first, then
// acknowledgements (batched), then file chunks. Whatever queued up while it
// was busy leaves in one batch (up to writeBatchFrames frames or
// writeBatchBytes of ciphertext): one TLS record and one data-channel
// message for a burst of small messages.
func (s *Session) writeLoop() {
	batch := make([][]byte, 0, writeBatchFrames)
	for {
		pt, ok := s.nextOutgoing(true)
		if !ok {
			return
		}
		batch = batch[:0]
		size := 0
		var err error
		for {
			var ct []byte
			s.cmu.Lock()
			ct, err = s.cipher.Encrypt(pt)
			s.cmu.Unlock()
			if err != nil {
				break
			}
			batch = append(batch, ct)
			size += len(ct)
			if len(batch) == writeBatchFrames || size >= writeBatchBytes {
				break
			}
			if pt, ok = s.nextOutgoing(false); !ok {
				break
			}
		}
		if err == nil {
			err = sendAll(s.conn, batch)
		}
		clear(batch)
		if err != nil {
			s.mu.Lock()
			clean := s.closing
			s.mu.Unlock()
			if !clean {
				s.shutdown(fmt.Errorf("connection lost while sending: %w", err))
			}
			return
		}
	}
}

// Bounds on one batch of the writer.
const (
	writeBatchFrames = 64
	writeBatchBytes  = 12 << 10
)

// nextOutgoing returns the next frame to send, by priority: control frames,
// then queued acknowledgements, then file chunks. With wait it blocks until
// there is one (false once the session is done); without, it returns false
// at once when nothing is queued.
func (s *Session) nextOutgoing(wait bool) ([]byte, bool) {
	for {
		select {
		case pt := <-s.ctrlQ:
			return pt, true
		default:
		}
		select {
		case <-s.ackKick:
			if pt := s.takeAcks(); pt != nil {
				return pt, true
			}
			continue
		default:
		}
		if !wait {
			select {
			case pt := <-s.ctrlQ:
				return pt, true
			case pt := <-s.bulkQ:
				return pt, true
			default:
				return nil, false
			}
		}
		select {
		case pt := <-s.ctrlQ:
			return pt, true
		case <-s.ackKick:
			if pt := s.takeAcks(); pt != nil {
				return pt, true
			}
		case pt := <-s.bulkQ:
			return pt, true
		case <-s.done:
			return nil, false
		}
	}
}

func (s *Session) recvLoop() {
	for {
		ct, err := s.conn.Recv(context.Background())
		if err != nil {
			s.mu.Lock()
			clean := s.closing
			s.mu.Unlock()
			if clean {
				s.shutdown(nil)
			} else {
				s.shutdown(fmt.Errorf("connection lost: %w", err))
			}
			return
		}
		s.cmu.Lock()
		pt, err := s.cipher.Decrypt(ct)
		s.cmu.Unlock()
		if err != nil {
			// A message that does not decrypt is dropped; the session state
			// is unchanged (the ratchet guarantees it) and the peer resends
			// anything that matters because it is not acknowledged.
			s.reject("a message that failed authentication or replay checks", err)
			continue
		}
		f, err := DecodeFrame(pt)
		if err != nil {
			s.reject("a malformed chat frame", err)
			s.shutdown(fmt.Errorf("peer sent a malformed frame: %w", err))
			return
		}
		if err := s.handle(f); err != nil {
			s.shutdown(err)
			return
		}
	}
}

func (s *Session) handle(f *Frame) error {
	switch f.Type {
	case FrameText:
		s.mu.Lock()
		dup := s.seenSet[f.ID]
		if !dup {
			s.markSeenLocked(f.ID)
			s.dirtySeen = true
		}
		s.mu.Unlock()
		if !dup {
			s.kickPersist()
			s.emit(Event{Kind: EventMessage, ID: f.ID, Text: f.Text, Time: time.UnixMilli(f.SentAt)})
		}
		// Acknowledge duplicates too: our earlier acknowledgement may have been lost.
		s.queueAck(f.ID)
		return nil
	case FrameAck:
		var delivered []uint64
		s.mu.Lock()
		for _, id := range append([]uint64{f.ID}, f.More...) {
			if _, ok := s.dropPendingLocked(id); ok {
				delivered = append(delivered, id)
			}
		}
		s.mu.Unlock()
		if len(delivered) > 0 {
			s.kickPersist()
		}
		for _, id := range delivered {
			s.emit(Event{Kind: EventDelivered, ID: id, Time: time.Now()})
		}
		return nil
	case FrameBye:
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.shutdown(nil)
		return nil
	default:
		return s.handleFile(f)
	}
}

func (s *Session) markSeenLocked(id uint64) {
	if s.seenSet[id] {
		return
	}
	s.seen = append(s.seen, id)
	s.seenSet[id] = true
	if len(s.seen) > maxSeen {
		delete(s.seenSet, s.seen[0])
		s.seen = s.seen[1:]
	}
}

func (s *Session) reject(what string, err error) {
	if s.onReject != nil {
		s.onReject(what, err)
	}
}

func (s *Session) kickPersist() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flush saves what changed since the last flush (one Save, and so one fsync
// in the vault, per kind).
func (s *Session) flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if s.store == nil {
		// Nothing to save to (tests, benchmarks without a vault).
		s.dirtyPending, s.dirtySeen = false, false
		s.mu.Unlock()
		return nil
	}
	var pend, seen []byte
	if s.dirtyPending {
		pend, s.dirtyPending = encodePending(s.pendingLocked()), false
	}
	if s.dirtySeen {
		seen, s.dirtySeen = encodeSeen(s.seen), false
	}
	s.mu.Unlock()
	if pend != nil {
		if err := s.store.Save(storePending, pend); err != nil {
			s.mu.Lock()
			s.dirtyPending = true
			s.mu.Unlock()
			return fmt.Errorf("chat: storing pending messages: %w", err)
		}
	}
	if seen != nil {
		if err := s.store.Save(storeSeen, seen); err != nil {
			s.mu.Lock()
			s.dirtySeen = true
			s.mu.Unlock()
			return fmt.Errorf("chat: storing seen ids: %w", err)
		}
	}
	return nil
}

// persistLoop is the group commit: it flushes whenever something changed.
func (s *Session) persistLoop() {
	for {
		select {
		case <-s.kick:
			if err := s.flush(); err != nil {
				s.shutdown(fmt.Errorf("cannot store the conversation: %w", err))
				return
			}
		case <-s.done:
			return
		}
	}
}

func randomID() (uint64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// Stored state formats (docs/PROTOCOL.md §6.4), both strictly decoded:
//
//	pending = 0x01 || count(4) || count × (id(8) || sent-at ms(8) || len(4) || text)
//	seen    = 0x01 || count(4) || count × id(8)
const storeVersion = 1

var errStoreFormat = errors.New("malformed stored state")

func encodePending(msgs []PendingMessage) []byte {
	b := []byte{storeVersion}
	b = binary.BigEndian.AppendUint32(b, uint32(len(msgs)))
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint64(b, m.ID)
		b = binary.BigEndian.AppendUint64(b, uint64(m.SentAt.UnixMilli()))
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Text)))
		b = append(b, m.Text...)
	}
	return b
}

// maxStoredPending bounds how many pending messages a stored file may hold.
const maxStoredPending = maxPending

func decodePending(b []byte) ([]PendingMessage, error) {
	if len(b) < 5 || b[0] != storeVersion {
		return nil, fmt.Errorf("%w: bad header", errStoreFormat)
	}
	n := binary.BigEndian.Uint32(b[1:])
	if n > maxStoredPending {
		return nil, fmt.Errorf("%w: %d messages", errStoreFormat, n)
	}
	b = b[5:]
	out := make([]PendingMessage, 0, min(int(n), len(b)/20))
	for i := uint32(0); i < n; i++ {
		if len(b) < 20 {
			return nil, fmt.Errorf("%w: truncated", errStoreFormat)
		}
		m := PendingMessage{ID: binary.BigEndian.Uint64(b), SentAt: time.UnixMilli(int64(binary.BigEndian.Uint64(b[8:])))}
		l := binary.BigEndian.Uint32(b[16:])
		b = b[20:]
		if l > MaxTextSize || int(l) > len(b) {
			return nil, fmt.Errorf("%w: text length %d", errStoreFormat, l)
		}
		m.Text = string(b[:l])
		b = b[l:]
		out = append(out, m)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errStoreFormat, len(b))
	}
	return out, nil
}

func encodeSeen(ids []uint64) []byte {
	b := []byte{storeVersion}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	return b
}

func decodeSeen(b []byte) ([]uint64, error) {
	if len(b) < 5 || b[0] != storeVersion {
		return nil, fmt.Errorf("%w: bad header", errStoreFormat)
	}
	n := binary.BigEndian.Uint32(b[1:])
	if n > maxSeen || len(b) != 5+8*int(n) {
		return nil, fmt.Errorf("%w: %d ids in %d bytes", errStoreFormat, n, len(b))
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = binary.BigEndian.Uint64(b[5+8*i:])
	}
	return ids, nil
}
