package rtc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// sampleBlob is an offer with one host and one server-reflexive IPv4
// candidate, the typical blob of a peer behind a home router.
func sampleBlob(app []byte) *Blob {
	b := &Blob{Kind: KindOffer, Role: RoleActpass, App: app}
	for i := range b.ICEKey {
		b.ICEKey[i] = byte(0xa0 + i)
	}
	for i := range b.Fingerprint {
		b.Fingerprint[i] = byte(i * 7)
	}
	b.Candidates = []Candidate{
		{Type: CandidateHost, Addr: mustAP("192.168.1.23:50123")},
		{Type: CandidateSrflx, Addr: mustAP("203.0.113.77:61234")},
	}
	return b
}

// fourBlob has four candidates, one of them IPv6.
func fourBlob(app []byte) *Blob {
	b := sampleBlob(app)
	b.Kind, b.Role = KindAnswer, RoleActive
	b.Candidates = append(b.Candidates,
		Candidate{Type: CandidateHost, Addr: mustAP("[2001:db8:1234:5678:9abc:def0:1234:5678]:50124")},
		Candidate{Type: CandidateRelay, Addr: mustAP("198.51.100.9:49200")},
	)
	return b
}

func randBlob(r *rand.Rand) *Blob {
	b := &Blob{Kind: Kind(r.IntN(2))}
	if b.Kind == KindAnswer {
		b.Role = Role(1 + r.IntN(2))
	}
	for i := range b.ICEKey {
		b.ICEKey[i] = byte(r.Uint32())
	}
	for i := range b.Fingerprint {
		b.Fingerprint[i] = byte(r.Uint32())
	}
	n := 1 + r.IntN(MaxCandidates)
	for i := 0; i < n; i++ {
		var c Candidate
		c.Type = CandidateType(r.IntN(4))
		var a netip.Addr
		if r.IntN(3) == 0 {
			var x [16]byte
			for j := range x {
				x[j] = byte(r.Uint32())
			}
			x[0] = 0x20 // global unicast, never mapped or multicast
			a = netip.AddrFrom16(x)
		} else {
			a = netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.Uint32()), byte(r.Uint32()), byte(1 + r.IntN(254))})
		}
		port := uint16(1 + r.IntN(65535))
		if r.IntN(5) == 0 {
			c.TCP = true
			c.TCPType = TCPType(1 + r.IntN(3))
			if c.TCPType == TCPTypeActive && r.IntN(2) == 0 {
				port = 0
			}
		}
		c.Addr = netip.AddrPortFrom(a, port)
		b.Candidates = append(b.Candidates, c)
	}
	if n := r.IntN(MaxAppData + 1); n > 0 {
		b.App = make([]byte, n)
	}
	for i := range b.App {
		b.App[i] = byte(r.Uint32())
	}
	return b
}

func TestBase58RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		for rep := 0; rep < 5; rep++ {
			b := make([]byte, n)
			for i := range b {
				switch rep {
				case 0: // all zero
				case 1:
					b[i] = 0xff
				default:
					b[i] = byte(r.Uint32())
				}
			}
			s := base58Encode(b)
			if len(s) != base58EncodedLen(n) {
				t.Fatalf("len(encode(%d bytes)) = %d, want %d", n, len(s), base58EncodedLen(n))
			}
			got, _, ok := base58Decode(s)
			if !ok || !bytes.Equal(got, b) {
				t.Fatalf("round trip of %x: %x ok=%v", b, got, ok)
			}
		}
	}
	// The widest block value that fits and the first that does not.
	for k := 1; k <= 8; k++ {
		n := blockChars[k]
		if charsBlock[n] != k {
			t.Fatalf("charsBlock[%d] = %d, want %d", n, charsBlock[n], k)
		}
		if _, _, ok := base58Decode(strings.Repeat("z", n)); ok {
			t.Fatalf("%d z's decode although they overflow %d bytes", n, k)
		}
	}
}

func TestBlobRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ws := []string{" ", "\n", "\r\n", "\t", "\u00a0", "\u200b", "\ufeff", "  \n> "[:3]}
	for i := 0; i < 2000; i++ {
		b := randBlob(r)
		raw, err := b.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal %+v: %v", b, err)
		}
		text, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, TextPrefix) || len(text) > MaxTextLen {
			t.Fatalf("text %q", text)
		}
		// Chat apps break long lines and insert odd spaces; some capitalise.
		var sb strings.Builder
		for j, c := range text {
			if j > 0 && r.IntN(20) == 0 {
				sb.WriteString(ws[r.IntN(len(ws))])
			}
			if j == 0 && r.IntN(2) == 0 {
				c = 'R'
			}
			sb.WriteRune(c)
		}
		mangled := "\n " + sb.String() + "\n"
		got, err := Parse(mangled)
		if err != nil {
			t.Fatalf("parse %q: %v", mangled, err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, b)
		}
		gotRaw, err := DecodeText(mangled)
		if err != nil || !bytes.Equal(gotRaw, raw) {
			t.Fatalf("DecodeText = %x, %v; want %x", gotRaw, err, raw)
		}
	}
}

