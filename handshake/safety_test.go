package handshake

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestSafetyNumber(t *testing.T) {
	a, b, c := testIdentity(t, 0).Public(), testIdentity(t, 1).Public(), testIdentity(t, 2).Public()
	ab, ba := SafetyNumber(a, b), SafetyNumber(b, a)
	if ab != ba {
		t.Fatal("safety number depends on the order")
	}
	if !regexp.MustCompile(`^(\d{5} ){11}\d{5}$`).MatchString(ab) {
		t.Fatalf("format: %q", ab)
	}
	if SafetyNumber(a, c) == ab || SafetyNumber(b, c) == ab {
		t.Fatal("different pairs share a safety number")
	}
	// Each half belongs to one identity: a's half appears in both of a's numbers.
	ha := safetyHalf(a)
	for _, s := range []string{ab, SafetyNumber(a, c)} {
		if !strings.Contains(strings.ReplaceAll(s, " ", ""), ha) {
			t.Fatal("identity half missing")
		}
	}
}

func TestSafetyQR(t *testing.T) {
	a, b, c := testIdentity(t, 0).Public(), testIdentity(t, 1).Public(), testIdentity(t, 2).Public()
	q := SafetyQR(a, b)
	if q != SafetyQR(b, a) {
		t.Fatal("QR payload depends on the order")
	}
	if !regexp.MustCompile(`^RTCSN1:[0-9A-F]{128}$`).MatchString(q) {
		t.Fatalf("payload %q is not QR alphanumeric", q)
	}
	if err := CheckSafetyQR(q, b, a); err != nil {
		t.Fatal(err)
	}
	if err := CheckSafetyQR(" "+q+"\n", a, b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"other pair", SafetyQR(a, c), ErrSafetyMismatch},
		{"no prefix", q[len(SafetyQRPrefix):], ErrSafetyQR},
		{"short", q[:len(q)-2], ErrSafetyQR},
		{"lower case", SafetyQRPrefix + strings.ToLower(q[len(SafetyQRPrefix):]), ErrSafetyQR},
		{"not hex", q[:len(q)-1] + "G", ErrSafetyQR},
	} {
		if err := CheckSafetyQR(tc.in, a, b); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, err, tc.want)
		}
	}
}

func TestSessionCode(t *testing.T) {
	var h1, h2 [32]byte
	h2[31] = 1
	c1, c2 := SessionCode(h1), SessionCode(h2)
	if !regexp.MustCompile(`^\d{3} \d{3} \d{3}$`).MatchString(c1) || c1 == c2 {
		t.Fatalf("%q %q", c1, c2)
	}
	// The code is spread over its range: 2000 transcripts give almost no
	// collisions in 10^9 values.
	seen := map[string]bool{}
	for i := range 2000 {
		var h [32]byte
		h[0], h[1] = byte(i), byte(i>>8)
		seen[SessionCode(h)] = true
	}
	if len(seen) < 1995 {
		t.Fatalf("only %d distinct codes", len(seen))
	}
}
