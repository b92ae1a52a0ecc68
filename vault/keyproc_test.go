package vault

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rtcchat/rtcchat/handshake"
)

// testKeyProcOptions start the key process as this test binary (TestMain
// turns it into `rtcchat __keyproc`).
func testKeyProcOptions(pass string, create bool) KeyProcessOptions {
	env := append(os.Environ(), envTestKeyProc+"=1")
	var p Passphrase
	if pass != "" {
		p = fixedPass(pass)
	}
	return KeyProcessOptions{Command: []string{os.Args[0]}, Env: env, Passphrase: p, Create: create}
}

func startKP(t *testing.T, v *Vault, pass string, create bool) *KeyProcess {
	t.Helper()
	kp, err := v.StartKeyProcess(testKeyProcOptions(pass, create))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kp.Close() })
	return kp
}

func TestKeyProcessSignsAndDH(t *testing.T) {
	v := newVault(t)
	if _, err := v.StartKeyProcess(testKeyProcOptions("pw", false)); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("start without identity and without Create: %v", err)
	}
	kp := startKP(t, v, "pw", true)
	if !kp.Created() {
		t.Fatal("key process did not report creating the identity")
	}
	info, err := v.Identity()
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Public().Equal(info.Public) || kp.Fingerprint() != info.Fingerprint {
		t.Fatal("key process identity differs from the stored one")
	}
	// The key process disabled core dumps for itself.
	if runtime.GOOS == "linux" {
		lim, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", kp.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`Max core file size\s+0\s+0\s`).Match(lim) {
			t.Fatalf("key process core limit not 0:\n%s", lim)
		}
	}
	// In its own process group: a Ctrl-C meant for the chat does not kill it.
	checkOwnProcessGroup(t, kp.cmd.Process.Pid)
	// The storage key arrived: sealed blobs work in the chat process.
	if err := v.SaveSealed("pending", fp(1), []byte("m")); err != nil {
		t.Fatal(err)
	}

	var s handshake.Signer = kp
	levels := []handshake.Level{handshake.LevelStandard, handshake.LevelEnhanced}
	if falconSigns() {
		levels = append(levels, handshake.LevelQuantum)
	} else {
		t.Log("package falcon cannot sign yet: quantum-level signatures not exercised")
	}
	for _, lvl := range levels {
		h := make([]byte, 32)
		rand.Read(h)
		ed, fs, err := s.SignBundle(h, lvl)
		if err != nil {
			t.Fatalf("SignBundle(%v): %v", lvl, err)
		}
		if err := kp.Public().VerifyBundle(h, ed, fs, lvl); err != nil {
			t.Fatalf("signature from the key process does not verify at %v: %v", lvl, err)
		}
		h[0] ^= 1
		if kp.Public().VerifyBundle(h, ed, fs, lvl) == nil {
			t.Fatal("signature verifies for another hash")
		}
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, _, err := s.SignBundle(make([]byte, n), handshake.LevelStandard); err == nil {
			t.Errorf("signed a %d-byte hash", n)
		}
	}
	if _, _, err := s.SignBundle(make([]byte, 32), 7); err == nil || !strings.Contains(err.Error(), "unknown level") {
		t.Errorf("level 7: %v", err)
	}

	// IdentityDH equals X25519 with the Montgomery form of the identity.
	eph, _ := ecdh.X25519().GenerateKey(rand.Reader)
	shared, err := s.IdentityDH(eph.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ident, _, _, err := v.unsealIdentity(fixedPass("pw"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := parseIdentity(ident.Bytes())
	ident.Destroy()
	want, _ := id.IdentityDH(eph.PublicKey().Bytes())
	id.Destroy()
	if !bytes.Equal(shared, want) {
		t.Fatal("IdentityDH through the key process differs")
	}
	if _, err := s.IdentityDH(make([]byte, 32)); err == nil {
		t.Error("IdentityDH accepted a low-order point")
	}
	if _, err := s.IdentityDH(make([]byte, 31)); err == nil {
		t.Error("IdentityDH accepted 31 bytes")
	}
	// Still alive after rejections.
	if _, _, err := s.SignBundle(make([]byte, 32), handshake.LevelStandard); err != nil {
		t.Fatalf("after rejected requests: %v", err)
	}
}

func TestKeyProcessWrongPassphrase(t *testing.T) {
	created, _ := newIdentityVault(t, "right")
	v, err := Open(created.Home(), testOptions(t)) // a fresh, locked process
	if err != nil {
		t.Fatal(err)
	}
	before := sha(t, v.IdentityPath())
	_, err = v.StartKeyProcess(testKeyProcOptions("wrong", false))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if sha(t, v.IdentityPath()) != before {
		t.Fatal("identity file changed")
	}
	if _, err := v.LoadSealed("pending", fp(1)); !errors.Is(err, ErrLocked) {
		t.Fatalf("vault unlocked after failed start: %v", err)
	}
	startKP(t, v, "right", false)

	// With Attempts, a wrong passphrase is asked again.
	var asked []string
	answers := []string{"typo", "right"}
	opts := testKeyProcOptions("", false)
	opts.Attempts = 3
	opts.Passphrase = func(prompt string, confirm bool) ([]byte, error) {
		asked = append(asked, prompt)
		a := answers[0]
		answers = answers[1:]
		return []byte(a), nil
	}
	kp, err := v.StartKeyProcess(opts)
	if err != nil || len(asked) != 2 {
		t.Fatalf("retry: %v after %d prompts", err, len(asked))
	}
	kp.Close()
	answers = []string{"a", "b", "c", "right"}
	asked = nil
	if _, err := v.StartKeyProcess(opts); !errors.Is(err, ErrWrongPassphrase) || len(asked) != 3 {
		t.Fatalf("three wrong: %v after %d prompts", err, len(asked))
	}
}

// TestKeyProcessDies: when the key process is killed, calls fail with
// ErrKeyProcessDied and Done is closed.
func TestKeyProcessDies(t *testing.T) {
	v, _ := newIdentityVault(t, "pw")
	kp := startKP(t, v, "pw", false)
	if kp.Err() != nil {
		t.Fatalf("Err while running: %v", kp.Err())
	}
	kp.cmd.Process.Kill()
	select {
	case <-kp.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the key process was killed")
	}
	_, _, err := kp.SignBundle(make([]byte, 32), handshake.LevelStandard)
	if !errors.Is(err, ErrKeyProcessDied) {
		t.Fatalf("SignBundle after death: %v", err)
	}
	if _, err := kp.IdentityDH(make([]byte, 32)); !errors.Is(err, ErrKeyProcessDied) {
		t.Fatalf("IdentityDH after death: %v", err)
	}
	if !errors.Is(kp.Err(), ErrKeyProcessDied) || !strings.Contains(kp.Err().Error(), "killed") {
		t.Fatalf("Err = %v", kp.Err())
	}
}

// TestKeyProcessAPI: nothing reachable from the chat side returns secret key
// material. The only methods are the handshake.Signer ones and lifecycle.
func TestKeyProcessAPI(t *testing.T) {
	typ := reflect.TypeOf(&KeyProcess{})
	allowed := map[string]bool{"Public": true, "SignBundle": true, "IdentityDH": true, "Fingerprint": true,
		"Created": true, "Done": true, "Err": true, "Close": true}
	secretTypes := []reflect.Type{reflect.TypeOf(&handshake.Identity{}), reflect.TypeOf(&secret{})}
	for i := 0; i < typ.NumMethod(); i++ {
		m := typ.Method(i)
		if !allowed[m.Name] {
			t.Errorf("KeyProcess has unexpected exported method %s: review it for secret leaks and add it here", m.Name)
		}
		for j := 0; j < m.Type.NumOut(); j++ {
			for _, st := range secretTypes {
				if m.Type.Out(j) == st {
					t.Errorf("KeyProcess.%s returns %v", m.Name, st)
				}
			}
		}
	}
	for i := 0; i < typ.Elem().NumField(); i++ {
		if f := typ.Elem().Field(i); f.IsExported() {
			t.Errorf("KeyProcess has exported field %s", f.Name)
		}
	}
}

// rawKeyProc starts the test key process with raw pipes, for sending
// arbitrary bytes.
type rawKeyProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out io.Reader
}

func startRaw(t *testing.T, home string) *rawKeyProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--home", home)
	cmd.Env = append(os.Environ(), envTestKeyProc+"=1")
	cmd.Stderr = io.Discard
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	return &rawKeyProc{cmd: cmd, in: in, out: out}
}

