package falcon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Interoperability with two independent Falcon-1024 implementations, run by
// node from interop/interop.mjs:
//   - @oqs/liboqs-js: liboqs (PQClean's Falcon-1024) compiled to WebAssembly;
//   - @noble/post-quantum: falcon1024, written in TypeScript.
// The packages are installed with npm into a cache folder under os.TempDir()
// keyed by their versions, so only the first run downloads them. The test
// skips, saying why, when node or npm is missing or the registry cannot be
// reached.

const (
	liboqsJSVersion = "0.15.1"
	nobleVersion    = "0.7.1"
)

// npmDir returns a folder with both packages installed, or skips the test.
func npmDir(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("interop: %s not found in PATH: %v", tool, err)
		}
	}
	// liboqs-js 0.15.1 declares node >= 22 but runs on node 20 (checked);
	// older versions lack the WebAssembly features it needs.
	if out, err := exec.Command("node", "-p", "process.versions.node").Output(); err != nil {
		t.Skipf("interop: node does not run: %v", err)
	} else if major, _, _ := strings.Cut(strings.TrimSpace(string(out)), "."); atoiOr0(major) < 20 {
		t.Skipf("interop: node %s is too old for @oqs/liboqs-js (need 20 or later)", strings.TrimSpace(string(out)))
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("rtcchat-falcon-npm-liboqs-js@%s-noble-pq@%s", liboqsJSVersion, nobleVersion))
	ready := func() bool {
		for _, p := range []string{"node_modules/@oqs/liboqs-js/package.json", "node_modules/@noble/post-quantum/falcon.js"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return false
			}
		}
		return true
	}
	if !ready() {
		// Install into a fresh folder, then rename it into place, so that a
		// concurrent or interrupted run never sees a half-installed cache.
		tmp, err := os.MkdirTemp(os.TempDir(), "rtcchat-falcon-npm-*")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		pkg := fmt.Sprintf(`{"name":"rtcchat-falcon-interop","private":true,"type":"module",`+
			`"dependencies":{"@oqs/liboqs-js":"%s","@noble/post-quantum":"%s"}}`, liboqsJSVersion, nobleVersion)
		if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(pkg), 0o644); err != nil {
			t.Fatal(err)
		}
		// Bounded: an unreachable registry must not stall the test suite.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
			"--fetch-retries=1", "--fetch-timeout=30000", "--fetch-retry-maxtimeout=10000")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("interop: npm install of @oqs/liboqs-js@%s and @noble/post-quantum@%s failed (registry unreachable?): %v\n%s",
				liboqsJSVersion, nobleVersion, err, out)
		}
		if err := os.Rename(tmp, dir); err != nil && !ready() {
			t.Fatalf("interop: cannot move the npm folder into place: %v", err)
		}
	}
	return dir
}

