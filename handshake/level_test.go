package handshake

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"testing"
)

func sha512Sum(b []byte) [64]byte { return sha512.Sum512(b) }

func TestBlobInfoRoundTrip(t *testing.T) {
	var c [CommitmentSize]byte
	for i := range c {
		c[i] = byte(i)
	}
	for lo := LevelStandard; lo <= LevelQuantum; lo++ {
		for hi := lo; hi <= LevelQuantum; hi++ {
			bi := BlobInfo{MinLevel: lo, MaxLevel: hi, Commitment: c}
			enc, err := EncodeBlobInfo(bi)
			if err != nil {
				t.Fatal(err)
			}
			if len(enc) != BlobInfoSize || len(enc) > 64 {
				t.Fatalf("size %d", len(enc))
			}
			got, err := ParseBlobInfo(enc)
			if err != nil || got != bi {
				t.Fatalf("%v..%v: %v %+v", lo, hi, err, got)
			}
		}
	}
	if _, err := EncodeBlobInfo(BlobInfo{MinLevel: LevelQuantum, MaxLevel: LevelStandard}); !errors.Is(err, ErrUnknownLevel) {
		t.Fatal(err)
	}
}

func TestParseBlobInfoRejects(t *testing.T) {
	good, _ := EncodeBlobInfo(BlobInfo{MinLevel: LevelEnhanced, MaxLevel: LevelQuantum})
	mod := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrBlobInfo},
		{"version", mod(0, 2), ErrBlobInfoVersion},
		{"short", good[:BlobInfoSize-1], ErrBlobInfo},
		{"long", append(bytes.Clone(good), 0), ErrBlobInfo},
		{"min 0", mod(1, 0), ErrUnknownLevel},
		{"max 4", mod(2, 4), ErrUnknownLevel},
		{"min > max", mod(2, 1), ErrBlobInfo},
	} {
		if _, err := ParseBlobInfo(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, err, tc.want)
		}
	}
}

func TestNegotiateLevel(t *testing.T) {
	r := func(lo, hi Level) BlobInfo { return BlobInfo{MinLevel: lo, MaxLevel: hi} }
	S, E, Q := LevelStandard, LevelEnhanced, LevelQuantum
	for _, tc := range []struct {
		a, b BlobInfo
		want Level
		err  error
	}{
		{r(Q, Q), r(Q, Q), Q, nil},
		{r(S, Q), r(S, Q), Q, nil}, // highest both accept, not the lowest
		{r(S, E), r(S, Q), E, nil},
		{r(S, S), r(S, Q), S, nil},
		{r(S, S), r(E, Q), 0, ErrNoCommonLevel}, // never below a minimum
		{r(Q, Q), r(S, E), 0, ErrNoCommonLevel},
		{r(E, E), r(E, Q), E, nil},
	} {
		got, err := NegotiateLevel(tc.a, tc.b)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%+v %+v: got %v %v", tc.a, tc.b, got, err)
		}
		got2, _ := NegotiateLevel(tc.b, tc.a)
		if got2 != got {
			t.Errorf("not symmetric")
		}
	}
}

func TestParseLevel(t *testing.T) {
	for l := LevelStandard; l <= LevelQuantum; l++ {
		if got, err := ParseLevel(l.String()); err != nil || got != l {
			t.Fatal(l, err)
		}
	}
	if _, err := ParseLevel("paranoid"); !errors.Is(err, ErrUnknownLevel) {
		t.Fatal(err)
	}
}

func FuzzParseBlobInfo(f *testing.F) {
	good, _ := EncodeBlobInfo(BlobInfo{MinLevel: LevelStandard, MaxLevel: LevelQuantum})
	f.Add(good)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		bi, err := ParseBlobInfo(b)
		if err != nil {
			return
		}
		enc, err := EncodeBlobInfo(bi)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("non-canonical accept: %v", err)
		}
	})
}
