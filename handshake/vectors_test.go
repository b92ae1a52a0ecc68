package handshake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/rtcchat/rtcchat/handshake/falcon"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/handshake-vectors.json")

const vectorsFile = "testdata/handshake-vectors.json"

// vectorFile is the layout of testdata/handshake-vectors.json. All byte
// strings are lower-case hex.
type vectorFile struct {
	Comment    []string `json:"comment"`
	Randomness string   `json:"randomness"`
	Vectors    []vector `json:"vectors"`
}

type vector struct {
	Level string `json:"level"`
	// Inputs.
	InitiatorIdentity string `json:"initiator_identity"` // private encoding, PROTOCOL.md §2.1
	ResponderIdentity string `json:"responder_identity"`
	InitiatorBlob     string `json:"initiator_blob"`
	ResponderBlob     string `json:"responder_blob"`
	InitiatorInfo     string `json:"initiator_info"`
	ResponderInfo     string `json:"responder_info"`
	InitiatorDTLS     string `json:"initiator_dtls_fingerprint"`
	ResponderDTLS     string `json:"responder_dtls_fingerprint"`
	Exporter          string `json:"exporter"`
	InitiatorRandom   string `json:"initiator_random_label"`
	ResponderRandom   string `json:"responder_random_label"`
	// Outputs.
	Messages         []string `json:"messages"` // Init, Response, Finish, Confirm
	TranscriptHash   string   `json:"transcript_hash"`
	SessionSecret    string   `json:"session_secret"`
	ResponderRatchet string   `json:"responder_ratchet_public"`
	SessionCode      string   `json:"session_code"`
	SafetyNumber     string   `json:"safety_number"`
	SafetyQR         string   `json:"safety_qr"`
	InitiatorFP      string   `json:"initiator_fingerprint"`
	ResponderFP      string   `json:"responder_fingerprint"`
}

func h(b []byte) string { return hex.EncodeToString(b) }

// makeVector runs a deterministic handshake at level and records it.
func makeVector(t *testing.T, level Level) vector {
	t.Helper()
	p := newTestPair(t, level, "vector-"+level.String())
	p.ca.Exporter = []byte("inner TLS exporter for " + level.String())
	p.cb.Exporter = p.ca.Exporter
	ri, rr := "initiator "+level.String(), "responder "+level.String()
	d := newDriverRand(t, p.ca, p.cb, detRand(ri), detRand(rr))
	if _, err := d.run(nil); err != nil {
		t.Fatal(err)
	}
	resI, _ := d.hi.Result()
	resR, _ := d.hr.Result()
	if !bytes.Equal(resI.SessionSecret, resR.SessionSecret) {
		t.Fatal("vector handshake disagrees")
	}
	idI, _ := p.a.id.MarshalBinary()
	idR, _ := p.b.id.MarshalBinary()
	fpI, fpR := p.a.id.Public().Fingerprint(), p.b.id.Public().Fingerprint()
	v := vector{
		Level:             level.String(),
		InitiatorIdentity: h(idI), ResponderIdentity: h(idR),
		InitiatorBlob: h(p.a.blob), ResponderBlob: h(p.b.blob),
		InitiatorInfo: h(p.a.info), ResponderInfo: h(p.b.info),
		InitiatorDTLS: h(p.a.fp), ResponderDTLS: h(p.b.fp),
		Exporter:        h(p.ca.Exporter),
		InitiatorRandom: ri, ResponderRandom: rr,
		TranscriptHash:   h(resI.TranscriptHash[:]),
		SessionSecret:    h(resI.SessionSecret),
		ResponderRatchet: h(resI.ResponderRatchetPublic.Bytes()),
		SessionCode:      resI.SessionCode(),
		SafetyNumber:     SafetyNumber(p.a.id.Public(), p.b.id.Public()),
		SafetyQR:         SafetyQR(p.a.id.Public(), p.b.id.Public()),
		InitiatorFP:      h(fpI[:]), ResponderFP: h(fpR[:]),
	}
	for _, m := range d.msgs {
		v.Messages = append(v.Messages, h(m))
	}
	return v
}