// TestBlobSize checks the size targets of issue 2 and logs the lengths the
// report quotes.
func TestBlobSize(t *testing.T) {
	app20 := bytes.Repeat([]byte{0xaa}, 20)
	app27 := bytes.Repeat([]byte{0xaa}, 27) // handshake.BlobInfo, docs/PROTOCOL.md §2.2
	app64 := bytes.Repeat([]byte{0xaa}, 64)
	for _, tc := range []struct {
		name  string
		blob  *Blob
		limit int
	}{
		{"host+srflx IPv4, no app field", sampleBlob(nil), 140},
		{"host+srflx IPv4, 20-byte app field", sampleBlob(app20), 140},
		{"host+srflx IPv4, 27-byte app field", sampleBlob(app27), 140},
		{"host+srflx IPv4, 64-byte app field", sampleBlob(app64), 200},
		{"4 candidates incl. IPv6, no app field", fourBlob(nil), 220},
		{"4 candidates incl. IPv6, 20-byte app field", fourBlob(app20), 220},
		{"4 candidates incl. IPv6, 27-byte app field", fourBlob(app27), 220},
		{"4 candidates incl. IPv6, 64-byte app field", fourBlob(app64), 225},
	} {
		s, err := tc.blob.Encode()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-45s %3d characters", tc.name, len(s))
		if len(s) > tc.limit {
			t.Errorf("%s: %d characters, want at most %d", tc.name, len(s), tc.limit)
		}
	}
}

// craft returns the text of body followed by a correct checksum.
func craft(body []byte) string {
	raw := binary.BigEndian.AppendUint32(append([]byte(nil), body...), crc32.ChecksumIEEE(body))
	return TextPrefix + base58Encode(raw)
}

func TestBlobRejections(t *testing.T) {
	good, _ := sampleBlob(nil).Encode()
	goodRaw, _ := sampleBlob(nil).MarshalBinary()
	body := goodRaw[:len(goodRaw)-4]
	with := func(f func(b []byte) []byte) string {
		return craft(f(append([]byte(nil), body...)))
	}
	// candidate i's descriptor offset in body
	cand1 := headerSize
	flipped := []byte(good)
	if flipped[20] == 'a' {
		flipped[20] = 'b'
	} else {
		flipped[20] = 'a'
	}
	for _, tc := range []struct {
		name string
		in   string
		want error
		pos  int
	}{
		{"empty", "", ErrTruncated, 0},
		{"only whitespace", " \n\t", ErrTruncated, 0},
		{"base64 SDP", "eyJ0eXBlIjoib2ZmZXIiLCJzZHAiOiJ2PTAi", ErrPrefix, 0},
		{"other prefix", "rtc2" + good[4:], ErrPrefix, 0},
		{"prefix cut", "rt", ErrPrefix, 0},
		{"letter O", good[:10] + "O" + good[11:], ErrBadChar, 11},
		{"zero", " " + good[:30] + "0" + good[31:], ErrBadChar, 32},
		{"underscore", good[:50] + "_" + good[51:], ErrBadChar, 51},
		{"non-ASCII", good[:7] + "é" + good[8:], ErrBadChar, 8},
		{"invalid UTF-8", good[:9] + "\xff" + good[10:], ErrBadChar, 10},
		{"one character changed", string(flipped), ErrChecksum, 0},
		{"two characters swapped", good[:30] + good[31:32] + good[30:31] + good[32:], ErrChecksum, 0},
		{"cut at a block boundary", good[:4+11*6], ErrTruncated, 0},
		{"last character missing", good[:len(good)-1], ErrTruncated, 0},
		{"half missing", good[:len(good)/2+1], ErrTruncated, 0},
		{"block overflow", good[:4+11] + "zzzzzzzzzzz" + good[4+22:], ErrChecksum, 0},
		{"unknown version", with(func(b []byte) []byte { b[0] = 2; return b }), ErrVersion, 0},
		{"version 0", with(func(b []byte) []byte { b[0] = 0; return b }), ErrVersion, 0},
		{"too long text", good + strings.Repeat("2", MaxTextLen), ErrTooLong, 0},
		{"too long input", strings.Repeat(" ", maxRawInput+1), ErrTooLong, 0},
		{"app field 65 bytes", with(func(b []byte) []byte { return append(b, make([]byte, 65)...) }), ErrTooLong, 0},
		{"too short binary", craft(body[:20]), ErrTruncated, 0},
		{"no candidates", with(func(b []byte) []byte { b[1] &= 0x0f; return b }), ErrNoCandidates, 0},
		{"more candidates than bytes", with(func(b []byte) []byte { b[1] |= 0xf0; return b }), ErrTruncated, 0},
		{"reserved flag", with(func(b []byte) []byte { b[1] |= 8; return b }), ErrMalformed, 0},
		{"offer with role active", with(func(b []byte) []byte { b[1] |= 2; return b }), ErrMalformed, 0},
		{"answer with role actpass", with(func(b []byte) []byte { b[1] |= 1; return b }), ErrMalformed, 0},
		{"reserved candidate bits", with(func(b []byte) []byte { b[cand1] |= 0x40; return b }), ErrMalformed, 0},
		{"UDP with tcptype", with(func(b []byte) []byte { b[cand1] |= 0x10; return b }), ErrMalformed, 0},
		{"TCP without tcptype", with(func(b []byte) []byte { b[cand1] |= 0x08; return b }), ErrMalformed, 0},
		{"address 0.0.0.0", with(func(b []byte) []byte { copy(b[cand1+1:], []byte{0, 0, 0, 0}); return b }), ErrMalformedAddress, 0},
		{"multicast address", with(func(b []byte) []byte { copy(b[cand1+1:], []byte{224, 0, 0, 1}); return b }), ErrMalformedAddress, 0},
		{"broadcast address", with(func(b []byte) []byte { copy(b[cand1+1:], []byte{255, 255, 255, 255}); return b }), ErrMalformedAddress, 0},
		{"port 0", with(func(b []byte) []byte { b[cand1+5], b[cand1+6] = 0, 0; return b }), ErrMalformedAddress, 0},
		{"IPv4-mapped IPv6", with(func(b []byte) []byte {
			c := append([]byte{1 << 2}, netip.MustParseAddr("::ffff:192.0.2.1").AsSlice()...)
			c = append(c, 0x12, 0x34)
			return append(b[:cand1], c...)
		}), ErrMalformedAddress, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
			var be *BlobError
			if !errors.As(err, &be) || be.Pos != tc.pos {
				t.Fatalf("error %#v, want position %d", err, tc.pos)
			}
			if tc.pos > 0 && !strings.Contains(err.Error(), "position") {
				t.Fatalf("error %q does not name the position", err)
			}
		})
	}
}

