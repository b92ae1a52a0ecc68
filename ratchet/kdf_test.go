package ratchet

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// TestHMAC32 checks the hand-rolled HMAC against crypto/hmac for every
// message length it accepts.
func TestHMAC32(t *testing.T) {
	for n := 0; n <= maxHMACMsg; n++ {
		var key [keySize]byte
		rand.Read(key[:])
		msg := make([]byte, n)
		rand.Read(msg)
		m := hmac.New(sha256.New, key[:])
		m.Write(msg)
		if got := hmac32(&key, msg); !bytes.Equal(got[:], m.Sum(nil)) {
			t.Fatalf("hmac32 mismatch for a %d-byte message", n)
		}
	}
}

// TestKDFCKMatchesHMAC checks the hand-rolled HMAC of kdfCK against
// crypto/hmac on random chain keys.
func TestKDFCKMatchesHMAC(t *testing.T) {
	for range 200 {
		var ck [keySize]byte
		rand.Read(ck[:])
		mk, next := kdfCK(&ck)
		m := hmac.New(sha256.New, ck[:])
		m.Write([]byte{0x01})
		if !bytes.Equal(mk[:], m.Sum(nil)) {
			t.Fatalf("message key mismatch for ck %x", ck)
		}
		m = hmac.New(sha256.New, ck[:])
		m.Write([]byte{0x02})
		if !bytes.Equal(next[:], m.Sum(nil)) {
			t.Fatalf("next chain key mismatch for ck %x", ck)
		}
	}
}
