package falcon

import (
	"bytes"
	"path/filepath"
	"testing"
)

// katSeeds returns record 0 of the KAT (pk, sk, msg, detached sig) when the
// shared vectors are present, for seeding the fuzzers; nil otherwise (the
// fuzzers then start from synthetic seeds only).
func katSeeds() (pk, sk, msg, sig []byte) {
	recs, err := parseKAT(filepath.Join(vectorsDir, "falcon1024-KAT.rsp"))
	if err != nil {
		return nil, nil, nil, nil
	}
	r := recs[0]
	return r.PK, r.SK, r.Msg, r.detachedSig()
}

// syntheticPublicKey is a well-formed encoded public key (h[i] = i·7 mod q).
func syntheticPublicKey() []byte {
	var pk PublicKey
	for i := range pk.h {
		pk.h[i] = uint16(i * 7 % q)
	}
	return pk.Bytes()
}

func FuzzNewPublicKey(f *testing.F) {
	if pk, _, _, _ := katSeeds(); pk != nil {
		f.Add(pk)
	}
	f.Add(syntheticPublicKey())
	f.Add([]byte{headerPublicKey})
	f.Add(bytes.Repeat([]byte{0xFF}, PublicKeySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := NewPublicKey(b)
		if err != nil {
			if pk != nil {
				t.Fatal("key returned with an error")
			}
			return
		}
		// Accepted encodings are canonical.
		if !bytes.Equal(pk.Bytes(), b) {
			t.Fatal("accepted public key does not re-encode to its input")
		}
	})
}

func FuzzNewPrivateKey(f *testing.F) {
	if _, sk, _, _ := katSeeds(); sk != nil {
		f.Add(sk)
		m := bytes.Clone(sk)
		m[100] ^= 0x10
		f.Add(m)
	}
	f.Add(append([]byte{headerPrivateKey}, make([]byte, PrivateKeySize-1)...))
	f.Add(bytes.Repeat([]byte{0x5A}, PrivateKeySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		sk, err := NewPrivateKey(b)
		if err != nil {
			if sk != nil {
				t.Fatal("key returned with an error")
			}
			return
		}
		if !bytes.Equal(sk.Bytes(), b) {
			t.Fatal("accepted private key does not re-encode to its input")
		}
		// The recomputed h satisfies h·f = g mod q (checked in the NTT domain).
		h, ok := publicFromFG(&sk.f, &sk.g)
		if !ok || h != sk.pub.h {
			t.Fatal("public key inconsistent with f, g")
		}
		sk.Destroy()
	})
}

func FuzzVerify(f *testing.F) {
	pkb, _, msg, sig := katSeeds()
	if pkb == nil {
		pkb = syntheticPublicKey()
		msg = []byte("message")
		sig = append([]byte{headerSignature}, make([]byte, NonceSize+n*9/8)...)
	}
	pk, err := NewPublicKey(pkb)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg, sig)
	f.Add(msg, sig[:len(sig)-1])
	f.Add(msg, append(bytes.Clone(sig), 0))
	f.Add([]byte{}, []byte{headerSignature})
	f.Fuzz(func(t *testing.T, m, s []byte) {
		ok := Verify(pk, m, s)
		if !ok || len(s) < 1+NonceSize {
			return
		}
		// Anything accepted is a canonical encoding of an s2 that is short.
		var s2 [n]int16
		if err := decompressS2(&s2, s[1+NonceSize:]); err != nil {
			t.Fatalf("accepted a signature whose s2 does not decode: %v", err)
		}
		out, good := compressS2(&s2, maxCompressedS2)
		if !good || !bytes.Equal(out, s[1+NonceSize:]) {
			t.Fatal("accepted a non-canonical s2 encoding")
		}
	})
}

// FuzzDecompressS2: the strict decoder accepts exactly the encoder's outputs.
func FuzzDecompressS2(f *testing.F) {
	if _, _, _, sig := katSeeds(); sig != nil {
		f.Add(sig[1+NonceSize:])
	}
	f.Add(make([]byte, n*9/8))
	f.Add([]byte{0x80, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s2 [n]int16
		if err := decompressS2(&s2, b); err != nil {
			return
		}
		out, ok := compressS2(&s2, len(b))
		if !ok || !bytes.Equal(out, b) {
			t.Fatalf("decoder accepted a non-canonical encoding (%d bytes)", len(b))
		}
	})
}