func (r *rawKeyProc) send(t *testing.T, raw []byte) (typ byte, body []byte, err error) {
	t.Helper()
	if _, err := r.in.Write(raw); err != nil {
		return 0, nil, err
	}
	buf := make([]byte, MaxKeyProcFrame)
	typ, body, err = readFrame(r.out, buf)
	return typ, bytes.Clone(body), err
}

func frame(typ byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(1+len(body)))
	return append(append(b, typ), body...)
}

func unlockBody(flags byte, pass string) []byte {
	b := []byte{kpVersion, flags}
	b = binary.BigEndian.AppendUint32(b, testArgon.Time)
	b = binary.BigEndian.AppendUint32(b, testArgon.MemoryKiB)
	b = append(b, testArgon.Threads)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pass)))
	return append(b, pass...)
}

// TestKeyProcessRejects drives the real key process with malformed and
// disallowed requests: each gets an error reply (and the process keeps
// serving), except a bad frame length, which ends it.
func TestKeyProcessRejects(t *testing.T) {
	v, _ := newIdentityVault(t, "pw")
	r := startRaw(t, v.Home())
	expectErr := func(what string, raw []byte, code byte) {
		t.Helper()
		typ, body, err := r.send(t, raw)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if typ != kpError || len(body) < 1 || body[0] != code {
			t.Fatalf("%s: reply %#x %q, want error code %d", what, typ, body, code)
		}
	}
	hash := make([]byte, 32)
	expectErr("sign before unlock", frame(kpSign, append([]byte{1}, hash...)), kpErrNotUnlocked)
	expectErr("dh before unlock", frame(kpDH, make([]byte, 32)), kpErrNotUnlocked)
	expectErr("wrong passphrase", frame(kpUnlock, unlockBody(0, "nope")), kpErrWrongPass)
	expectErr("unlock truncated", frame(kpUnlock, unlockBody(0, "pw")[:5]), kpErrMalformed)
	expectErr("unlock trailing", frame(kpUnlock, append(unlockBody(0, "pw"), 0)), kpErrMalformed)
	expectErr("unlock flags", frame(kpUnlock, unlockBody(0x80, "pw")), kpErrMalformed)
	bad := unlockBody(0, "pw")
	bad[0] = 2
	expectErr("unlock version", frame(kpUnlock, bad), kpErrMalformed)
	typ, body, err := r.send(t, frame(kpUnlock, unlockBody(0, "pw")))
	if err != nil || typ != kpUnlocked {
		t.Fatalf("unlock: %#x %q %v", typ, body, err)
	}
	expectErr("second unlock", frame(kpUnlock, unlockBody(0, "pw")), kpErrAlreadyUnlocked)
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"sign without level", frame(kpSign, hash)},
		{"sign long", frame(kpSign, append([]byte{1}, make([]byte, 33)...))},
		{"sign arbitrary message", frame(kpSign, append([]byte{1}, []byte("please sign this arbitrary message for me")...))},
		{"sign level 0", frame(kpSign, append([]byte{0}, hash...))},
		{"sign level 4", frame(kpSign, append([]byte{4}, hash...))},
		{"dh short", frame(kpDH, make([]byte, 31))},
		{"dh long", frame(kpDH, make([]byte, 33))},
	} {
		expectErr(tc.name, tc.raw, kpErrMalformed)
	}
	for typ := 0; typ < 256; typ++ {
		if typ == kpUnlock || typ == kpSign || typ == kpDH {
			continue
		}
		expectErr("request type", frame(byte(typ), hash), kpErrMalformed)
	}
	expectErr("dh low order", frame(kpDH, make([]byte, 32)), kpErrFailed)
	// Still serving.
	typ, body, err = r.send(t, frame(kpSign, append([]byte{1}, hash...)))
	if err != nil || typ != kpSigned {
		t.Fatalf("valid sign after rejections: %#x %v", typ, err)
	}
	// A frame length beyond the limit ends the key process.
	expectErr("oversized frame", []byte{0xff, 0xff, kpSign}, kpErrMalformed)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("key process exited with status 0 after a malformed frame")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("key process still running after a malformed frame")
	}
	log, _ := os.ReadFile(v.Log().Path())
	if !bytes.Contains(log, []byte(`"event":"rejected-input"`)) {
		t.Fatal("rejected requests not in the security log")
	}
}

