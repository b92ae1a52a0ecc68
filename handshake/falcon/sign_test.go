package falcon

import (
	"bytes"
	"testing"
)

// TestSignKAT signs every KAT message with the KAT's randomness (the NIST
// DRBG seeded with the record's seed, after keygen's 48-byte read) and
// requires the detached form of the KAT's sm, byte for byte.
func TestSignKAT(t *testing.T) {
	recs := loadKAT(t)
	if testing.Short() {
		recs = recs[:10]
	}
	for _, rec := range recs {
		sk, err := NewPrivateKey(rec.SK)
		if err != nil {
			t.Fatalf("record %d: %v", rec.Count, err)
		}
		d := newNISTDRBG(rec.Seed)
		d.Read(make([]byte, 48)) // consumed by key generation
		sig, err := sk.Sign(d, rec.Msg)
		if err != nil {
			t.Fatalf("record %d: %v", rec.Count, err)
		}
		if want := rec.detachedSig(); !bytes.Equal(sig, want) {
			t.Errorf("record %d: signature differs from the KAT (len %d, want %d)", rec.Count, len(sig), len(want))
		}
		if !Verify(sk.PublicKey(), rec.Msg, sig) {
			t.Errorf("record %d: own signature does not verify", rec.Count)
		}
	}
}
