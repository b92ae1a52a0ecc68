package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestPassphraseRoundTrip(t *testing.T) {
	home := t.TempDir()
	v, err := Open(home, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Identity(); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("Identity before creation: %v, want ErrNoIdentity", err)
	}
	info, err := v.CreateIdentity(fixedPass("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Keyring || info.Argon2 != testArgon {
		t.Fatalf("info %+v: want passphrase sealing with %+v", info, testArgon)
	}
	if _, err := v.CreateIdentity(fixedPass("x")); !errors.Is(err, ErrIdentityExists) {
		t.Fatalf("second CreateIdentity: %v, want ErrIdentityExists", err)
	}
	contact := fp(7)
	if err := v.SaveSealed("pending", contact, []byte("hello later")); err != nil {
		t.Fatal(err)
	}
	v.Close()

	// A new process: nothing is unlocked until the passphrase is given.
	v2, err := Open(home, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	got, err := v2.Identity()
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint != info.Fingerprint || !got.Public.Equal(info.Public) {
		t.Fatal("public identity changed across reopen")
	}
	if _, err := v2.LoadSealed("pending", contact); !errors.Is(err, ErrLocked) {
		t.Fatalf("LoadSealed while locked: %v, want ErrLocked", err)
	}
	if err := v2.Unlock(fixedPass("correct horse battery staple")); err != nil {
		t.Fatal(err)
	}
	b, err := v2.LoadSealed("pending", contact)
	if err != nil || string(b) != "hello later" {
		t.Fatalf("LoadSealed = %q, %v", b, err)
	}
	ident, _, _, err := v2.unsealIdentity(fixedPass("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	defer ident.Destroy()
	id, err := parseIdentity(ident.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if FingerprintOf(id.Public()) != info.Fingerprint {
		t.Fatal("unsealed identity has another fingerprint")
	}
}

func sha(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestWrongPassphrase(t *testing.T) {
	v, _ := newIdentityVault(t, "right")
	before := sha(t, v.IdentityPath())
	for _, p := range []string{"wrong", "Right", "right ", ""} {
		err := v.Unlock(fixedPass(p))
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("Unlock(%q) = %v, want ErrWrongPassphrase", p, err)
		}
		if !strings.Contains(err.Error(), v.IdentityPath()) {
			t.Fatalf("error %q does not name the file", err)
		}
	}
	if sha(t, v.IdentityPath()) != before {
		t.Fatal("a wrong passphrase changed the identity file")
	}
	if _, err := v.ExportIdentity(fixedPass("wrong"), []byte("export")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("ExportIdentity with wrong passphrase: %v", err)
	}
	if err := v.Unlock(fixedPass("right")); err != nil {
		t.Fatalf("right passphrase after wrong ones: %v", err)
	}
	log, _ := os.ReadFile(v.Log().Path())
	if !bytes.Contains(log, []byte(`"event":"unlock-failed"`)) {
		t.Fatalf("failed unlocks not in the security log:\n%s", log)
	}
}

// TestDamagedIdentity truncates the identity file at every length and flips
// every bit of every 7th byte: each is reported (naming the file) and the
// file is left exactly as it was.
func TestDamagedIdentity(t *testing.T) {
	v, _ := newIdentityVault(t, "pw")
	path := v.IdentityPath()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, damaged []byte) {
		t.Helper()
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		err := v.Unlock(fixedPass("pw"))
		if err == nil {
			t.Fatalf("%s: Unlock succeeded", what)
		}
		var fe *FileError
		if !errors.As(err, &fe) && !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("%s: error %v is neither a FileError nor ErrWrongPassphrase", what, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("%s: error %q does not name the file", what, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, damaged) {
			t.Fatalf("%s: the damaged file was modified", what)
		}
	}
	// Every length inside the header, then a stride through the rest.
	stride := 29
	if testing.Short() {
		stride = 97
	}
	for n := 0; n < len(orig); n++ {
		if n < 64 || n%stride == 0 {
			check("truncated", orig[:n])
		}
	}
	check("extended", append(bytes.Clone(orig), 0))
	// Every bit of the fixed header, then one bit (rotating) of every 7th byte.
	for i := 0; i < len(orig); i++ {
		for bit := 0; bit < 8; bit++ {
			if i < 64 || (i%7 == 0 && bit == i/7%8) {
				d := bytes.Clone(orig)
				d[i] ^= 1 << bit
				check("bit flip", d)
			}
		}
	}
	// Specific, readable problems.
	for _, tc := range []struct {
		mutate func([]byte) []byte
		want   string
	}{
		{func(b []byte) []byte { return b[:3] }, "truncated"},
		{func(b []byte) []byte { b[0] = 'X'; return b }, "bad magic"},
		{func(b []byte) []byte { b[4] = 9; return b }, "unsupported format version 9"},
		{func(b []byte) []byte { b[5] = 9; return b }, "unknown content kind"},
		{func(b []byte) []byte { b[6] = 9; return b }, "unknown key source"},
		{func(b []byte) []byte { b[7] = 1; return b }, "reserved"},
		{func(b []byte) []byte { b[8], b[9], b[10], b[11] = 0, 0, 0, 0; return b }, "Argon2id time 0"},
		{func(b []byte) []byte { b[12] = 0x7f; return b }, "Argon2id memory"},
		{func(b []byte) []byte { return b[:len(b)-1] }, "truncated: ciphertext"},
		{func(b []byte) []byte { return append(b, 1, 2) }, "2 unexpected bytes"},
		{func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "wrong passphrase (or the sealed file was altered)"},
	} {
		d := tc.mutate(bytes.Clone(orig))
		os.WriteFile(path, d, 0o600)
		err := v.Unlock(fixedPass("pw"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
	}
	os.WriteFile(path, orig, 0o600)
	if err := v.Unlock(fixedPass("pw")); err != nil {
		t.Fatalf("restored file: %v", err)
	}
}

func TestDamagedBlobAndSwaps(t *testing.T) {
	v, _ := newIdentityVault(t, "pw")
	a, b := fp(1), fp(2)
	if err := v.SaveSealed("ratchet", a, []byte("state of a")); err != nil {
		t.Fatal(err)
	}
	if err := v.SaveSealed("ratchet", b, []byte("state of b")); err != nil {
		t.Fatal(err)
	}
	// A blob moved to another contact does not open.
	pa, pb := v.blobPath("ratchet", a), v.blobPath("ratchet", b)
	ba, _ := os.ReadFile(pa)
	os.WriteFile(pb, ba, 0o600)
	if _, err := v.LoadSealed("ratchet", b); err == nil || !strings.Contains(err.Error(), "belongs to") {
		t.Fatalf("swapped blob: %v", err)
	}
	// A flipped ciphertext bit is reported and left alone.
	d := bytes.Clone(ba)
	d[len(d)-5] ^= 0x10
	os.WriteFile(pa, d, 0o600)
	_, err := v.LoadSealed("ratchet", a)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != pa || !strings.Contains(err.Error(), "failed authentication") {
		t.Fatalf("flipped blob: %v", err)
	}
	if got, _ := os.ReadFile(pa); !bytes.Equal(got, d) {
		t.Fatal("damaged blob was modified")
	}
	if _, err := v.LoadSealed("ratchet", fp(3)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing blob: %v", err)
	}
	for _, k := range []string{"", "Upper", "a/b", "..", strings.Repeat("a", 33)} {
		if err := v.SaveSealed(k, a, nil); err == nil {
			t.Errorf("kind %q accepted", k)
		}
	}
	// Another identity's vault cannot open this vault's blobs.
	w, _ := newIdentityVault(t, "pw")
	os.MkdirAll(filepath.Dir(w.blobPath("ratchet", a)), 0o700)
	os.WriteFile(w.blobPath("ratchet", a), ba, 0o600)
	if _, err := w.LoadSealed("ratchet", a); err == nil {
		t.Fatal("another vault opened the blob")
	}
	// Chat-layer view.
	cs := v.ContactStore(fp(4))
	if got, err := cs.Load("pending"); got != nil || err != nil {
		t.Fatalf("empty ContactStore.Load = %q, %v; want nil, nil", got, err)
	}
	if err := cs.Save("pending", []byte("m1")); err != nil {
		t.Fatal(err)
	}
	if got, err := cs.Load("pending"); string(got) != "m1" || err != nil {
		t.Fatalf("ContactStore.Load = %q, %v", got, err)
	}
	if err := cs.Delete("pending"); err != nil {
		t.Fatal(err)
	}
	if err := cs.Delete("pending"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if got, err := cs.Load("pending"); got != nil || err != nil {
		t.Fatalf("after delete: %q, %v", got, err)
	}
}

// TestCrashBeforeRename simulates a crash after the temporary file is
// written and before the rename: the previous file stays usable, and the
// leftover temporary file is cleaned up by the next Open.
func TestCrashBeforeRename(t *testing.T) {
	v, info := newIdentityVault(t, "pw")
	c := fp(9)
	if err := v.SaveSealed("pending", c, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Pin("alice", c); err != nil {
		t.Fatal(err)
	}
	export, err := v.ExportIdentity(fixedPass("pw"), []byte("exp"))
	if err != nil {
		t.Fatal(err)
	}
	crash := errors.New("simulated crash")
	testHookBeforeRename = func(string) error { return crash }
	defer func() { testHookBeforeRename = nil }()

	if err := v.SaveSealed("pending", c, []byte("new")); !errors.Is(err, crash) {
		t.Fatalf("SaveSealed: %v", err)
	}
	if err := v.Rename("alice", "bob"); !errors.Is(err, crash) {
		t.Fatalf("Rename: %v", err)
	}
	// Replace the identity with itself sealed under a new passphrase: the
	// crash must leave the old file (old passphrase) in place.
	if _, err := v.ImportIdentity("export", export, []byte("exp"), fixedPass("new-pw"), true); !errors.Is(err, crash) {
		t.Fatalf("ImportIdentity: %v", err)
	}
	testHookBeforeRename = nil

	temps := 0
	filepath.WalkDir(v.Home(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), tmpMark) {
			temps++
		}
		return nil
	})
	if temps != 3 {
		t.Fatalf("%d temporary files left by the simulated crashes, want 3", temps)
	}
	// Leftovers of a crash are older than any write in progress.
	past := time.Now().Add(-2 * staleTempAge)
	filepath.WalkDir(v.Home(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), tmpMark) {
			os.Chtimes(p, past, past)
		}
		return nil
	})

	v2, err := Open(v.Home(), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if err := v2.Unlock(fixedPass("pw")); err != nil {
		t.Fatalf("old identity after crash: %v", err)
	}
	if got, _ := v2.Identity(); got.Fingerprint != info.Fingerprint {
		t.Fatal("identity changed")
	}
	if b, err := v2.LoadSealed("pending", c); err != nil || string(b) != "old" {
		t.Fatalf("blob after crash: %q, %v", b, err)
	}
	if _, ok, err := v2.Contact("alice"); !ok || err != nil {
		t.Fatalf("contacts after crash: %v %v", ok, err)
	}
	temps = 0
	filepath.WalkDir(v.Home(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), tmpMark) {
			temps++
		}
		return nil
	})
	if temps != 0 {
		t.Fatalf("%d temporary files survive Open", temps)
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	home := filepath.Join(t.TempDir(), "h")
	os.MkdirAll(home, 0o755)
	v, err := Open(home, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.CreateIdentity(fixedPass("pw")); err != nil {
		t.Fatal(err)
	}
	v.Pin("alice", fp(1))
	v.SaveSealed("pending", fp(1), []byte("x"))
	n := 0
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Lstat(p)
		want := filePerm
		if d.IsDir() {
			want = dirPerm
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, st.Mode().Perm(), want)
		}
		n++
		return nil
	})
	if n < 8 {
		t.Fatalf("only %d entries checked", n)
	}
}

func TestExportImport(t *testing.T) {
	src, info := newIdentityVault(t, "src-pw")
	exp, err := src.ExportIdentity(fixedPass("src-pw"), []byte("transfer"))
	if err != nil {
		t.Fatal(err)
	}
	dst := newVault(t)
	if _, err := dst.ImportIdentity("id.export", exp, []byte("nope"), fixedPass("dst-pw"), false); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong export passphrase: %v", err)
	}
	if ok, _ := dst.HasIdentity(); ok {
		t.Fatal("failed import left an identity")
	}
	got, err := dst.ImportIdentity("id.export", exp, []byte("transfer"), fixedPass("dst-pw"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint != info.Fingerprint {
		t.Fatal("imported identity differs")
	}
	if err := dst.Unlock(fixedPass("dst-pw")); err != nil {
		t.Fatalf("imported identity under the new passphrase: %v", err)
	}
	// Refuses to overwrite without replace; the existing file is unchanged.
	other, _ := newIdentityVault(t, "o")
	before := sha(t, other.IdentityPath())
	if _, err := other.ImportIdentity("id.export", exp, []byte("transfer"), fixedPass("o"), false); !errors.Is(err, ErrIdentityExists) {
		t.Fatalf("import over an identity: %v", err)
	}
	if sha(t, other.IdentityPath()) != before {
		t.Fatal("refused import changed the identity")
	}
	// A damaged export is reported by name.
	bad := bytes.Clone(exp)
	bad[len(bad)/2] ^= 4
	if _, err := newVault(t).ImportIdentity("id.export", bad, []byte("transfer"), fixedPass("x"), false); err == nil || !strings.Contains(err.Error(), "id.export") {
		t.Fatalf("damaged export: %v", err)
	}
	// The identity file itself is not an export.
	idf, _ := os.ReadFile(src.IdentityPath())
	if _, err := newVault(t).ImportIdentity("identity", idf, []byte("src-pw"), fixedPass("x"), false); err == nil || !strings.Contains(err.Error(), "not an identity export") {
		t.Fatalf("identity file imported as export: %v", err)
	}
}

func TestEventLogSanitizes(t *testing.T) {
	v := newVault(t)
	v.Log().Record(Event{Kind: EventRejectedInput, Detail: "evil\n{\"event\":\"forged\"}\x1b[31m" + strings.Repeat("x", 1000)})
	b, err := os.ReadFile(v.Log().Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 || strings.Contains(string(b), "\x1b") || len(lines[0]) > 600 {
		t.Fatalf("log line not sanitised: %q", b)
	}
}

// vmLocked returns VmLck from /proc/self/status, in kB.
func vmLocked(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int
		if _, err := fmt.Sscanf(line, "VmLck: %d kB", &kb); err == nil {
			return kb
		}
	}
	t.Skip("no VmLck in /proc/self/status")
	return 0
}

func TestHardenProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		if err := HardenProcess(); err != nil {
			t.Fatal(err)
		}
		t.Skip("core-dump controls are Linux-only")
	}
	if err := HardenProcess(); err != nil {
		t.Fatal(err)
	}
	if !ProcessHardened() {
		t.Fatal("RLIMIT_CORE or PR_SET_DUMPABLE not in effect")
	}
	before := vmLocked(t)
	s := newSecret(100)
	if !s.locked {
		t.Log("mlock failed (RLIMIT_MEMLOCK too low?); the buffer is still off-heap and wiped")
	} else if after := vmLocked(t); after <= before {
		t.Fatalf("VmLck %d kB -> %d kB: the secret buffer is not locked", before, after)
	}
	copy(s.Bytes(), "secret")
	s.Destroy()
	s.Destroy()
	if s.Bytes() != nil {
		t.Fatal("destroyed secret still has bytes")
	}
}

// Open removes temporary files left by a crash, but not a young one that may
// belong to a write in progress in another process.
func TestOpenRemovesOnlyStaleTemps(t *testing.T) {
	home := t.TempDir()
	if _, err := Open(home, Options{}); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(home, "."+"contacts"+tmpMark+"old")
	young := filepath.Join(home, "."+"contacts"+tmpMark+"young")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * staleTempAge)
	os.Chtimes(old, past, past)
	if _, err := Open(home, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("young temp file removed: %v", err)
	}
}