// interopScript copies interop/interop.mjs into the npm folder under a name
// of its own (so concurrent runs do not overwrite each other's copy; node
// finds node_modules beside it) and returns that name.
func interopScript(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("interop", "interop.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "interop-*.mjs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.Write(src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Base(f.Name())
}

func atoiOr0(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}

// runNode runs the interop script with a JSON request and decodes its JSON
// reply. It may run in its own goroutine (it reports errors, never fails t).
func runNode(ctx context.Context, dir, script, command string, req, reply any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "falcon-interop-request-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, command, f.Name())
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("node %s %s: %v\n%s", script, command, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), reply); err != nil {
		return fmt.Errorf("node %s %s: bad reply: %v", script, command, err)
	}
	return nil
}

type hexBytes []byte

func (h hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }
func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

type jsKeys struct {
	PK hexBytes `json:"pk"`
	SK hexBytes `json:"sk"`
}

type jsSig struct {
	Key int      `json:"key"`
	Msg hexBytes `json:"msg"`
	Sig hexBytes `json:"sig"`
}

type genReply struct {
	Libs map[string]struct {
		Keys []jsKeys `json:"keys"`
		Sigs []jsSig  `json:"sigs"`
	} `json:"libs"`
}

type verifyItem struct {
	Lib string   `json:"lib"`
	PK  hexBytes `json:"pk"`
	Msg hexBytes `json:"msg"`
	Sig hexBytes `json:"sig"`

	want bool   // expected answer
	what string // for failure messages
}

var jsLibs = []string{"liboqs", "noble"}

func randomMessage(t testing.TB, i int) []byte {
	var l [2]byte
	rand.Read(l[:])
	m := make([]byte, (int(l[0])<<8|int(l[1]))%1025)
	if i%50 == 0 {
		m = m[:0] // include empty messages
	}
	rand.Read(m)
	return m
}

// TestInterop runs all three directions with both libraries:
//  1. keys generated here sign random messages that liboqs-js and noble verify;
//  2. their signatures (on their random messages, with their keys) verify here;
//  3. their private keys load here (giving their public keys) and sign
//     messages that they verify.
//
// Negative controls (a flipped message bit) must be rejected on both sides,
// so a verifier that always says yes fails the test.
func TestInterop(t *testing.T) {
	dir := npmDir(t)
	script := interopScript(t, dir)
	// Key pairs per library (noble's key generation takes seconds) and
	// messages per library and direction: each direction carries 200
	// messages, and verification here 400 with the negative controls.
	jsKeys := map[string]int{"liboqs": 2, "noble": 1}
	messages := 100
	if testing.Short() {
		jsKeys["liboqs"], messages = 1, 30
	}

	var items []verifyItem
	var mu sync.Mutex
	add := func(it verifyItem) {
		mu.Lock()
		items = append(items, it)
		mu.Unlock()
	}

	// node generates keys and signs in the background while direction 1
	// (keys generated here) runs.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gen genReply
	genDone := make(chan error, 1)
	go func() {
		genDone <- runNode(ctx, dir, script, "gen", map[string]any{"keys": jsKeys, "messages": messages}, &gen)
	}()

	// Direction 1: keys generated here sign; they verify. They also sign
	// with these keys (below), and we verify.
	type signItem struct {
		Lib string   `json:"lib"`
		SK  hexBytes `json:"sk"`
		Msg hexBytes `json:"msg"`

		pk *PublicKey
	}
	var signItems []signItem
	for ki := 0; ki < 2; ki++ {
		sk, err := GenerateKey(nil)
		if err != nil {
			t.Fatalf("GenerateKey: %v", err)
		}
		for _, lib := range jsLibs {
			for j := 0; j < 10; j++ {
				signItems = append(signItems, signItem{Lib: lib, SK: sk.Bytes(), Msg: randomMessage(t, j+1), pk: sk.PublicKey()})
			}
		}
		pk := sk.PublicKey().Bytes()
		// The generated key passes our own strict decoder unchanged.
		if sk2, err := NewPrivateKey(sk.Bytes()); err != nil || !bytes.Equal(sk2.PublicKey().Bytes(), pk) {
			t.Fatalf("generated key %d does not round-trip through NewPrivateKey: %v", ki, err)
		}
		for i := ki; i < messages; i += 2 {
			msg := randomMessage(t, i)
			sig, err := sk.Sign(nil, msg)
			if err != nil {
				t.Fatalf("Sign with a generated key: %v", err)
			}
			if !Verify(sk.PublicKey(), msg, sig) {
				t.Fatalf("own signature %d rejected here", i)
			}
			for _, lib := range jsLibs {
				add(verifyItem{Lib: lib, PK: pk, Msg: msg, Sig: sig, want: true,
					what: fmt.Sprintf("signature made here with generated key %d on message %d, verified by %s", ki, i, lib)})
			}
		}
	}

	if err := <-genDone; err != nil {
		t.Fatal(err)
	}

	// Direction 2: their signatures verify here.
	for _, lib := range jsLibs {
		l, ok := gen.Libs[lib]
		if !ok || len(l.Keys) != jsKeys[lib] || len(l.Sigs) != messages {
			t.Fatalf("%s: incomplete reply from node", lib)
		}
		pks := make([]*PublicKey, len(l.Keys))
		for i, k := range l.Keys {
			pk, err := NewPublicKey(k.PK)
			if err != nil {
				t.Fatalf("%s key %d: NewPublicKey: %v", lib, i, err)
			}
			pks[i] = pk
		}
		for i, s := range l.Sigs {
			if !Verify(pks[s.Key], s.Msg, s.Sig) {
				t.Fatalf("%s signature %d (%d-byte message, %d-byte signature) rejected here", lib, i, len(s.Msg), len(s.Sig))
			}
			bad := bytes.Clone(s.Msg)
			if len(bad) == 0 {
				bad = []byte{0}
			} else {
				bad[i%len(bad)] ^= 1 << (i % 8)
			}
			if Verify(pks[s.Key], bad, s.Sig) {
				t.Fatalf("%s signature %d verifies here for a modified message", lib, i)
			}
		}
		t.Logf("%s: %d signatures from %d keys verified here", lib, len(l.Sigs), len(l.Keys))
	}

	// Direction 3: their private keys load here and sign.
	for _, lib := range jsLibs {
		for ki, k := range gen.Libs[lib].Keys {
			sk, err := NewPrivateKey(k.SK)
			if err != nil {
				t.Fatalf("%s key %d: NewPrivateKey: %v", lib, ki, err)
			}
			if !bytes.Equal(sk.PublicKey().Bytes(), k.PK) {
				t.Fatalf("%s key %d: public key recomputed here differs from theirs", lib, ki)
			}
			if !bytes.Equal(sk.Bytes(), k.SK) {
				t.Fatalf("%s key %d: private key does not re-encode to the same bytes", lib, ki)
			}
			for i := ki; i < messages; i += len(gen.Libs[lib].Keys) {
				msg := randomMessage(t, i)
				sig, err := sk.Sign(nil, msg)
				if err != nil {
					t.Fatalf("%s key %d: Sign: %v", lib, ki, err)
				}
				add(verifyItem{Lib: lib, PK: k.PK, Msg: msg, Sig: sig, want: true,
					what: fmt.Sprintf("signature made here with %s key %d on message %d", lib, ki, i)})
			}
		}
	}

	// Negative controls for the JS verifiers: their own signatures with a
	// flipped message bit, and with a flipped signature bit.
	for _, lib := range jsLibs {
		l := gen.Libs[lib]
		for i := 0; i < 10; i++ {
			s := l.Sigs[i]
			m := append(bytes.Clone(s.Msg), 0x55)
			add(verifyItem{Lib: lib, PK: l.Keys[s.Key].PK, Msg: m, Sig: s.Sig, what: fmt.Sprintf("%s signature %d with an extra message byte", lib, i)})
			sg := bytes.Clone(s.Sig)
			sg[1+i] ^= 0x80 // in the nonce
			add(verifyItem{Lib: lib, PK: l.Keys[s.Key].PK, Msg: s.Msg, Sig: sg, what: fmt.Sprintf("%s signature %d with a flipped nonce bit", lib, i)})
		}
		// And a positive control so the reply is known to line up.
		s := l.Sigs[0]
		add(verifyItem{Lib: lib, PK: l.Keys[s.Key].PK, Msg: s.Msg, Sig: s.Sig, want: true, what: fmt.Sprintf("%s's own signature 0", lib)})
	}

	var reply struct {
		Results []bool     `json:"results"`
		Sigs    []hexBytes `json:"sigs"`
	}
	if err := runNode(ctx, dir, script, "verify", map[string]any{"items": items, "sign": signItems}, &reply); err != nil {
		t.Fatal(err)
	}
	if len(reply.Results) != len(items) || len(reply.Sigs) != len(signItems) {
		t.Fatalf("node verified %d items and made %d signatures, sent %d and %d", len(reply.Results), len(reply.Sigs), len(items), len(signItems))
	}
	for i, it := range signItems {
		if !Verify(it.pk, it.Msg, reply.Sigs[i]) {
			t.Errorf("%s's signature %d with a key generated here is rejected here", it.Lib, i)
		}
		if Verify(it.pk, append(bytes.Clone(it.Msg), 1), reply.Sigs[i]) {
			t.Errorf("%s's signature %d with a key generated here verifies for another message", it.Lib, i)
		}
	}
	t.Logf("liboqs-js and noble made %d signatures with keys generated here; all verified here", len(signItems))
	accepted := map[string]int{}
	for i, it := range items {
		if reply.Results[i] != it.want {
			t.Errorf("%s: %s says %v, want %v", it.what, it.Lib, reply.Results[i], it.want)
		}
		if it.want {
			accepted[it.Lib]++
		}
	}
	t.Logf("node verified %d items (%v accepted as expected)", len(items), accepted)
}
