package vault

import (
	"crypto/rand"
	"fmt"
	"os"
	"testing"

	"github.com/rtcchat/rtcchat/handshake"
)

// BenchmarkSignBundle compares signing a handshake transcript hash in
// process (the baseline) with asking the isolated key process over its
// pipes: the difference is what the isolation costs per handshake.
func BenchmarkSignBundle(b *testing.B) {
	levels := []handshake.Level{handshake.LevelStandard}
	if falconSigns() {
		levels = append(levels, handshake.LevelQuantum)
	}
	v, err := Open(b.TempDir(), testOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	kp, err := v.StartKeyProcess(KeyProcessOptions{
		Command: []string{os.Args[0]}, Env: append(os.Environ(), envTestKeyProc+"=1"),
		Passphrase: fixedPass("pw"), Create: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer kp.Close()
	ident, sk, _, err := v.unsealIdentity(fixedPass("pw"))
	if err != nil {
		b.Fatal(err)
	}
	sk.Destroy()
	id, err := parseIdentity(ident.Bytes())
	ident.Destroy()
	if err != nil {
		b.Fatal(err)
	}
	defer id.Destroy()
	h := make([]byte, 32)
	rand.Read(h)
	for _, lvl := range levels {
		for _, s := range []struct {
			name string
			s    handshake.Signer
		}{{"in-process", id}, {"key-process", kp}} {
			b.Run(fmt.Sprintf("%v/%s", lvl, s.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, _, err := s.s.SignBundle(h, lvl); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkSealedStore(b *testing.B) {
	v, _ := newIdentityVault(b, "pw")
	data := make([]byte, 4096)
	c := fp(1)
	b.Run("save-4KiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			if err := v.SaveSealed("pending", c, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("load-4KiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			if _, err := v.LoadSealed("pending", c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPassphraseKDF is the cost of one unlock with the default
// Argon2id parameters (what a user waits for).
func BenchmarkPassphraseKDF(b *testing.B) {
	salt := make([]byte, 16)
	for i := 0; i < b.N; i++ {
		passphraseMaster([]byte("correct horse"), salt, DefaultArgon2).Destroy()
	}
}
