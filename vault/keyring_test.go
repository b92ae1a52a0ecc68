package vault

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/handshake"
)

// envInKeyringSession marks the re-executed test binary that runs inside a
// private D-Bus session with an unlocked gnome-keyring (a real Secret
// Service).
const envInKeyringSession = "RTCCHAT_VAULT_TEST_IN_KEYRING_SESSION"

// TestKeyring runs TestKeyringInSession inside `dbus-run-session` with
// `gnome-keyring-daemon --unlock`, with HOME and XDG_DATA_HOME in a temporary
// directory so that the user's own keyring is never touched.
func TestKeyring(t *testing.T) {
	if os.Getenv(envInKeyringSession) == "1" {
		t.Skip("inside the keyring session: TestKeyringInSession runs instead")
	}
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("cannot start a Secret Service: %s not installed (apt-get install dbus dbus-x11 gnome-keyring)", tool)
		}
	}
	if _, err := loadKAT(); err != nil {
		t.Skip(err)
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	script := `eval "$(printf 'rtcchat-test-keyring' | gnome-keyring-daemon --unlock --components=secrets)" || exit 97
export GNOME_KEYRING_CONTROL
exec "$0" -test.run='^TestKeyringInSession$' -test.v -test.count=1`
	cmd := exec.CommandContext(ctx, "dbus-run-session", "--", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), envInKeyringSession+"=1", "HOME="+tmp,
		"XDG_DATA_HOME="+filepath.Join(tmp, "data"), "XDG_RUNTIME_DIR="+tmp, "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"))
	out, err := cmd.CombinedOutput()
	text := string(out)
	if m := regexp.MustCompile(`(?m)^\s+keyring_test.go:\d+: (SKIP: .*)$`).FindStringSubmatch(text); m != nil && strings.Contains(text, "--- SKIP: TestKeyringInSession") {
		t.Skipf("Secret Service started but unusable: %s", m[1])
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 97 {
		t.Skipf("gnome-keyring-daemon could not start:\n%s", text)
	}
	if err != nil {
		t.Fatalf("keyring session: %v\n%s", err, text)
	}
	if !strings.Contains(text, "--- PASS: TestKeyringInSession") {
		t.Fatalf("TestKeyringInSession did not pass:\n%s", text)
	}
	t.Logf("real Secret Service (gnome-keyring) test passed")
}

func TestKeyringInSession(t *testing.T) {
	if os.Getenv(envInKeyringSession) != "1" {
		t.Skip("runs only inside the D-Bus session started by TestKeyring")
	}
	kr := SystemKeyring()
	if err := ProbeKeyring(kr); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	// go-keyring store, load, delete.
	if err := kr.Set(KeyringService, "test-entry", "value-1"); err != nil {
		t.Fatal(err)
	}
	if got, err := kr.Get(KeyringService, "test-entry"); err != nil || got != "value-1" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := kr.Delete(KeyringService, "test-entry"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Get(KeyringService, "test-entry"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if err := kr.Delete(KeyringService, "test-entry"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}

	// An identity sealed with a key in the keyring, created by the key
	// process (which reaches the keyring itself).
	opts := testOptions(t)
	opts.Keyring = kr
	v, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	kpOpts := testKeyProcOptions("", true)
	kpOpts.Env = append(kpOpts.Env, envTestKeyring+"=1")
	kp, err := v.StartKeyProcess(kpOpts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := v.Identity()
	if err != nil || !info.Keyring {
		t.Fatalf("identity %+v, %v: want keyring sealing", info, err)
	}
	h := make([]byte, 32)
	ed, fs, err := kp.SignBundle(h, handshake.LevelStandard)
	if err != nil || kp.Public().VerifyBundle(h, ed, fs, handshake.LevelStandard) != nil {
		t.Fatalf("sign through keyring-unlocked key process: %v", err)
	}
	if err := v.SaveSealed("pending", fp(1), []byte("queued")); err != nil {
		t.Fatal(err)
	}
	kp.Close()

	// A second process: unlocked from the keyring without any passphrase.
	v2, err := Open(v.Home(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if err := v2.Unlock(nil); err != nil {
		t.Fatalf("unlock from keyring: %v", err)
	}
	if b, err := v2.LoadSealed("pending", fp(1)); err != nil || string(b) != "queued" {
		t.Fatalf("LoadSealed = %q, %v", b, err)
	}

	// The sealing key is in the keyring, never in a file.
	s, err := v.readSealed(v.IdentityPath(), kindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := kr.Get(KeyringService, keyringAccount(s.keyID))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(enc)
	ident, _, _, err := v2.unsealIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, v.Home(), key, []byte(enc), bytes.Clone(ident.Bytes()))
	ident.Destroy()

	// Without the keyring entry: a clear error, the file left as it was.
	before := sha(t, v.IdentityPath())
	if err := kr.Delete(KeyringService, keyringAccount(s.keyID)); err != nil {
		t.Fatal(err)
	}
	err = v2.Unlock(nil)
	if err == nil || !strings.Contains(err.Error(), "has no entry") || !strings.Contains(err.Error(), v.IdentityPath()) {
		t.Fatalf("unlock without keyring entry: %v", err)
	}
	if sha(t, v.IdentityPath()) != before {
		t.Fatal("identity file changed")
	}
	// Without a keyring at all: also clear.
	noKR := opts
	noKR.Keyring = nil
	v3, _ := Open(v.Home(), noKR)
	if err := v3.Unlock(fixedPass("x")); err == nil || !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("unlock without keyring: %v", err)
	}
}
