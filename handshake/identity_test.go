package handshake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestIdentityRoundTrip(t *testing.T) {
	id := testIdentity(t, 0)
	pub := id.Public()

	enc, err := id.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != PrivateIdentitySize || enc[0] != 0x01 || enc[1] != 'S' {
		t.Fatalf("private encoding: len %d header % x", len(enc), enc[:2])
	}
	id2, err := ParseIdentity(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !id2.Public().Equal(pub) {
		t.Fatal("parsed private identity has a different public identity")
	}

	penc := pub.Bytes()
	if len(penc) != PublicIdentitySize || penc[0] != 0x01 || penc[1] != 'P' {
		t.Fatalf("public encoding: len %d header % x", len(penc), penc[:2])
	}
	pub2, err := ParsePublicIdentity(penc)
	if err != nil {
		t.Fatal(err)
	}
	if !pub2.Equal(pub) || pub2.Fingerprint() != pub.Fingerprint() {
		t.Fatal("public identity round trip changed it")
	}
	var pub3 PublicIdentity
	if err := pub3.UnmarshalBinary(penc); err != nil || !pub3.Equal(pub) {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
}

func TestParsePublicIdentityRejects(t *testing.T) {
	good := testIdentity(t, 1).Public().Bytes()
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	// An Ed25519 key with y = 1 (the neutral element) and a non-canonical y.
	neutral := make([]byte, 32)
	neutral[0] = 1
	nonCanon := bytes.Repeat([]byte{0xff}, 32)
	nonCanon[31] = 0x7f
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrIdentityEncoding},
		{"version", mod(func(b []byte) []byte { b[0] = 2; return b }), ErrIdentityVersion},
		{"private kind", mod(func(b []byte) []byte { b[1] = 'S'; return b }), ErrIdentityEncoding},
		{"truncated", good[:len(good)-1], ErrIdentityEncoding},
		{"trailing", append(append([]byte(nil), good...), 0), ErrIdentityEncoding},
		{"falcon header", mod(func(b []byte) []byte { b[34] = 0x09; return b }), ErrFalconPublicKey},
		{"falcon coefficient >= q", mod(func(b []byte) []byte { b[35], b[36] = 0xff, 0xff; return b }), ErrFalconPublicKey},
		{"ed25519 neutral", mod(func(b []byte) []byte { copy(b[2:], neutral); return b }), ErrEd25519PublicKey},
		{"ed25519 non-canonical", mod(func(b []byte) []byte { copy(b[2:], nonCanon); return b }), ErrEd25519PublicKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicIdentity(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseIdentityRejects(t *testing.T) {
	id := testIdentity(t, 2)
	good, _ := id.MarshalBinary()
	bad := append([]byte(nil), good...)
	bad[34] = 0x0A // a public-key header where the private key's belongs
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrIdentityEncoding},
		{"version", append([]byte{9}, good[1:]...), ErrIdentityVersion},
		{"public kind", append([]byte{1, 'P'}, good[2:]...), ErrIdentityEncoding},
		{"truncated", good[:len(good)-1], ErrIdentityEncoding},
		{"falcon header", bad, ErrFalconPrivateKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseIdentity(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFingerprintAndCommitment(t *testing.T) {
	a, b := testIdentity(t, 3).Public(), testIdentity(t, 4).Public()
	fa := a.Fingerprint()
	// Independent recomputation from the definition in PROTOCOL.md §2.1.
	want := sha256.Sum256(append(append([]byte("rtcchat identity fingerprint v1\x00"), a.ed...), a.falcon.Bytes()...))
	if fa != want {
		t.Fatal("fingerprint differs from its definition")
	}
	c := a.Commitment()
	cw := sha256.Sum256(append([]byte("rtcchat blob commitment v1\x00"), fa[:]...))
	if !bytes.Equal(c[:], cw[:CommitmentSize]) {
		t.Fatal("commitment differs from its definition")
	}
	if fa == b.Fingerprint() || c == b.Commitment() {
		t.Fatal("different identities share a fingerprint or commitment")
	}
	if !a.MatchesCommitment(c[:]) || a.MatchesCommitment(c[:CommitmentSize-1]) || b.MatchesCommitment(c[:]) {
		t.Fatal("MatchesCommitment")
	}
	// Changing only one of the two keys changes the fingerprint.
	mixed := &PublicIdentity{ed: a.ed, falcon: b.falcon, xpub: a.xpub}
	if mixed.Fingerprint() == fa || mixed.Fingerprint() == b.Fingerprint() {
		t.Fatal("fingerprint does not cover both keys")
	}
}

// The X25519 form of the identity must be the birational image of the Ed25519
// key: X25519(scalar, 9) computed by crypto/ecdh equals (1+y)/(1-y).
func TestMontgomeryForm(t *testing.T) {
	for i := range 8 {
		seed := make([]byte, 32)
		detRand("mont" + string(rune('a'+i))).Read(seed)
		edPub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		u, err := edwardsToMontgomery(edPub)
		if err != nil {
			t.Fatal(err)
		}
		h := sha512Sum(seed)
		x, _ := ecdh.X25519().NewPrivateKey(h[:32])
		if !bytes.Equal(u, x.PublicKey().Bytes()) {
			t.Fatalf("seed %d: Montgomery form mismatch", i)
		}
	}
	// The Ed25519 base point maps to u = 9.
	base := ed25519.NewKeyFromSeed(make([]byte, 32)) // just to have a valid key shape
	_ = base
	var B [32]byte
	B[0] = 0x58
	for i := 1; i < 32; i++ {
		B[i] = 0x66
	}
	u, err := edwardsToMontgomery(B[:])
	if err != nil || u[0] != 9 || !bytes.Equal(u[1:], make([]byte, 31)) {
		t.Fatalf("base point: %x %v", u, err)
	}
}

func TestIdentityDHAndLowOrder(t *testing.T) {
	a, b := testIdentity(t, 5), testIdentity(t, 6)
	ab, err := a.IdentityDH(b.Public().xpub)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := b.IdentityDH(a.Public().xpub)
	if err != nil || !bytes.Equal(ab, ba) {
		t.Fatalf("static DH mismatch: %v", err)
	}
	for _, low := range [][]byte{make([]byte, 32), append([]byte{1}, make([]byte, 31)...)} {
		if _, err := a.IdentityDH(low); !errors.Is(err, ErrLowOrderPoint) {
			t.Fatalf("low-order point %x: %v", low, err)
		}
	}
	if _, err := a.IdentityDH(make([]byte, 31)); !errors.Is(err, ErrMessageFormat) {
		t.Fatalf("short point: %v", err)
	}
}

func TestSignBundleEd25519(t *testing.T) {
	id := testIdentity(t, 7)
	h := sha256.Sum256([]byte("transcript"))
	for _, lvl := range []Level{LevelStandard, LevelEnhanced} {
		ed, fs, err := id.SignBundle(h[:], lvl)
		if err != nil || fs != nil {
			t.Fatalf("%v: %v %v", lvl, err, fs)
		}
		if err := id.Public().VerifyBundle(h[:], ed, nil, lvl); err != nil {
			t.Fatal(err)
		}
		ed[3] ^= 1
		if err := id.Public().VerifyBundle(h[:], ed, nil, lvl); !errors.Is(err, ErrEd25519Signature) {
			t.Fatalf("flipped: %v", err)
		}
	}
	if _, _, err := id.SignBundle(h[:31], LevelStandard); !errors.Is(err, ErrSignedHashLength) {
		t.Fatal(err)
	}
	// The signature is over the labelled hash, never the bare hash.
	ed, _, _ := id.SignBundle(h[:], LevelStandard)
	if ed25519.Verify(id.Public().ed, h[:], ed) {
		t.Fatal("signature verifies without the domain label")
	}
}

func TestSignBundleQuantum(t *testing.T) {
	id, other := testIdentity(t, 8), testIdentity(t, 9)
	requireFalconSign(t, id)
	h := sha256.Sum256([]byte("transcript"))
	ed, fs, err := id.SignBundle(h[:], LevelQuantum)
	if err != nil || len(fs) == 0 {
		t.Fatal(err)
	}
	pub := id.Public()
	if err := pub.VerifyBundle(h[:], ed, fs, LevelQuantum); err != nil {
		t.Fatal(err)
	}
	_, ofs, _ := other.SignBundle(h[:], LevelQuantum)
	badEd := append([]byte(nil), ed...)
	badEd[0] ^= 1
	badFs := append([]byte(nil), fs...)
	badFs[len(badFs)/2] ^= 0x10
	for _, tc := range []struct {
		name   string
		ed, fs []byte
		want   error
	}{
		{"bad ed25519 good falcon", badEd, fs, ErrEd25519Signature},
		{"good ed25519 bad falcon", ed, badFs, ErrFalconSignature},
		{"good ed25519 falcon of another key", ed, ofs, ErrFalconSignature},
		{"falcon missing", ed, nil, ErrFalconMissing},
	} {
		if err := pub.VerifyBundle(h[:], tc.ed, tc.fs, LevelQuantum); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, err, tc.want)
		}
	}
}

func TestDestroy(t *testing.T) {
	id := testIdentity(t, 10)
	id.Destroy()
	h := sha256.Sum256(nil)
	if _, _, err := id.SignBundle(h[:], LevelStandard); !errors.Is(err, ErrIdentityDestroyed) {
		t.Fatal(err)
	}
	if _, err := id.IdentityDH(id.Public().xpub); !errors.Is(err, ErrIdentityDestroyed) {
		t.Fatal(err)
	}
	if !bytes.Equal(id.edSeed[:], make([]byte, 32)) {
		t.Fatal("seed not wiped")
	}
}

func TestGenerateIdentity(t *testing.T) {
	id, err := GenerateIdentity(detRand("generate"))
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := id.MarshalBinary()
	id2, err := ParseIdentity(enc)
	if err != nil || !id2.Public().Equal(id.Public()) {
		t.Fatal(err)
	}
	// The same randomness gives the same identity; other randomness another.
	id3, err := GenerateIdentity(detRand("generate"))
	if err != nil || !id3.Public().Equal(id.Public()) {
		t.Fatal("GenerateIdentity is not a function of its randomness")
	}
	if other, err := GenerateIdentity(nil); err != nil || other.Public().Equal(id.Public()) {
		t.Fatalf("fresh identity: %v", err)
	}
	// A freshly generated identity completes a quantum handshake.
	requireFalconSign(t, id)
	a := newPeerSetup(t, id, LevelQuantum, LevelQuantum, "generated")
	b := newPeerSetup(t, testIdentity(t, 1), LevelQuantum, LevelQuantum, "generated")
	ca, cb := configs(a, b)
	ra, rb, ea, eb := runPair(t, ca, cb)
	if ea != nil || eb != nil || !bytes.Equal(ra.SessionSecret, rb.SessionSecret) || !rb.Peer.Equal(id.Public()) {
		t.Fatalf("handshake with a generated identity: %v / %v", ea, eb)
	}
}

func FuzzParsePublicIdentity(f *testing.F) {
	f.Add(testIdentity(f, 0).Public().Bytes())
	f.Add([]byte{1, 'P'})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicIdentity(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatal("accepted a non-canonical encoding")
		}
	})
}

func FuzzParseIdentity(f *testing.F) {
	enc, _ := testIdentity(f, 0).MarshalBinary()
	f.Add(enc)
	f.Add([]byte{1, 'S'})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentity(b)
		if err != nil {
			return
		}
		out, _ := id.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatal("accepted a non-canonical encoding")
		}
	})
}
