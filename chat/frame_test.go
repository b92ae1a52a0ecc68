package chat

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleFrames() []*Frame {
	return []*Frame{
		{Type: FrameText, ID: 1, SentAt: 1764130000000, Text: "hello, 世界"},
		{Type: FrameText, ID: 2, SentAt: 0, Text: ""},
		{Type: FrameAck, ID: 7},
		{Type: FrameAck, ID: 7, More: []uint64{8, 9, 1 << 60}},
		{Type: FrameFileOffer, ID: 9, Size: 1 << 33, Sum: [32]byte{1, 2, 3}, Name: "photo.jpg"},
		{Type: FrameFileAccept, ID: 9, Offset: 4096},
		{Type: FrameFileDecline, ID: 9},
		{Type: FrameFileChunk, ID: 9, Offset: 12288, Data: bytes.Repeat([]byte{0xAB}, chunkSize)},
		{Type: FrameFileDone, ID: 9},
		{Type: FrameFileCancel, ID: 9, Text: "disk full"},
		{Type: FrameBye, Text: "quit"},
		{Type: FrameFileAck, ID: 9, Offset: 1 << 20},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range sampleFrames() {
		got, err := DecodeFrame(f.Encode())
		if err != nil {
			t.Fatalf("%s: %v", f.Type, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", f.Type, got, f)
		}
	}
}

func TestFrameRejects(t *testing.T) {
	text := (&Frame{Type: FrameText, ID: 1, Text: "hi"}).Encode()
	offer := (&Frame{Type: FrameFileOffer, ID: 1, Size: 3, Name: "a"}).Encode()
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrFrameTruncated},
		{"short header", text[:5], ErrFrameTruncated},
		{"version", append([]byte{2}, text[1:]...), ErrFrameVersion},
		{"type", append([]byte{1, 99}, text[2:]...), ErrFrameType},
		{"type zero", append([]byte{1, 0}, text[2:]...), ErrFrameType},
		{"text without time", text[:frameHeader+3], ErrFrameTruncated},
		{"text not utf8", append(append([]byte{}, text...), 0xff), ErrFrameBody},
		{"text too long", append(append([]byte{}, text[:frameHeader+8]...), strings.Repeat("a", MaxTextSize+1)...), ErrFrameTooLong},
		{"bye too long", append((&Frame{Type: FrameBye}).Encode(), strings.Repeat("a", 1025)...), ErrFrameBody},
		{"ack with a partial id", append((&Frame{Type: FrameAck, ID: 1}).Encode(), 0), ErrFrameBody},
		{"ack batch too large", (&Frame{Type: FrameAck, ID: 1, More: make([]uint64, maxAckBatch)}).Encode(), ErrFrameBody},
		{"offer no name", offer[:frameHeader+40], ErrFrameBody},
		{"offer short", offer[:frameHeader+20], ErrFrameTruncated},
		{"accept short", (&Frame{Type: FrameFileAccept}).Encode()[:frameHeader+7], ErrFrameBody},
		{"chunk empty", (&Frame{Type: FrameFileChunk}).Encode(), ErrFrameTruncated},
		{"too long", make([]byte, maxFrameSize+1), ErrFrameTooLong},
	}
	for _, c := range cases {
		_, err := DecodeFrame(c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		f.Add(fr.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		// A frame that decodes re-encodes to the same bytes (canonical form).
		if !bytes.Equal(fr.Encode(), b) {
			t.Fatalf("non-canonical frame accepted: %x", b)
		}
	})
}
