package handshake

import (
	"bytes"
	"testing"
)

// honestMessages returns the four messages of an honest run at level.
func honestMessages(tb testing.TB, level Level) (*testPair, [][]byte) {
	tb.Helper()
	p := newTestPair(tb, level, "fuzz-"+level.String())
	d := newDriverRand(tb, p.ca, p.cb, detRand("fuzz i"), detRand("fuzz r"))
	if _, err := d.run(nil); err != nil {
		tb.Fatal(err)
	}
	return p, d.msgs
}

// FuzzParseMessages checks every message decoder: no panic, and whatever is
// accepted re-encodes to exactly the input (the formats are canonical).
func FuzzParseMessages(f *testing.F) {
	for _, l := range []Level{LevelStandard, LevelEnhanced, LevelQuantum} {
		_, msgs := honestMessages(f, l)
		for _, m := range msgs {
			f.Add(byte(l-1), m) // parsed at level l below
		}
	}
	f.Add(byte(0), abortMessage(AbortSignature))
	f.Fuzz(func(t *testing.T, lv byte, b []byte) {
		level := Level(lv%3 + 1)
		if m, err := parseInit(b, level); err == nil && !bytes.Equal(m.marshal(), b) {
			t.Fatal("Init not canonical")
		}
		if m, err := parseResponse(b, level); err == nil && !bytes.Equal(m.marshal(), b) {
			t.Fatal("Response not canonical")
		}
		if m, err := parseFinish(b, level); err == nil {
			if !bytes.Equal(append(m.marshalMACed(level), m.mac[:]...), b) || m.macLen+macSize != len(b) {
				t.Fatal("Finish not canonical")
			}
		}
		if m, err := parseConfirm(b); err == nil && !bytes.Equal(m.marshal(), b) {
			t.Fatal("Confirm not canonical")
		}
	})
}

// FuzzHandle feeds arbitrary bytes to the state machines in every waiting
// state: they must fail cleanly (or, for the honest message, succeed).
func FuzzHandle(f *testing.F) {
	p, msgs := honestMessages(f, LevelQuantum)
	for i, m := range msgs {
		f.Add(uint8(i), m)
	}
	f.Fuzz(func(t *testing.T, step uint8, b []byte) {
		// The same randomness as honestMessages: the messages before the
		// target are the recorded ones.
		d := newDriverRand(t, p.ca, p.cb, detRand("fuzz i"), detRand("fuzz r"))
		// Advance honestly to the chosen step, then deliver b.
		target := int(step % 4)
		_, _ = d.run(func(i int, m []byte) []byte {
			if i == target {
				return b
			}
			return m
		})
		if !bytes.Equal(b, msgs[target]) {
			if r, _ := d.hi.Result(); r != nil {
				t.Fatal("initiator completed on a changed message")
			}
			if r, _ := d.hr.Result(); r != nil && target != mConfirm {
				t.Fatal("responder completed on a changed message")
			}
		}
	})
}

func FuzzCheckSafetyQR(f *testing.F) {
	a, b := testIdentity(f, 0).Public(), testIdentity(f, 1).Public()
	f.Add(SafetyQR(a, b))
	f.Add(SafetyQRPrefix + "00")
	f.Fuzz(func(t *testing.T, s string) {
		if err := CheckSafetyQR(s, a, b); err == nil && s != SafetyQR(a, b) {
			// Surrounding whitespace is the only accepted variation.
			if !bytes.Equal(bytes.TrimSpace([]byte(s)), []byte(SafetyQR(a, b))) {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
