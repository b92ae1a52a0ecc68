package falcon

// Shared test helpers: the NIST round-3 KAT loader and the NIST AES-256-CTR
// DRBG that feeds the reference implementation's randombytes().

import (
	"bufio"
	"crypto/aes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// vectorsDir is where the shared test vectors live, beside the project root.
const vectorsDir = "../../../shared/vectors"

// vectorPath returns the path of a shared vector file, skipping the test with a
// clear message when the file is absent.
func vectorPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(vectorsDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test vectors absent: %s not found (expected ../shared/vectors beside the project root): %v", p, err)
	}
	return p
}

type katRecord struct {
	Count       int
	Seed, Msg   []byte
	PK, SK, SM  []byte
	MLen, SMLen int
}

// loadKAT parses falcon1024-KAT.rsp, skipping the test if it is absent.
func loadKAT(t testing.TB) []katRecord {
	t.Helper()
	recs, err := parseKAT(vectorPath(t, "falcon1024-KAT.rsp"))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// parseKAT reads and parses a NIST .rsp file of 100 Falcon-1024 records.
func parseKAT(path string) ([]katRecord, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var recs []katRecord
	var cur *katRecord
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		if k != "count" && cur == nil {
			return nil, fmt.Errorf("KAT: %s before the first count", k)
		}
		var perr error
		hexv := func() []byte {
			b, err := hex.DecodeString(v)
			if err != nil {
				perr = fmt.Errorf("KAT %s: %v", k, err)
			}
			return b
		}
		atoi := func() int {
			x, err := strconv.Atoi(v)
			if err != nil {
				perr = fmt.Errorf("KAT %s: %v", k, err)
			}
			return x
		}
		switch k {
		case "count":
			recs = append(recs, katRecord{Count: atoi()})
			cur = &recs[len(recs)-1]
		case "seed":
			cur.Seed = hexv()
		case "mlen":
			cur.MLen = atoi()
		case "msg":
			cur.Msg = hexv()
		case "pk":
			cur.PK = hexv()
		case "sk":
			cur.SK = hexv()
		case "smlen":
			cur.SMLen = atoi()
		case "sm":
			cur.SM = hexv()
		}
		if perr != nil {
			return nil, perr
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(recs) != 100 {
		return nil, fmt.Errorf("KAT: %d records, want 100", len(recs))
	}
	return recs, nil
}

// detachedSig converts a KAT signed message into the detached liboqs form
// 0x3A || nonce || compressed s2 (SPEC-NOTES §1.6).
func (r *katRecord) detachedSig() []byte {
	sig := []byte{headerSignature}
	sig = append(sig, r.SM[2:42]...)
	return append(sig, r.SM[43+r.MLen:]...)
}

// edgeCase is one entry of falcon1024-detached-edgecases.json; Expected is
// "accept", "reject" or "implementation-defined".
type edgeCase struct {
	Name     string `json:"name"`
	Sig      string `json:"sig"`
	Msg      string `json:"msg"`
	SigLen   int    `json:"sig_len"`
	Expected string `json:"expect"`
	Note     string `json:"note"`
}

type edgeCaseFile struct {
	PK    string     `json:"pk"`
	Cases []edgeCase `json:"cases"`
}

type detachedVector struct {
	Count  int    `json:"count"`
	Msg    string `json:"msg"`
	PK     string `json:"pk"`
	Sig    string `json:"sig"`
	SigLen int    `json:"sig_len"`
	SqNorm uint64 `json:"sq_norm"`
}

type detachedFile struct {
	Vectors []detachedVector `json:"vectors"`
}

// mustHex decodes a hex string from a vector file.
func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vector: %v", err)
	}
	return b
}

// loadJSON decodes a shared JSON vector file into v.
func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(vectorPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// nistDRBG is the AES-256-CTR DRBG of the NIST PQC harness (rng.c), as used to
// produce the KAT: randombytes_init(seed) then randombytes(...) calls.
type nistDRBG struct {
	key [32]byte
	v   [16]byte
}

func newNISTDRBG(seed []byte) *nistDRBG {
	if len(seed) != 48 {
		panic("nistDRBG: seed must be 48 bytes")
	}
	d := &nistDRBG{}
	d.update(seed)
	return d
}

func (d *nistDRBG) incV() {
	for j := 15; j >= 0; j-- {
		d.v[j]++
		if d.v[j] != 0 {
			return
		}
	}
}

func (d *nistDRBG) update(provided []byte) {
	blk, _ := aes.NewCipher(d.key[:])
	var tmp [48]byte
	for i := 0; i < 3; i++ {
		d.incV()
		blk.Encrypt(tmp[16*i:], d.v[:])
	}
	for i := range provided {
		tmp[i] ^= provided[i]
	}
	copy(d.key[:], tmp[:32])
	copy(d.v[:], tmp[32:])
}

// Read implements randombytes(): each call is one request to the DRBG.
func (d *nistDRBG) Read(p []byte) (int, error) {
	blk, _ := aes.NewCipher(d.key[:])
	var block [16]byte
	for off := 0; off < len(p); off += 16 {
		d.incV()
		blk.Encrypt(block[:], d.v[:])
		copy(p[off:], block[:])
	}
	d.update(nil)
	return len(p), nil
}

// TestNISTDRBG checks the DRBG against the KAT harness: the seed of record 1 is
// produced by the DRBG initialised with 0, 1, ..., 47, which emits each
// record's seed (48 bytes) and then its message (mlen bytes).
func TestNISTDRBG(t *testing.T) {
	recs := loadKAT(t)
	var entropy [48]byte
	for i := range entropy {
		entropy[i] = byte(i)
	}
	d := newNISTDRBG(entropy[:])
	for i := 0; i < 3; i++ {
		seed := make([]byte, 48)
		d.Read(seed)
		if hex.EncodeToString(seed) != hex.EncodeToString(recs[i].Seed) {
			t.Fatalf("record %d: DRBG seed %x, KAT %x", i, seed, recs[i].Seed)
		}
		msg := make([]byte, recs[i].MLen)
		d.Read(msg)
		if hex.EncodeToString(msg) != hex.EncodeToString(recs[i].Msg) {
			t.Fatalf("record %d: DRBG msg %x, KAT %x", i, msg, recs[i].Msg)
		}
	}
}