func TestVectors(t *testing.T) {
	var got vectorFile
	got.Comment = []string{
		"rtcchat handshake v2 test vectors (docs/PROTOCOL.md §2, version byte 0x02): whole handshakes with fixed randomness.",
		"Identities use the private encoding of PROTOCOL.md §2.1; their FALCON-1024 keys are records 0 and 1 of the NIST round-3 KAT.",
		"Inputs are given from the initiator's view; the responder's Config swaps Local and Peer.",
	}
	got.Randomness = "Each side reads its randomness from the SHAKE256 output stream of the bytes " +
		"\"rtcchat test randomness\\x00\" || <side>_random_label, in this order. Initiator (from its creation): ephemeral X25519 secret (32), " +
		"ML-KEM-1024 seed d||z (64, level >= enhanced), FALCON-1024 signing of sigma_I (level quantum; reads nonce and sampler seed as falcon.Sign does), " +
		"then ML-KEM encapsulation message m (32, level >= enhanced). " +
		"Responder (from its creation): ephemeral X25519 secret (32), ML-KEM-1024 seed (64, level >= enhanced), ratchet X25519 secret (32), nonce N_R (32), " +
		"FALCON-1024 signing of sigma_R (level quantum), then encapsulation message m (32, level >= enhanced)."
	for _, l := range []Level{LevelStandard, LevelEnhanced, LevelQuantum} {
		got.Vectors = append(got.Vectors, makeVector(t, l))
	}
	enc, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	enc = append(enc, '\n')
	if *updateVectors {
		if err := os.WriteFile(vectorsFile, enc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestVectors -update to create it)", err)
	}
	var wf vectorFile
	if err := json.Unmarshal(want, &wf); err != nil {
		t.Fatal(err)
	}
	if len(wf.Vectors) != len(got.Vectors) {
		t.Fatalf("%d vectors in file, %d generated", len(wf.Vectors), len(got.Vectors))
	}
	for i := range wf.Vectors {
		w, g := wf.Vectors[i], got.Vectors[i]
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		if !bytes.Equal(wj, gj) {
			for j := range min(len(w.Messages), len(g.Messages)) {
				if w.Messages[j] != g.Messages[j] {
					t.Errorf("%s: message %d differs", w.Level, j)
				}
			}
			t.Errorf("%s: vector differs (session secret file %s… got %s…)", w.Level, w.SessionSecret[:16], g.SessionSecret[:16])
		}
	}
}

