package handshake

import (
	"bufio"
	"crypto/sha3"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rtcchat/rtcchat/handshake/falcon"
)

// katPath holds the sk values of records 0-3 of the NIST round-3 FALCON-1024
// KAT (shared/vectors/falcon1024-KAT.rsp), one hex line each.
const katPath = "testdata/falcon1024-kat-sk.txt"

var (
	katOnce sync.Once
	katSKs  [][]byte
	katErr  error
)

// katPrivateKeys returns the sk values of the NIST round-3 FALCON-1024 KAT.
func katPrivateKeys(t testing.TB) [][]byte {
	t.Helper()
	katOnce.Do(func() {
		f, err := os.Open(katPath)
		if err != nil {
			katErr = err
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			b, err := hex.DecodeString(line)
			if err != nil {
				katErr = err
				return
			}
			katSKs = append(katSKs, b)
		}
		katErr = sc.Err()
	})
	if katErr != nil || len(katSKs) == 0 {
		t.Fatalf("FALCON-1024 KAT keys missing from %s: %v", katPath, katErr)
	}
	return katSKs
}

// testFalconKey returns a FALCON-1024 private key for test identity i: from
// the KAT records (GenerateKey is far slower than decoding a KAT key, and the
// KAT keys are fixed inputs for the test vectors).
func testFalconKey(t testing.TB, i int) *falcon.PrivateKey {
	t.Helper()
	sks := katPrivateKeys(t)
	sk, err := falcon.NewPrivateKey(sks[i%len(sks)])
	if err != nil {
		t.Fatalf("KAT sk %d: %v", i, err)
	}
	return sk
}

// testIdentity returns a deterministic identity number i.
func testIdentity(t testing.TB, i int) *Identity {
	t.Helper()
	seed := make([]byte, 32)
	detRand(fmt.Sprintf("ed25519 seed %d", i)).Read(seed)
	id, err := NewIdentity(seed, testFalconKey(t, i))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// requireFalconSign checks that the identity's FALCON-1024 key signs and
// verifies before a test relies on it, so a failure names the right package.
func requireFalconSign(t testing.TB, id *Identity) {
	t.Helper()
	msg := []byte("probe")
	sig, err := id.falcon.Sign(detRand("probe sign"), msg)
	if err != nil {
		t.Fatalf("falcon sign: %v", err)
	}
	if !falcon.Verify(id.pub.falcon, msg, sig) {
		t.Fatalf("falcon: fresh signature does not verify")
	}
}

// detRand is a deterministic randomness source: SHAKE256(label).
func detRand(label string) *sha3.SHAKE {
	h := sha3.NewSHAKE256()
	h.Write([]byte("rtcchat test randomness\x00"))
	h.Write([]byte(label))
	return h
}
