package handshake

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
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
	d := newDriver(t, p.ca, p.cb)
	ri, rr := "initiator "+level.String(), "responder "+level.String()
	d.hi.rand, d.hr.rand = detRand(ri), detRand(rr)
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
		"rtcchat handshake v1 test vectors (docs/PROTOCOL.md §2): whole handshakes with fixed randomness.",
		"Identities use the private encoding of PROTOCOL.md §2.1; their FALCON-1024 keys are records 0 and 1 of the NIST round-3 KAT.",
		"Inputs are given from the initiator's view; the responder's Config swaps Local and Peer.",
	}
	got.Randomness = "Each side reads its randomness from the SHAKE256 output stream of the bytes " +
		"\"rtcchat test randomness\\x00\" || <side>_random_label, in this order. Initiator: ephemeral X25519 secret (32), " +
		"ML-KEM-1024 seed d||z (64, level >= enhanced), ML-KEM encapsulation message m (32, level >= enhanced), " +
		"then FALCON-1024 signing (level quantum) reads nonce and sampler seed as falcon.Sign does. " +
		"Responder: ephemeral X25519 secret (32), ML-KEM-1024 seed (64, level >= enhanced), ratchet X25519 secret (32), nonce N_R (32), " +
		"encapsulation message m (32, level >= enhanced), then FALCON-1024 signing."
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

// TestVectorsReplay feeds the recorded messages of each vector to fresh state
// machines built only from the vector's inputs: each side accepts the other
// side's recorded messages and produces its own recorded replies.
func TestVectorsReplay(t *testing.T) {
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, v := range vf.Vectors {
		t.Run(v.Level, func(t *testing.T) {
			idI, err := ParseIdentity(unhex(v.InitiatorIdentity))
			if err != nil {
				t.Fatal(err)
			}
			idR, err := ParseIdentity(unhex(v.ResponderIdentity))
			if err != nil {
				t.Fatal(err)
			}
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
			hi, err := New(ca)
			if err != nil {
				t.Fatal(err)
			}
			hr, err := New(cb)
			if err != nil {
				t.Fatal(err)
			}
			hi.rand, hr.rand = detRand(v.InitiatorRandom), detRand(v.ResponderRandom)
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
