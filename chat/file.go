package chat

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
)

// File transfer (docs/PROTOCOL.md §6.3): offer → accept/decline → chunks in
// order → done. The receiver acknowledges the bytes it has written
// (FrameFileAck) and the sender keeps at most fileWindow bytes unacknowledged,
// so a slow receiver or link slows the sender instead of filling memory. The
// receiver writes into a temporary file beside the destination and renames it
// to the final name only after the SHA-256 of the whole file matched the
// offer; an interrupted transfer leaves no file under the final name.
const (
	freeSpaceMargin = 64 << 20  // left free on the receiving disk
	fileWindow      = 4 << 20   // bytes in flight, sender side
	fileAckEvery    = 256 << 10 // receiver acknowledges at least this often
	progressGap     = 100 * time.Millisecond
)

// FileStatus describes one transfer for a UI.
type FileStatus struct {
	ID       uint64
	Name     string // offered name (sanitised on the receiving side)
	Path     string // local path: the source, or the final file once done
	Size     uint64
	Done     uint64 // bytes acknowledged (sender) or written (receiver)
	Incoming bool
	Started  time.Time
}

// Rate returns the average speed so far in bytes per second.
func (f *FileStatus) Rate() float64 {
	el := time.Since(f.Started).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(f.Done) / el
}

// ETA estimates the time left at the average rate so far.
func (f *FileStatus) ETA() time.Duration {
	r := f.Rate()
	if r <= 0 || f.Done >= f.Size {
		return 0
	}
	return time.Duration(float64(f.Size-f.Done) / r * float64(time.Second))
}

type outTransfer struct {
	id   uint64
	path string
	name string
	size uint64
	sum  [32]byte

	mu       sync.Mutex
	cond     *sync.Cond
	acked    uint64
	started  time.Time
	accepted bool
	stopped  bool
	complete bool
}

func (t *outTransfer) status() *FileStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &FileStatus{ID: t.id, Name: t.name, Path: t.path, Size: t.size, Done: t.acked, Started: t.started}
}

func (t *outTransfer) stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.cond.Broadcast()
}

func (t *outTransfer) finished() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.complete
}

type inTransfer struct {
	id   uint64
	name string
	size uint64
	sum  [32]byte

	mu      sync.Mutex // guards the fields below against abort from Close
	dir     string
	tmp     *os.File
	hash    hash.Hash
	written uint64
	lastAck uint64
	// A background fsync every fileSyncEvery bytes keeps the final one
	// short: syncRes gets the result of the one in flight (nil if none).
	lastSync uint64
	syncRes  chan error
	started  time.Time
	lastProg time.Time
}

// fileSyncEvery is how much a receiver writes between background fsyncs.
var fileSyncEvery uint64 = 8 << 20

// backgroundSync collects the result of the background fsync in flight
// (waiting for it if wait is set) and starts the next one when
// fileSyncEvery bytes were written since the last. It is called with t.mu
// held; the fsync itself runs without the lock, beside the transfer, so
// the last fsync after file-done only has the tail to write.
func (t *inTransfer) backgroundSync(wait bool) error {
	if t.syncRes != nil {
		if wait {
			err := <-t.syncRes
			t.syncRes = nil
			return err
		}
		select {
		case err := <-t.syncRes:
			t.syncRes = nil
			if err != nil {
				return err
			}
		default:
			return nil
		}
	}
	if !wait && t.written-t.lastSync >= fileSyncEvery {
		t.lastSync = t.written
		res, f := make(chan error, 1), t.tmp
		t.syncRes = res
		go func() { res <- f.Sync() }()
	}
	return nil
}

// status must be called with t.mu held or after the transfer ended.
func (t *inTransfer) status() *FileStatus {
	return &FileStatus{ID: t.id, Name: t.name, Size: t.size, Done: t.written, Incoming: true, Started: t.started}
}

// abort closes and removes the temporary file, if any.
func (t *inTransfer) abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.abortLocked()
}

