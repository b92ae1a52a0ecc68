package vault

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rtcchat/rtcchat/handshake"
)

// recordingGenerate remembers the secret encoding of every identity it makes.
type recordingGenerate struct{ secrets [][]byte }

func (g *recordingGenerate) generate(r io.Reader) (*handshake.Identity, error) {
	id, err := katGenerate(r)
	if err == nil {
		b, _ := id.MarshalBinary()
		g.secrets = append(g.secrets, b)
	}
	return id, err
}

// needles returns every 16-byte window of each secret, so that a secret
// stored in part, or at an offset, is found too.
func needles(secrets ...[]byte) [][]byte {
	var out [][]byte
	for _, s := range secrets {
		if len(s) < 16 {
			out = append(out, s)
			continue
		}
		for i := 0; i+16 <= len(s); i += 8 {
			out = append(out, s[i:i+16])
		}
	}
	return out
}

// assertNoSecrets searches every file under home for the secrets.
func assertNoSecrets(t *testing.T, home string, secrets ...[]byte) {
	t.Helper()
	ns := needles(secrets...)
	files := 0
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, n := range ns {
			if bytes.Contains(b, n) {
				t.Fatalf("%s contains secret bytes %x", p, n)
			}
		}
		return nil
	})
	if files < 3 {
		t.Fatalf("only %d files searched", files)
	}
}

// TestNoSecretsInFiles goes through every operation that writes files (and
// the log), then searches all files for the identity's secret encoding, the
// Ed25519 seed, the passphrases, the storage key and the stored plaintext.
func TestNoSecretsInFiles(t *testing.T) {
	g := &recordingGenerate{}
	opts := testOptions(t)
	opts.Generate = g.generate
	v, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	kp, err := v.StartKeyProcess(KeyProcessOptions{
		Command: []string{os.Args[0]}, Env: append(os.Environ(), envTestKeyProc+"=1"),
		Passphrase: fixedPass("hunter2-passphrase"), Create: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer kp.Close()
	// The key process generated the identity in its own process: get its
	// secret by unsealing here (the test is allowed to).
	ident, storeKey, _, err := v.unsealIdentity(fixedPass("hunter2-passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	secretID := bytes.Clone(ident.Bytes())
	sk := bytes.Clone(storeKey.Bytes())
	ident.Destroy()
	storeKey.Destroy()

	msg := []byte("meet me at the old mill at midnight, bring the documents")
	peer := fp(5)
	v.Pin("alice", peer)
	v.CheckPeer("alice", fp(6))
	v.MarkVerified("alice", fp(6))
	if err := v.SaveSealed("pending", fp(6), msg); err != nil {
		t.Fatal(err)
	}
	h := make([]byte, 32)
	kp.SignBundle(h, handshake.LevelStandard)
	kp.SignBundle(h[:5], handshake.LevelStandard)
	v.Unlock(fixedPass("wrong-passphrase-attempt"))
	exp, err := v.ExportIdentity(fixedPass("hunter2-passphrase"), []byte("export-passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(v.Home(), "exported"), exp, 0o600)
	v.Log().RejectedInput("a blob", io.ErrUnexpectedEOF)

	assertNoSecrets(t, v.Home(), secretID, secretID[2:34], sk, msg,
		[]byte("hunter2-passphrase"), []byte("wrong-passphrase-attempt"), []byte("export-passphrase"))
	if len(g.secrets) != 0 {
		t.Fatal("the identity was generated in the chat process, not the key process")
	}
}