// TestKeyProcessZeroFrame: a zero-length frame ends the key process too.
func TestKeyProcessZeroFrame(t *testing.T) {
	v, _ := newIdentityVault(t, "pw")
	r := startRaw(t, v.Home())
	typ, _, err := r.send(t, []byte{0, 0})
	if err != nil || typ != kpError {
		t.Fatalf("zero frame: %#x %v", typ, err)
	}
	if err := r.cmd.Wait(); err == nil {
		t.Fatal("exit status 0")
	}
}

// TestKeyProcessOutlivesNoParent: the key process exits when its parent is
// gone even though its input is still open (held here), as it would be when
// busy: it is in its own process group, so it must notice by itself.
func TestKeyProcessOutlivesNoParent(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX shell and process parents")
	}
	v, _ := newIdentityVault(t, "pw")
	pidFile := filepath.Join(t.TempDir(), "pid")
	sh := exec.Command("sh", "-c", `exec 3<&0; `+keyProcParentEnv+`=$$ "$0" --home "$1" <&3 & echo $! > "$2"; wait`, os.Args[0], v.Home(), pidFile)
	sh.Env = append(os.Environ(), envTestKeyProc+"=1")
	// The write end stays open here: the key process never sees end of input.
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inW.Close()
	sh.Stdin = inR
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	var pid int
	for i := 0; i < 100; i++ {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 1 {
			fmt.Sscan(string(b), &pid)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("key process did not start")
	}
	alive := func() bool { return syscallKill0(pid) }
	if !alive() {
		t.Fatal("key process not running")
	}
	sh.Process.Kill()
	sh.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive() {
		if time.Now().After(deadline) {
			t.Fatal("key process still running 10 s after its parent died")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
