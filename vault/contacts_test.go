package vault

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestContactsLifecycle(t *testing.T) {
	v := newVault(t)
	alice, mallory, bob := fp(1), fp(2), fp(3)

	for _, tc := range []struct {
		name string
		fp   Fingerprint
		want PeerStatus
	}{
		{"alice", alice, PeerNew},
		{"", alice, PeerNew},
	} {
		if st, err := v.CheckPeer(tc.name, tc.fp); st != tc.want || err != nil {
			t.Fatalf("CheckPeer(%q) = %v, %v; want %v", tc.name, st, err, tc.want)
		}
	}
	c, err := v.Pin("alice", alice)
	if err != nil || c.Verified || c.FirstSeen.IsZero() {
		t.Fatalf("Pin = %+v, %v", c, err)
	}
	if _, err := v.Pin("alice", bob); err == nil {
		t.Fatal("duplicate name pinned")
	}
	if _, err := v.Pin("alice2", alice); err == nil {
		t.Fatal("identity pinned twice")
	}
	for _, bad := range []string{"", " x", "x ", "a\nb", "a\x00", strings.Repeat("n", 65), "\xff"} {
		if _, err := v.Pin(bad, bob); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if st, err := v.CheckPeer("alice", alice); st != PeerKnown || err != nil {
		t.Fatalf("known: %v %v", st, err)
	}
	if st, err := v.CheckPeer("", alice); st != PeerKnown || err != nil {
		t.Fatalf("known by fp: %v %v", st, err)
	}
	if err := v.MarkVerified("alice", alice); err != nil {
		t.Fatal(err)
	}
	if st, _ := v.CheckPeer("alice", alice); st != PeerVerified {
		t.Fatalf("after verify: %v", st)
	}

	// Identity change: refused loudly, remembered as pending, still refused
	// on the next attempt, nothing re-pinned.
	for i := 0; i < 2; i++ {
		st, err := v.CheckPeer("alice", mallory)
		if st != PeerChanged || !errors.Is(err, ErrIdentityChanged) {
			t.Fatalf("changed identity: %v, %v", st, err)
		}
		for _, want := range []string{"IDENTITY CHANGED", alice.String(), mallory.String(), "rtcchat contacts verify"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("warning lacks %q:\n%v", want, err)
			}
		}
	}
	c, _, _ = v.Contact("alice")
	if c.Fingerprint != alice || !c.Changed || c.Pending != mallory || !c.Verified {
		t.Fatalf("after change: %+v", c)
	}
	if got, ok, _ := v.Lookup(mallory); ok {
		t.Fatalf("new identity pinned before re-verification: %+v", got)
	}
	// Another name for a pinned identity is reported, not silently accepted.
	if st, err := v.CheckPeer("bob", alice); st != PeerOtherName || !errors.Is(err, ErrNameMismatch) {
		t.Fatalf("other name: %v %v", st, err)
	}
	// Verifying some third identity is refused.
	if err := v.MarkVerified("alice", bob); err == nil {
		t.Fatal("verified an identity never presented")
	}
	// Re-verification pins the new identity.
	if err := v.MarkVerified("alice", mallory); err != nil {
		t.Fatal(err)
	}
	if st, err := v.CheckPeer("alice", mallory); st != PeerVerified || err != nil {
		t.Fatalf("after re-verification: %v %v", st, err)
	}
	if st, err := v.CheckPeer("alice", alice); st != PeerChanged || err == nil {
		t.Fatalf("old identity after re-pin: %v %v", st, err)
	}
	v.MarkVerified("alice", alice) // back to alice (pending)

	if err := v.Rename("alice", "Alice W."); err != nil {
		t.Fatal(err)
	}
	if err := v.Rename("nobody", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rename unknown: %v", err)
	}
	v.Pin("bob", bob)
	if err := v.Rename("bob", "Alice W."); err == nil {
		t.Fatal("rename onto an existing name")
	}

	// Forget also removes the contact's sealed blobs.
	if err := v.Unlock(nil); err == nil {
		t.Fatal("Unlock without identity succeeded")
	}
	if _, err := v.CreateIdentity(fixedPass("pw")); err != nil {
		t.Fatal(err)
	}
	if err := v.SaveSealed("pending", bob, []byte("queued")); err != nil {
		t.Fatal(err)
	}
	if err := v.Forget("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.LoadSealed("pending", bob); !errors.Is(err, ErrNotFound) {
		t.Fatalf("blob after forget: %v", err)
	}
	cs, err := v.Contacts()
	if err != nil || len(cs) != 1 || cs[0].Name != "Alice W." {
		t.Fatalf("contacts = %+v, %v", cs, err)
	}

	// Persisted: a fresh Open sees the same contacts.
	v2, err := Open(v.Home(), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	cs2, err := v2.Contacts()
	if err != nil || len(cs2) != 1 || cs2[0].Fingerprint != cs[0].Fingerprint || !cs2[0].FirstSeen.Equal(cs[0].FirstSeen) {
		t.Fatalf("reopened contacts = %+v, %v", cs2, err)
	}
	log, _ := os.ReadFile(v.Log().Path())
	for _, ev := range []string{"contact-pinned", "identity-changed", "verification", "contact-renamed", "contact-forgotten"} {
		if !bytes.Contains(log, []byte(`"event":"`+ev+`"`)) {
			t.Errorf("security log lacks %s", ev)
		}
	}
}

func TestContactsFileDamage(t *testing.T) {
	v := newVault(t)
	v.Pin("alice", fp(1))
	v.Pin("bob", fp(2))
	v.CheckPeer("bob", fp(3)) // a pending change, so every field is present
	orig, err := os.ReadFile(v.ContactsPath())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseContacts(orig); err != nil {
		t.Fatal(err)
	}
	check := func(what string, d []byte) {
		t.Helper()
		os.WriteFile(v.ContactsPath(), d, 0o600)
		_, err := v.Contacts()
		var fe *FileError
		if !errors.As(err, &fe) || fe.Path != v.ContactsPath() {
			t.Fatalf("%s: %v", what, err)
		}
		// Updates are refused too, and the file is left as it is.
		if _, err := v.Pin("carol", fp(4)); err == nil {
			t.Fatalf("%s: Pin over a damaged file succeeded", what)
		}
		if got, _ := os.ReadFile(v.ContactsPath()); !bytes.Equal(got, d) {
			t.Fatalf("%s: damaged file modified", what)
		}
	}
	for n := 0; n < len(orig); n++ {
		check("truncated", orig[:n])
	}
	for i := range orig {
		d := bytes.Clone(orig)
		d[i] ^= 0x20
		check("flipped", d)
	}
	// Structurally invalid content with a valid checksum.
	for _, tc := range []struct {
		cs   []Contact
		want string
	}{
		{[]Contact{{Name: "a", Fingerprint: fp(1)}, {Name: "a", Fingerprint: fp(2)}}, "twice"},
		{[]Contact{{Name: "a", Fingerprint: fp(1)}, {Name: "b", Fingerprint: fp(1)}}, "twice"},
		{[]Contact{{Name: "a\x01", Fingerprint: fp(1)}}, "control character"},
	} {
		_, err := parseContacts(marshalContacts(tc.cs))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	b := marshalContacts(nil)
	b[4] = 2
	if _, err := parseContacts(b); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("version: %v", err)
	}
}

func TestFingerprintText(t *testing.T) {
	f := fp(0xab)
	for _, s := range []string{f.String(), f.Hex(), strings.ToUpper(f.Hex()), strings.ReplaceAll(f.String(), " ", ":")} {
		g, err := ParseFingerprint(s)
		if err != nil || g != f {
			t.Fatalf("ParseFingerprint(%q) = %v, %v", s, g, err)
		}
	}
	for _, s := range []string{"", f.Hex()[:63], f.Hex() + "0", "zz" + f.Hex()[2:]} {
		if _, err := ParseFingerprint(s); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", s)
		}
	}
}
