package falcon

import (
	"crypto/sha3"
	"testing"
)

// FuzzSign signs arbitrary messages with arbitrary randomness (stretched
// with SHAKE256 so that every input is a valid source) and requires a
// verifying signature of at most MaxSignatureSize bytes, the same signature
// again for the same randomness, and rejection under another message.
func FuzzSign(f *testing.F) {
	rec := loadKAT(f)[0]
	sk, err := NewPrivateKey(rec.SK)
	if err != nil {
		f.Fatal(err)
	}
	pk := sk.PublicKey()
	f.Add([]byte(""), []byte("seed"))
	f.Add(rec.Msg, rec.Seed)
	f.Add(make([]byte, 4096), []byte{0})
	f.Fuzz(func(t *testing.T, msg, randomness []byte) {
		source := func() *sha3.SHAKE {
			h := sha3.NewSHAKE256()
			h.Write(randomness)
			return h
		}
		sig, err := sk.Sign(source(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) > MaxSignatureSize || !Verify(pk, msg, sig) {
			t.Fatalf("signature of length %d does not verify", len(sig))
		}
		again, err := sk.Sign(source(), msg)
		if err != nil || string(again) != string(sig) {
			t.Fatal("same randomness gave a different signature")
		}
		if Verify(pk, append(msg[:len(msg):len(msg)], 1), sig) {
			t.Fatal("signature verifies for another message")
		}
	})
}