func (t *inTransfer) abortLocked() {
	if t.tmp != nil {
		t.tmp.Close()
		os.Remove(t.tmp.Name())
		t.tmp = nil
	}
}

// OfferFile offers the regular file at path to the peer and returns the
// transfer id. It reads the file once to compute its SHA-256; the transfer
// starts when the peer accepts.
func (s *Session) OfferFile(path string) (uint64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("chat: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return 0, fmt.Errorf("chat: %w", err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("chat: %s is not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return 0, fmt.Errorf("chat: reading %s: %w", path, err)
	}
	if n != st.Size() {
		return 0, fmt.Errorf("chat: %s changed while it was read", path)
	}
	name := filepath.Base(path)
	if len(name) > MaxFileNameSize {
		name = name[len(name)-MaxFileNameSize:]
	}
	id, err := randomID()
	if err != nil {
		return 0, err
	}
	t := &outTransfer{id: id, path: path, name: name, size: uint64(n)}
	t.cond = sync.NewCond(&t.mu)
	copy(t.sum[:], h.Sum(nil))
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	s.outFiles[id] = t
	s.mu.Unlock()
	if err := s.sendFrame(&Frame{Type: FrameFileOffer, ID: id, Size: t.size, Sum: t.sum, Name: name}); err != nil {
		return 0, err
	}
	return id, nil
}

// AcceptFile accepts an offered file; it is written into dir.
func (s *Session) AcceptFile(id uint64, dir string) error {
	s.mu.Lock()
	t, ok := s.inFiles[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("chat: no file offer %x", id)
	}
	t.mu.Lock()
	if t.tmp != nil {
		t.mu.Unlock()
		return fmt.Errorf("chat: file %x already accepted", id)
	}
	// The offered size is the peer's claim: refuse what cannot fit, so a
	// hostile peer cannot fill the disk (chunks beyond the size are refused
	// as they arrive).
	if free, ok := freeSpace(dir); ok && t.size+freeSpaceMargin > free {
		t.mu.Unlock()
		return fmt.Errorf("chat: not enough free space in %s for %s (%d bytes offered, %d free)", dir, t.name, t.size, free)
	}
	tmp, err := os.CreateTemp(dir, ".rtcchat-*.part")
	if err != nil {
		t.mu.Unlock()
		return fmt.Errorf("chat: cannot receive into %s: %w", dir, err)
	}
	t.dir, t.tmp, t.hash, t.started, t.lastProg = dir, tmp, sha256.New(), time.Now(), time.Now()
	t.mu.Unlock()
	if err := s.sendFrame(&Frame{Type: FrameFileAccept, ID: id, Offset: 0}); err != nil {
		t.abort()
		return err
	}
	return nil
}

// DeclineFile refuses an offered file.
func (s *Session) DeclineFile(id uint64) error {
	s.mu.Lock()
	_, ok := s.inFiles[id]
	delete(s.inFiles, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("chat: no file offer %x", id)
	}
	return s.sendFrame(&Frame{Type: FrameFileDecline, ID: id})
}

// maxOpenOffers bounds the incoming offers a peer may leave unanswered.
const maxOpenOffers = 64

