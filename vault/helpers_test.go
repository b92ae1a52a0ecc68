package vault

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/handshake/falcon"
)

// Environment variables that turn the test binary into a helper process.
const (
	envTestKeyProc = "RTCCHAT_VAULT_TEST_KEYPROC" // run ServeKeyProcess on stdin/stdout
	envTestKeyring = "RTCCHAT_VAULT_TEST_KEYRING" // ... with the system keyring
)

func TestMain(m *testing.M) {
	if os.Getenv(envTestKeyProc) == "1" {
		os.Exit(runTestKeyProcess())
	}
	os.Exit(m.Run())
}

// runTestKeyProcess is the key process as `rtcchat __keyproc` runs it, with
// the test's identity generator and cheap Argon2id parameters.
func runTestKeyProcess() int {
	home := ""
	for i, a := range os.Args {
		if a == "--home" && i+1 < len(os.Args) {
			home = os.Args[i+1]
		}
	}
	opts := testOptions(nil)
	if os.Getenv(envTestKeyring) == "1" {
		opts.Keyring = SystemKeyring()
	}
	if err := ServeKeyProcess(os.Stdin, os.Stdout, home, opts); err != nil {
		fmt.Fprintln(os.Stderr, "test key process:", err)
		return 2
	}
	return 0
}

// katPath holds the sk values of records 0-3 of the NIST round-3 FALCON-1024
// KAT, one hex line each: real FALCON-1024 keys for tests that must not wait
// for key generation.
const katPath = "testdata/falcon1024-kat-sk.txt"

var (
	katOnce sync.Once
	katSKs  [][]byte
	katErr  error
	katNext atomic.Uint32
)

func loadKAT() ([][]byte, error) {
	katOnce.Do(func() {
		f, err := os.Open(katPath)
		if err != nil {
			katErr = err
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<16)
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
	return katSKs, katErr
}

// katGenerate makes a real handshake identity from a fresh random Ed25519
// seed and the next KAT FALCON-1024 key (the identities of one test binary
// cycle through four Falcon keys).
func katGenerate(r io.Reader) (*handshake.Identity, error) {
	sks, err := loadKAT()
	if err != nil {
		return nil, err
	}
	fsk, err := falcon.NewPrivateKey(sks[int(katNext.Add(1))%len(sks)])
	if err != nil {
		return nil, err
	}
	seed := make([]byte, 32)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, err
	}
	return handshake.NewIdentity(seed, fsk)
}

// testArgon is cheap enough for the race detector; the format and code path
// are those of the real parameters.
var testArgon = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

func testOptions(t testing.TB) Options {
	if t != nil {
		if _, err := loadKAT(); err != nil {
			t.Skipf("FALCON-1024 KAT keys not available at %s: %v", katPath, err)
		}
	}
	return Options{Argon2: testArgon, Generate: katGenerate, Rand: rand.Reader}
}

func fixedPass(p string) Passphrase {
	return func(string, bool) ([]byte, error) { return []byte(p), nil }
}

// newVault opens a vault in a fresh temporary home.
func newVault(t testing.TB) *Vault {
	t.Helper()
	v, err := Open(t.TempDir(), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// newIdentityVault opens a fresh vault with a passphrase-sealed identity.
func newIdentityVault(t testing.TB, pass string) (*Vault, IdentityInfo) {
	t.Helper()
	v := newVault(t)
	info, err := v.CreateIdentity(fixedPass(pass))
	if err != nil {
		t.Fatal(err)
	}
	return v, info
}

func fp(b byte) Fingerprint {
	var f Fingerprint
	for i := range f {
		f[i] = b ^ byte(i)
	}
	return f
}

// falconSigns reports whether package falcon can sign yet (it is written in
// parallel with this package).
func falconSigns() (ok bool) {
	sks, err := loadKAT()
	if err != nil {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	sk, err := falcon.NewPrivateKey(sks[0])
	if err != nil {
		return false
	}
	sig, err := sk.Sign(rand.Reader, []byte("probe"))
	return err == nil && falcon.Verify(sk.PublicKey(), []byte("probe"), sig)
}
