package chat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Chat frames are the plaintexts carried inside ratchet messages
// (docs/PROTOCOL.md §6). Every frame starts with a version byte and a type
// byte followed by a 64-bit identifier; the rest depends on the type.
//
//	frame = version(1) || type(1) || id(8, big-endian) || body
const (
	frameVersion = 1
	frameHeader  = 10

	// MaxTextSize bounds the UTF-8 text of one message.
	MaxTextSize = 16 << 10
	// MaxFileNameSize bounds the name of an offered file.
	MaxFileNameSize = 255
	// chunkSize is the payload a sender puts in one file chunk: the frame
	// (10 + 8 + 15,853 = 15,871 = 31·512 − 1 bytes) then pads exactly to a
	// Padmé bucket of the ratchet (docs/PROTOCOL.md §4.5) and the encrypted
	// message fills one 16 KiB inner-TLS record (tested). Receivers accept
	// any chunk a frame can hold.
	chunkSize = 31*512 - 1 - frameHeader - 8
	// maxFrameSize bounds a whole frame (a full text message is the largest).
	maxFrameSize = frameHeader + 8 + MaxTextSize
)

// FrameType says what a frame carries.
type FrameType byte

// Frame types (docs/PROTOCOL.md §6).
const (
	FrameText        FrameType = 1  // id: message id; body: sent-at (8, unix ms) || UTF-8 text
	FrameAck         FrameType = 2  // id: an acknowledged message; body: more acknowledged ids (8 each, up to maxAckBatch-1)
	FrameFileOffer   FrameType = 3  // id: transfer id; body: size(8) || sha256(32) || name
	FrameFileAccept  FrameType = 4  // id: transfer id; body: resume offset(8)
	FrameFileDecline FrameType = 5  // id: transfer id; no body
	FrameFileChunk   FrameType = 6  // id: transfer id; body: offset(8) || data(1..chunkSize)
	FrameFileDone    FrameType = 7  // id: transfer id; no body (all chunks sent)
	FrameFileCancel  FrameType = 8  // id: transfer id; body: UTF-8 reason
	FrameBye         FrameType = 9  // id: 0; body: UTF-8 reason
	FrameFileAck     FrameType = 10 // id: transfer id; body: bytes received and written so far(8)
)

func (t FrameType) String() string {
	switch t {
	case FrameText:
		return "text"
	case FrameAck:
		return "ack"
	case FrameFileOffer:
		return "file-offer"
	case FrameFileAccept:
		return "file-accept"
	case FrameFileDecline:
		return "file-decline"
	case FrameFileChunk:
		return "file-chunk"
	case FrameFileDone:
		return "file-done"
	case FrameFileCancel:
		return "file-cancel"
	case FrameBye:
		return "bye"
	case FrameFileAck:
		return "file-ack"
	}
	return fmt.Sprintf("type-%d", byte(t))
}

// Frame is one decoded chat frame. Only the fields of its type are set.
type Frame struct {
	Type   FrameType
	ID     uint64
	SentAt int64    // FrameText: unix milliseconds
	Text   string   // FrameText, FrameFileCancel, FrameBye
	Size   uint64   // FrameFileOffer
	Sum    [32]byte // FrameFileOffer: SHA-256 of the whole file
	Name   string   // FrameFileOffer
	Offset uint64   // FrameFileAccept, FrameFileChunk, FrameFileAck
	Data   []byte   // FrameFileChunk
	More   []uint64 // FrameAck: further acknowledged ids after ID
}

// maxAckBatch bounds the ids one FrameAck acknowledges.
const maxAckBatch = 1024

// Errors from DecodeFrame.
var (
	ErrFrameTruncated = errors.New("chat: frame truncated")
	ErrFrameTooLong   = errors.New("chat: frame too long")
	ErrFrameVersion   = errors.New("chat: unknown frame version")
	ErrFrameType      = errors.New("chat: unknown frame type")
	ErrFrameBody      = errors.New("chat: malformed frame body")
)