func (s *Session) handleFile(f *Frame) error {
	switch f.Type {
	case FrameFileOffer:
		name := sanitizeFileName(f.Name)
		s.mu.Lock()
		if _, dup := s.inFiles[f.ID]; dup || len(s.inFiles) >= maxOpenOffers {
			s.mu.Unlock()
			return s.sendFrame(&Frame{Type: FrameFileDecline, ID: f.ID})
		}
		t := &inTransfer{id: f.ID, name: name, size: f.Size, sum: f.Sum}
		s.inFiles[f.ID] = t
		s.mu.Unlock()
		s.emit(Event{Kind: EventFileOffered, ID: f.ID, File: t.status()})
	case FrameFileAccept, FrameFileDecline, FrameFileAck:
		s.mu.Lock()
		t := s.outFiles[f.ID]
		s.mu.Unlock()
		if t == nil {
			return nil // late frame for a transfer that ended
		}
		switch f.Type {
		case FrameFileDecline:
			s.endOut(t)
			s.emit(Event{Kind: EventFileFailed, ID: t.id, File: t.status(), Err: errors.New("the peer declined the file")})
		case FrameFileAccept:
			t.mu.Lock()
			first := !t.accepted
			t.accepted, t.started = true, time.Now()
			t.mu.Unlock()
			if first && f.Offset == 0 {
				go s.sendFileChunks(t)
			}
		case FrameFileAck:
			t.mu.Lock()
			if f.Offset > t.acked && f.Offset <= t.size {
				t.acked = f.Offset
			}
			done := t.acked == t.size && t.accepted
			t.complete = done
			t.mu.Unlock()
			t.cond.Broadcast()
			if done {
				s.endOut(t)
				s.emit(Event{Kind: EventFileDone, ID: t.id, File: t.status()})
			} else {
				s.emit(Event{Kind: EventFileProgress, ID: t.id, File: t.status()})
			}
		}
	case FrameFileChunk, FrameFileDone, FrameFileCancel:
		s.mu.Lock()
		t := s.inFiles[f.ID]
		s.mu.Unlock()
		if t == nil {
			// The sender may still be running a transfer we ended: tell it.
			if f.Type == FrameFileChunk {
				return s.sendFrame(&Frame{Type: FrameFileCancel, ID: f.ID, Text: "unknown transfer"})
			}
			if f.Type == FrameFileCancel {
				s.cancelOut(f.ID, f.Text)
			}
			return nil
		}
		return s.receiveFile(t, f)
	}
	return nil
}

func (s *Session) receiveFile(t *inTransfer, f *Frame) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	fail := func(reason string, tell bool) error {
		t.abortLocked()
		s.mu.Lock()
		delete(s.inFiles, t.id)
		s.mu.Unlock()
		s.emit(Event{Kind: EventFileFailed, ID: t.id, File: t.status(), Err: errors.New(reason)})
		if tell {
			return s.sendFrame(&Frame{Type: FrameFileCancel, ID: t.id, Text: reason})
		}
		return nil
	}
	switch f.Type {
	case FrameFileCancel:
		return fail("the peer cancelled: "+f.Text, false)
	case FrameFileChunk:
		if t.tmp == nil {
			return fail("chunk for a file that was not accepted", true)
		}
		if f.Offset != t.written || t.written+uint64(len(f.Data)) > t.size {
			return fail(fmt.Sprintf("chunk at offset %d out of order or past the offered size", f.Offset), true)
		}
		if _, err := t.tmp.Write(f.Data); err != nil {
			return fail("writing: "+err.Error(), true)
		}
		t.hash.Write(f.Data)
		t.written += uint64(len(f.Data))
		if err := t.backgroundSync(false); err != nil {
			return fail("sync: "+err.Error(), true)
		}
		if t.written-t.lastAck >= fileAckEvery && t.written < t.size {
			t.lastAck = t.written
			if err := s.sendFrame(&Frame{Type: FrameFileAck, ID: t.id, Offset: t.written}); err != nil {
				return err
			}
		}
		if time.Since(t.lastProg) >= progressGap {
			t.lastProg = time.Now()
			s.emit(Event{Kind: EventFileProgress, ID: t.id, File: t.status()})
		}
	case FrameFileDone:
		if t.tmp == nil || t.written != t.size {
			return fail(fmt.Sprintf("transfer ended after %d of %d bytes", t.written, t.size), true)
		}
		if subtle.ConstantTimeCompare(t.hash.Sum(nil), t.sum[:]) != 1 {
			return fail("SHA-256 mismatch: the file was damaged and has been discarded", true)
		}
		if err := t.backgroundSync(true); err != nil {
			return fail("sync: "+err.Error(), true)
		}
		if err := t.tmp.Sync(); err != nil {
			return fail("sync: "+err.Error(), true)
		}
		tmpName := t.tmp.Name()
		if err := t.tmp.Close(); err != nil {
			return fail("close: "+err.Error(), true)
		}
		t.tmp = nil
		final, err := placeFile(tmpName, t.dir, t.name)
		if err != nil {
			os.Remove(tmpName)
			return fail(err.Error(), true)
		}
		s.mu.Lock()
		delete(s.inFiles, t.id)
		s.mu.Unlock()
		st := t.status()
		st.Path = final
		s.emit(Event{Kind: EventFileDone, ID: t.id, File: st})
		return s.sendFrame(&Frame{Type: FrameFileAck, ID: t.id, Offset: t.size})
	}
	return nil
}