// Every cut of a blob without an application field is reported as truncated
// (or, when the prefix itself is cut, as lacking the prefix).
func TestBlobEveryCut(t *testing.T) {
	good, _ := fourBlob(nil).Encode()
	for n := 0; n < len(good); n++ {
		_, err := Parse(good[:n])
		if !errors.Is(err, ErrTruncated) && !(n < len(TextPrefix) && errors.Is(err, ErrPrefix)) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
}

func TestBlobEncodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(b *Blob)
		want error
	}{
		{"no candidates", func(b *Blob) { b.Candidates = nil }, ErrNoCandidates},
		{"16 candidates", func(b *Blob) {
			for len(b.Candidates) <= MaxCandidates {
				b.Candidates = append(b.Candidates, b.Candidates[0])
			}
		}, ErrTooLong},
		{"app 65 bytes", func(b *Blob) { b.App = make([]byte, 65) }, ErrTooLong},
		{"zone", func(b *Blob) { b.Candidates[0].Addr = mustAP("[fe80::1%eth0]:5") }, ErrMalformedAddress},
		{"bad role", func(b *Blob) { b.Role = RolePassive }, ErrMalformed},
	} {
		b := sampleBlob(nil)
		tc.f(b)
		if _, err := b.Encode(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 8; i++ {
		s, _ := randBlob(r).Encode()
		f.Add(s)
	}
	s, _ := sampleBlob(nil).Encode()
	f.Add(s)
	f.Add("rtc1")
	f.Add("rtc1 zzzzzzzzzzz")
	f.Fuzz(func(t *testing.T, in string) {
		b, err := Parse(in)
		if err != nil {
			var be *BlobError
			if !errors.As(err, &be) || b != nil {
				t.Fatalf("error %v is not a *BlobError", err)
			}
			return
		}
		raw, err := DecodeText(in)
		if err != nil {
			t.Fatal(err)
		}
		again, err := b.MarshalBinary()
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding %+v: %x %v, want %x", b, again, err, raw)
		}
	})
}

func FuzzParseBinary(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 8; i++ {
		raw, _ := randBlob(r).MarshalBinary()
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := ParseBinary(raw)
		if err != nil {
			return
		}
		again, err := b.MarshalBinary()
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding: %x %v, want %x", again, err, raw)
		}
	})
}