// Encode returns the wire form of f.
func (f *Frame) Encode() []byte {
	b := make([]byte, frameHeader, frameHeader+16+len(f.Text)+len(f.Name)+len(f.Data)+40)
	b[0] = frameVersion
	b[1] = byte(f.Type)
	binary.BigEndian.PutUint64(b[2:], f.ID)
	switch f.Type {
	case FrameText:
		b = binary.BigEndian.AppendUint64(b, uint64(f.SentAt))
		b = append(b, f.Text...)
	case FrameFileOffer:
		b = binary.BigEndian.AppendUint64(b, f.Size)
		b = append(b, f.Sum[:]...)
		b = append(b, f.Name...)
	case FrameFileAccept, FrameFileAck:
		b = binary.BigEndian.AppendUint64(b, f.Offset)
	case FrameFileChunk:
		b = binary.BigEndian.AppendUint64(b, f.Offset)
		b = append(b, f.Data...)
	case FrameFileCancel, FrameBye:
		b = append(b, f.Text...)
	case FrameAck:
		for _, id := range f.More {
			b = binary.BigEndian.AppendUint64(b, id)
		}
	}
	return b
}

// DecodeFrame parses a frame strictly: every length is bounded, texts must be
// valid UTF-8, and no type may carry bytes it does not define.
func DecodeFrame(b []byte) (*Frame, error) {
	if len(b) > maxFrameSize {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrFrameTooLong, len(b), maxFrameSize)
	}
	if len(b) < frameHeader {
		return nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrFrameTruncated, len(b), frameHeader)
	}
	if b[0] != frameVersion {
		return nil, fmt.Errorf("%w %d (this build speaks %d)", ErrFrameVersion, b[0], frameVersion)
	}
	f := &Frame{Type: FrameType(b[1]), ID: binary.BigEndian.Uint64(b[2:])}
	body := b[frameHeader:]
	text := func(max int) error {
		if len(body) > max {
			return fmt.Errorf("%w: %s text of %d bytes (at most %d)", ErrFrameBody, f.Type, len(body), max)
		}
		if !utf8.Valid(body) {
			return fmt.Errorf("%w: %s text is not valid UTF-8", ErrFrameBody, f.Type)
		}
		f.Text = string(body)
		return nil
	}
	exact := func(want int) error {
		if len(body) != want {
			return fmt.Errorf("%w: %s body of %d bytes, want %d", ErrFrameBody, f.Type, len(body), want)
		}
		return nil
	}
	var err error
	switch f.Type {
	case FrameText:
		if len(body) < 8 {
			return nil, fmt.Errorf("%w: text without timestamp", ErrFrameTruncated)
		}
		f.SentAt = int64(binary.BigEndian.Uint64(body))
		body = body[8:]
		err = text(MaxTextSize)
	case FrameAck:
		if len(body)%8 != 0 || len(body)/8 >= maxAckBatch {
			return nil, fmt.Errorf("%w: ack body of %d bytes (a multiple of 8, fewer than %d ids)", ErrFrameBody, len(body), maxAckBatch)
		}
		for ; len(body) > 0; body = body[8:] {
			f.More = append(f.More, binary.BigEndian.Uint64(body))
		}
	case FrameFileDecline, FrameFileDone:
		err = exact(0)
	case FrameFileOffer:
		if len(body) < 40 {
			return nil, fmt.Errorf("%w: file offer of %d bytes", ErrFrameTruncated, len(body))
		}
		f.Size = binary.BigEndian.Uint64(body)
		copy(f.Sum[:], body[8:40])
		name := body[40:]
		if len(name) == 0 || len(name) > MaxFileNameSize || !utf8.Valid(name) {
			return nil, fmt.Errorf("%w: file name must be 1..%d bytes of UTF-8", ErrFrameBody, MaxFileNameSize)
		}
		f.Name = string(name)
	case FrameFileAccept, FrameFileAck:
		if err = exact(8); err == nil {
			f.Offset = binary.BigEndian.Uint64(body)
		}
	case FrameFileChunk:
		if len(body) < 9 {
			return nil, fmt.Errorf("%w: file chunk without data", ErrFrameTruncated)
		}
		f.Offset = binary.BigEndian.Uint64(body)
		f.Data = body[8:]
	case FrameFileCancel, FrameBye:
		err = text(1024)
	default:
		return nil, fmt.Errorf("%w %d", ErrFrameType, b[1])
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}