// readVectors reads the recorded vectors and gives a hex decoder that fails t.
func readVectors(t *testing.T) (vectorFile, func(string) []byte) {
	t.Helper()
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	return vf, func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// vectorIdentities parses the two identities of a vector.
func vectorIdentities(t *testing.T, initiator, responder []byte) (idI, idR *Identity) {
	t.Helper()
	var err error
	if idI, err = ParseIdentity(initiator); err != nil {
		t.Fatal(err)
	}
	if idR, err = ParseIdentity(responder); err != nil {
		t.Fatal(err)
	}
	return idI, idR
}

// TestVectorsReplay feeds the recorded messages of each vector to fresh state
// machines built only from the vector's inputs: each side accepts the other
// side's recorded messages and produces its own recorded replies.
func TestVectorsReplay(t *testing.T) {
	vf, unhex := readVectors(t)
	for _, v := range vf.Vectors {
		t.Run(v.Level, func(t *testing.T) {
			idI, idR := vectorIdentities(t, unhex(v.InitiatorIdentity), unhex(v.ResponderIdentity))
			if v.Level == LevelQuantum.String() {
				requireFalconSign(t, idI)
			}
			ca := Config{Role: Initiator, Signer: idI,
				LocalBlob: unhex(v.InitiatorBlob), PeerBlob: unhex(v.ResponderBlob),
				LocalInfo: unhex(v.InitiatorInfo), PeerInfo: unhex(v.ResponderInfo),
				LocalDTLSFingerprint: unhex(v.InitiatorDTLS), PeerDTLSFingerprint: unhex(v.ResponderDTLS),
				Exporter: unhex(v.Exporter)}
			cb := Config{Role: Responder, Signer: idR,
				LocalBlob: ca.PeerBlob, PeerBlob: ca.LocalBlob, LocalInfo: ca.PeerInfo, PeerInfo: ca.LocalInfo,
				LocalDTLSFingerprint: ca.PeerDTLSFingerprint, PeerDTLSFingerprint: ca.LocalDTLSFingerprint,
				Exporter: ca.Exporter}
			// The initiator reads its randomness from New on.
			hi, err := newHandshake(ca, detRand(v.InitiatorRandom))
			if err != nil {
				t.Fatal(err)
			}
			hr, err := newHandshake(cb, detRand(v.ResponderRandom))
			if err != nil {
				t.Fatal(err)
			}
			msgs := make([][]byte, len(v.Messages))
			for i, m := range v.Messages {
				msgs[i] = unhex(m)
			}
			m0, err := hi.Start()
			if err != nil || !bytes.Equal(m0, msgs[0]) {
				t.Fatalf("Init differs: %v", err)
			}
			// Each side receives the recorded message, never the other
			// implementation's live output.
			m1, _, err := hr.Handle(msgs[0])
			if err != nil || !bytes.Equal(m1, msgs[1]) {
				t.Fatalf("Response differs: %v", err)
			}
			m2, _, err := hi.Handle(msgs[1])
			if err != nil || !bytes.Equal(m2, msgs[2]) {
				t.Fatalf("Finish differs: %v", err)
			}
			m3, done, err := hr.Handle(msgs[2])
			if err != nil || !done || !bytes.Equal(m3, msgs[3]) {
				t.Fatalf("Confirm differs: %v", err)
			}
			if _, done, err := hi.Handle(msgs[3]); err != nil || !done {
				t.Fatalf("initiator: %v", err)
			}
			ri, _ := hi.Result()
			rr, _ := hr.Result()
			for _, r := range []*Result{ri, rr} {
				if h(r.TranscriptHash[:]) != v.TranscriptHash || h(r.SessionSecret) != v.SessionSecret ||
					h(r.ResponderRatchetPublic.Bytes()) != v.ResponderRatchet || r.SessionCode() != v.SessionCode {
					t.Fatalf("%v outputs differ from the vector", r.Role)
				}
			}
			if SafetyNumber(idR.Public(), idI.Public()) != v.SafetyNumber || SafetyQR(idI.Public(), idR.Public()) != v.SafetyQR {
				t.Fatal("safety number differs from the vector")
			}
		})
	}
}

// TestVectorsFromSpec recomputes every derived value of the vectors from the
// definitions in docs/PROTOCOL.md §2.4-§2.6 and §3.3 (handshake version 2,
// notes/hs-v2), with raw offsets and the standard library only (no parser or
// key schedule of this package): the randomness streams give the ephemeral
// and ML-KEM secrets, the encapsulations and the FALCON-1024 signatures, in
// the order the vector file states.
func TestVectorsFromSpec(t *testing.T) {
	vf, unhex := readVectors(t)
	u16 := func(b []byte) []byte { return []byte{byte(len(b) >> 8), byte(len(b))} }
	sha := func(parts ...[]byte) []byte {
		d := sha256.New()
		for _, p := range parts {
			d.Write(p)
		}
		return d.Sum(nil)
	}
	x25519 := func(scalar, point []byte) []byte {
		k, err := ecdh.X25519().NewPrivateKey(scalar)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ecdh.X25519().NewPublicKey(point)
		if err != nil {
			t.Fatal(err)
		}
		s, err := k.ECDH(p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, v := range vf.Vectors {
		t.Run(v.Level, func(t *testing.T) {
			level := map[string]byte{"standard": 1, "enhanced": 2, "quantum": 3}[v.Level]
			kem := level >= 2
			m := make([][]byte, 4)
			for i := range m {
				m[i] = unhex(v.Messages[i])
			}
			idI, idR := unhex(v.InitiatorIdentity), unhex(v.ResponderIdentity)
			seedI, seedR := idI[2:34], idR[2:34]
			// Randomness streams.
			read := func(r io.Reader, n int) []byte { b := make([]byte, n); r.Read(b); return b }
			ri, rr := detRand(v.InitiatorRandom), detRand(v.ResponderRandom)
			ephI := read(ri, 32)
			ephR := read(rr, 32)
			var dkI, dkR *mlkem.DecapsulationKey1024
			if kem {
				dkI, _ = mlkem.NewDecapsulationKey1024(read(ri, 64))
				dkR, _ = mlkem.NewDecapsulationKey1024(read(rr, 64))
			}
			ratchetR := read(rr, 32)
			nonceR := read(rr, 32)
			sigMsg := func(h []byte) []byte { return append([]byte("rtcchat handshake signature v1\x00"), h...) }
			falconSign := func(r io.Reader, sk, msg []byte) []byte {
				k, err := falcon.NewPrivateKey(sk)
				if err != nil {
					t.Fatal(err)
				}
				sig, err := k.Sign(r, msg)
				if err != nil {
					t.Fatal(err)
				}
				return sig
			}

			// §2.5: BH, CB (DTLS fingerprints only), T0.
			blobI, blobR := unhex(v.InitiatorBlob), unhex(v.ResponderBlob)
			fpI, fpR, exp := unhex(v.InitiatorDTLS), unhex(v.ResponderDTLS), unhex(v.Exporter)
			bh := sha([]byte("rtcchat blobs v2\x00"), u16(blobI), blobI, u16(blobR), blobR)
			cb := sha([]byte("rtcchat channel binding v2\x00"), u16(fpI), fpI, u16(fpR), fpR)
			xb := sha([]byte("rtcchat inner tls binding v2\x00"), u16(exp), exp)
			t0 := append([]byte("rtcchat-handshake-v3_X25519_SHA-256_ML-KEM-1024_Ed25519+FALCON-1024\x00"), level)
			t0 = append(append(t0, bh...), cb...)
			th := func(parts ...[]byte) []byte { return sha(append([][]byte{t0}, parts...)...) }

			// §2.4 Init: level ‖ BH ‖ CB ‖ EK_I ‖ [PQ_I], no identity.
			in := m[0]
			if in[0] != 3 || in[1] != 1 || in[2] != level || !bytes.Equal(in[3:35], bh) || !bytes.Equal(in[35:67], cb) {
				t.Fatal("Init header, level, BH or CB")
			}
			off := 67
			if k, _ := ecdh.X25519().NewPrivateKey(ephI); !bytes.Equal(in[off:off+32], k.PublicKey().Bytes()) {
				t.Fatal("Init ephemeral")
			}
			off += 32
			if kem {
				if !bytes.Equal(in[off:off+1568], dkI.EncapsulationKey().Bytes()) {
					t.Fatal("Init ML-KEM key")
				}
				off += 1568
			}
			if off != len(in) {
				t.Fatal("Init length")
			}

			// σ_I signs th_I (below), made before anything of the
			// responder is known; the initiator's stream then gives its
			// FALCON-1024 randomness.
			fi := m[2]
			pubI := fi[66 : 66+1827]
			// Version 3: th_I covers the initiator's own offer blob,
			// identity and Init keys (EK_I ‖ [PQ_I]) at the level, each
			// part with a u16 length, under its label; nothing of R's.
			pn := append([]byte("rtcchat-handshake-v3_X25519_SHA-256_ML-KEM-1024_Ed25519+FALCON-1024\x00"), level)
			keysI := in[67:]
			thI := sha([]byte("rtcchat hs v3 initiator offer\x00"), u16(pn), pn, u16(blobI), blobI, u16(pubI), pubI, u16(keysI), keysI)
			var falconI []byte
			if level == 3 {
				falconI = falconSign(ri, idI[34:], sigMsg(thI))
			}

			// Response (unchanged layout).
			re := m[1]
			if re[0] != 3 || re[1] != 2 || re[2] != level || !bytes.Equal(re[3:35], th(in)) {
				t.Fatal("Response header or th1")
			}
			pubR := re[35 : 35+1827]
			if !bytes.Equal(pubR[:2], []byte{1, 'P'}) || !bytes.Equal(pubR[2:34], ed25519.NewKeyFromSeed(seedR).Public().(ed25519.PublicKey)) {
				t.Fatal("Response identity")
			}
			off = 35 + 1827
			ekR := re[off : off+32]
			if k, _ := ecdh.X25519().NewPrivateKey(ephR); !bytes.Equal(ekR, k.PublicKey().Bytes()) {
				t.Fatal("Response ephemeral")
			}
			off += 32
			if k, _ := ecdh.X25519().NewPrivateKey(ratchetR); !bytes.Equal(re[off:off+32], k.PublicKey().Bytes()) || v.ResponderRatchet != hex.EncodeToString(k.PublicKey().Bytes()) {
				t.Fatal("Response ratchet key")
			}
			off += 32
			if !bytes.Equal(re[off:off+32], sha([]byte("rtcchat hs v2 responder nonce\x00"), nonceR)) {
				t.Fatal("nonce commitment")
			}
			off += 32
			var ssR, ssI []byte
			var pqR []byte
			if kem {
				pqR = re[off : off+1568]
				if !bytes.Equal(pqR, dkR.EncapsulationKey().Bytes()) {
					t.Fatal("Response ML-KEM key")
				}
				off += 1568
			}
			// σ_R signs th_R = SHA-256(T0 ‖ label ‖ ID_R ‖ EK_R ‖ RK_R ‖ C_R
			// [‖ PQ_R]): the responder's own fields only (not th1, not CT_R),
			// made in New before Init exists, so its FALCON-1024 randomness
			// comes from the responder's stream before the encapsulation's.
			hR := sha(t0, []byte("rtcchat hs v2 responder identity\x00"), pubR, re[35+1827:35+1827+96], pqR)
			var falconR []byte
			if level == 3 {
				falconR = falconSign(rr, idR[34:], sigMsg(hR))
			}
			if kem {
				ek, err := mlkem.NewEncapsulationKey1024(in[99 : 99+1568])
				if err != nil {
					t.Fatal(err)
				}
				ss, ct, err := mlkemtest.Encapsulate1024(ek, read(rr, 32))
				if err != nil || !bytes.Equal(re[off:off+1568], ct) {
					t.Fatalf("CT_R is not the encapsulation of the responder's stream: %v", err)
				}
				if ssR, err = dkI.Decapsulate(ct); err != nil || !bytes.Equal(ssR, ss) {
					t.Fatal("CT_R decapsulation")
				}
				off += 1568
			}
			edR := ed25519.PublicKey(pubR[2:34])
			fpkR, err := falcon.NewPublicKey(pubR[34:])
			if err != nil {
				t.Fatal(err)
			}
			if !ed25519.Verify(edR, sigMsg(hR), re[off:off+64]) {
				t.Fatal("σ_R Ed25519 over th_R")
			}
			off += 64
			if level == 3 {
				n := int(re[off])<<8 | int(re[off+1])
				if !falcon.Verify(fpkR, sigMsg(hR), re[off+2:off+2+n]) {
					t.Fatal("σ_R FALCON-1024 over th_R")
				}
				if !bytes.Equal(re[off+2:off+2+n], falconR) {
					t.Fatal("σ_R FALCON-1024 is not made from the responder's stream")
				}
				off += 2 + n
			}
			if off != len(re) {
				t.Fatal("Response length")
			}

			// Finish: th2 ‖ XB ‖ ID_I ‖ [CT_I] ‖ σ_I ‖ MAC_I.
			if fi[0] != 3 || fi[1] != 3 || !bytes.Equal(fi[2:34], th(in, re)) {
				t.Fatal("Finish header or th2")
			}
			if !bytes.Equal(fi[34:66], xb) {
				t.Fatal("Finish XB")
			}
			if !bytes.Equal(pubI[:2], []byte{1, 'P'}) || !bytes.Equal(pubI[2:34], ed25519.NewKeyFromSeed(seedI).Public().(ed25519.PublicKey)) {
				t.Fatal("Finish identity")
			}
			off = 66 + 1827
			if kem {
				ek, err := mlkem.NewEncapsulationKey1024(re[35+1827+96 : 35+1827+96+1568])
				if err != nil {
					t.Fatal(err)
				}
				ss, ct, err := mlkemtest.Encapsulate1024(ek, read(ri, 32))
				if err != nil || !bytes.Equal(fi[off:off+1568], ct) {
					t.Fatalf("CT_I is not the encapsulation of the initiator's stream: %v", err)
				}
				if ssI, err = dkR.Decapsulate(ct); err != nil || !bytes.Equal(ssI, ss) {
					t.Fatal("CT_I decapsulation")
				}
				off += 1568
			}
			th3 := th(in, re, fi[:off])
			if !ed25519.Verify(ed25519.PublicKey(pubI[2:34]), sigMsg(thI), fi[off:off+64]) {
				t.Fatal("σ_I Ed25519 over th_I")
			}
			off += 64
			if level == 3 {
				fpkI, err := falcon.NewPublicKey(pubI[34:])
				if err != nil {
					t.Fatal(err)
				}
				n := int(fi[off])<<8 | int(fi[off+1])
				if !falcon.Verify(fpkI, sigMsg(thI), fi[off+2:off+2+n]) {
					t.Fatal("σ_I FALCON-1024 over th_I")
				}
				if !bytes.Equal(fi[off+2:off+2+n], falconI) {
					t.Fatal("σ_I FALCON-1024 is not made from the initiator's stream")
				}
				off += 2 + n
			}

			// Key schedule.
			hI, hR2 := sha512.Sum512(seedI), sha512.Sum512(seedR)
			xpubR, _ := ecdh.X25519().NewPrivateKey(hR2[:32])
			ikm := bytes.Repeat([]byte{0xff}, 32)
			ikm = append(ikm, x25519(hI[:32], ekR)...)                    // DH1 = DH(IK_I, EK_R)
			ikm = append(ikm, x25519(ephI, xpubR.PublicKey().Bytes())...) // DH2 = DH(EK_I, IK_R)
			ikm = append(ikm, x25519(ephI, ekR)...)                       // DH3 = DH(EK_I, EK_R)
			ikm = append(append(ikm, ssR...), ssI...)
			prk, _ := hkdf.Extract(sha256.New, ikm, th3)
			expand := func(info string, n int) []byte { k, _ := hkdf.Expand(sha256.New, prk, info, n); return k }
			mac := func(key, msg []byte) []byte { h := hmac.New(sha256.New, key); h.Write(msg); return h.Sum(nil) }
			if !bytes.Equal(fi[off:], mac(expand("rtcchat hs v2 initiator confirm\x00", 32), th(in, re, fi[:off]))) || len(fi) != off+32 {
				t.Fatal("MAC_I")
			}
			co := m[3]
			if co[0] != 3 || co[1] != 4 || !bytes.Equal(co[2:34], th(in, re, fi)) || !bytes.Equal(co[34:66], nonceR) {
				t.Fatal("Confirm header, th4 or N_R")
			}
			if !bytes.Equal(co[66:], mac(expand("rtcchat hs v2 responder confirm\x00", 32), th(in, re, fi, co[:66]))) || len(co) != 98 {
				t.Fatal("MAC_R")
			}
			th5 := th(in, re, fi, co)
			if hex.EncodeToString(th5) != v.TranscriptHash {
				t.Fatal("transcript hash")
			}
			if hex.EncodeToString(expand("rtcchat hs v2 session secret\x00"+string(th5), 64)) != v.SessionSecret {
				t.Fatal("session secret")
			}
			// §3.3 session code.
			c := sha([]byte("rtcchat session code v1\x00"), th5)
			code := (uint64(c[0])<<32 | uint64(c[1])<<24 | uint64(c[2])<<16 | uint64(c[3])<<8 | uint64(c[4])) % 1_000_000_000
			if want := fmt.Sprintf("%03d %03d %03d", code/1_000_000, code/1000%1000, code%1000); want != v.SessionCode {
				t.Fatalf("session code %s, vector %s", want, v.SessionCode)
			}
		})
	}
}