// placeFile moves the verified temporary file to the first free name of the
// form name, "name (1)", ... in dir, without ever replacing an existing file.
func placeFile(tmp, dir, name string) (string, error) {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 0; i < 1000; i++ {
		cand := name
		if i > 0 {
			cand = fmt.Sprintf("%s (%d)%s", base, i, ext)
		}
		final := filepath.Join(dir, cand)
		// Link fails if final exists, so nothing is ever overwritten.
		if err := os.Link(tmp, final); err == nil {
			os.Remove(tmp)
			return final, nil
		} else if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("cannot place %s: %w", final, err)
		}
	}
	return "", fmt.Errorf("no free name for %s in %s", name, dir)
}

// sanitizeFileName keeps an offered name from escaping the download folder,
// hiding itself or disguising its type: no separators or characters Windows
// forbids, no control or format characters (such as the right-to-left
// override that shows "invoice\u202Efdp.exe" as "invoiceexe.pdf"), no
// leading dots, no trailing dots or spaces, no reserved device names.
func sanitizeFileName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case strings.ContainsRune(`/\:*?"<>|`, r), r == 0, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if name == "" {
		name = "file"
	}
	base := strings.ToUpper(strings.SplitN(name, ".", 2)[0])
	switch base {
	case "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		name = "_" + name
	}
	return name
}

func (s *Session) sendFileChunks(t *outTransfer) {
	fh, err := os.Open(t.path)
	if err != nil {
		s.abortOut(t, "cannot open: "+err.Error())
		return
	}
	defer fh.Close()
	buf := make([]byte, chunkSize)
	var off uint64
	for off < t.size {
		t.mu.Lock()
		for !t.stopped && off-t.acked >= fileWindow {
			t.cond.Wait()
		}
		stopped := t.stopped
		t.mu.Unlock()
		if stopped {
			return
		}
		n, err := io.ReadFull(fh, buf[:min(uint64(len(buf)), t.size-off)])
		if err != nil {
			s.abortOut(t, "reading the file: "+err.Error())
			return
		}
		if err := s.sendBulk(&Frame{Type: FrameFileChunk, ID: t.id, Offset: off, Data: buf[:n]}); err != nil {
			return // the session is ending; shutdown reports the transfer
		}
		off += uint64(n)
	}
	_ = s.sendBulk(&Frame{Type: FrameFileDone, ID: t.id})
}

func (s *Session) endOut(t *outTransfer) {
	s.mu.Lock()
	delete(s.outFiles, t.id)
	s.mu.Unlock()
	t.stop()
}

func (s *Session) abortOut(t *outTransfer, reason string) {
	s.endOut(t)
	_ = s.sendBulk(&Frame{Type: FrameFileCancel, ID: t.id, Text: reason})
	s.emit(Event{Kind: EventFileFailed, ID: t.id, File: t.status(), Err: errors.New(reason)})
}

func (s *Session) cancelOut(id uint64, reason string) {
	s.mu.Lock()
	t := s.outFiles[id]
	s.mu.Unlock()
	if t != nil {
		s.endOut(t)
		s.emit(Event{Kind: EventFileFailed, ID: id, File: t.status(), Err: errors.New("the peer cancelled: " + reason)})
	}
}
