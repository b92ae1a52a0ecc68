package vault

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Contact is a peer with a pinned identity fingerprint.
type Contact struct {
	Name        string
	Fingerprint Fingerprint // the pinned identity
	FirstSeen   time.Time
	Verified    bool // safety number compared out of band
	// Changed is set when this contact's name was last presented with a
	// different identity (Pending): refused until the user re-verifies.
	Changed     bool
	Pending     Fingerprint
	PendingSeen time.Time
}

// PeerStatus is the outcome of CheckPeer.
type PeerStatus int

const (
	PeerNew       PeerStatus = iota // neither name nor fingerprint known: first contact
	PeerKnown                       // pinned, not yet verified
	PeerVerified                    // pinned and verified
	PeerChanged                     // the name is pinned to a different identity: refuse
	PeerOtherName                   // the identity is pinned, but under another name
)

func (s PeerStatus) String() string {
	if s < 0 || s > PeerOtherName {
		return fmt.Sprintf("PeerStatus(%d)", int(s))
	}
	return [...]string{"new", "known (unverified)", "verified", "IDENTITY CHANGED", "pinned under another name"}[s]
}

// Contacts file format, version 1 (docs/PROTOCOL.md §5.3), big-endian:
//
//	magic "RTCC" | version=1 | count u16
//	count × { name length u8 | name (UTF-8) | fingerprint[32] | first seen i64 (Unix s)
//	          | flags u8 (bit 0 verified, bit 1 changed) | if changed: pending fingerprint[32] | pending seen i64 }
//	SHA-256 of all preceding bytes [32]
const (
	contactsMagic   = "RTCC"
	contactsVersion = 1
	maxContacts     = 4096
	maxNameLen      = 64
	maxContactsFile = 8 + maxContacts*(1+maxNameLen+32+8+1+32+8) + 32

	flagVerified = 1 << 0
	flagChanged  = 1 << 1
)

// ValidateName checks a contact name: 1..64 bytes of UTF-8, no control
// characters, no leading or trailing space.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("contact name is empty")
	case len(name) > maxNameLen:
		return fmt.Errorf("contact name is %d bytes long (at most %d)", len(name), maxNameLen)
	case !utf8.ValidString(name):
		return errors.New("contact name is not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return errors.New("contact name starts or ends with white space")
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("contact name contains the control character %U", r)
		}
	}
	return nil
}

func marshalContacts(cs []Contact) []byte {
	b := append([]byte(contactsMagic), contactsVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cs)))
	for _, c := range cs {
		b = append(b, byte(len(c.Name)))
		b = append(b, c.Name...)
		b = append(b, c.Fingerprint[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(c.FirstSeen.Unix()))
		var fl byte
		if c.Verified {
			fl |= flagVerified
		}
		if c.Changed {
			fl |= flagChanged
		}
		b = append(b, fl)
		if c.Changed {
			b = append(b, c.Pending[:]...)
			b = binary.BigEndian.AppendUint64(b, uint64(c.PendingSeen.Unix()))
		}
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func parseContacts(b []byte) ([]Contact, error) {
	if len(b) < len(contactsMagic)+3+sha256.Size {
		return nil, fmt.Errorf("is truncated (%d bytes)", len(b))
	}
	if string(b[:4]) != contactsMagic {
		return nil, errors.New("is not an rtcchat contacts file (bad magic)")
	}
	if b[4] != contactsVersion {
		return nil, fmt.Errorf("has unsupported format version %d (this rtcchat reads version %d)", b[4], contactsVersion)
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	want := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(sum, want[:]) != 1 {
		return nil, errors.New("fails its checksum: it was truncated or altered")
	}
	r := reader{b: body, off: 5}
	n := int(r.u16())
	if n > maxContacts {
		return nil, fmt.Errorf("declares %d contacts (at most %d)", n, maxContacts)
	}
	cs := make([]Contact, 0, n)
	names := map[string]bool{}
	fps := map[Fingerprint]bool{}
	for i := 0; i < n; i++ {
		var c Contact
		c.Name = string(r.bytes(int(r.u8())))
		copy(c.Fingerprint[:], r.bytes(32))
		c.FirstSeen = time.Unix(int64(r.u64()), 0).UTC()
		fl := r.u8()
		if r.err != nil {
			return nil, fmt.Errorf("is truncated in contact %d", i+1)
		}
		if err := ValidateName(c.Name); err != nil {
			return nil, fmt.Errorf("contact %d: %v", i+1, err)
		}
		if fl&^(flagVerified|flagChanged) != 0 {
			return nil, fmt.Errorf("contact %d has unknown flags %#x", i+1, fl)
		}
		c.Verified, c.Changed = fl&flagVerified != 0, fl&flagChanged != 0
		if c.Changed {
			copy(c.Pending[:], r.bytes(32))
			c.PendingSeen = time.Unix(int64(r.u64()), 0).UTC()
			if r.err != nil {
				return nil, fmt.Errorf("is truncated in contact %d", i+1)
			}
		}
		if names[c.Name] {
			return nil, fmt.Errorf("lists the name %q twice", c.Name)
		}
		if fps[c.Fingerprint] {
			return nil, fmt.Errorf("pins fingerprint %s twice", c.Fingerprint.Hex())
		}
		names[c.Name], fps[c.Fingerprint] = true, true
		cs = append(cs, c)
	}
	if r.left() != 0 {
		return nil, fmt.Errorf("has %d unexpected bytes after the last contact", r.left())
	}
	return cs, nil
}

// ContactsPath is the contacts file.
func (v *Vault) ContactsPath() string { return filepath.Join(v.home, "contacts") }

func (v *Vault) loadContacts() ([]Contact, error) {
	b, err := readFileLimited(v.ContactsPath(), maxContactsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cs, perr := parseContacts(b)
	if perr != nil {
		v.log.Record(Event{Kind: EventDamagedFile, Result: "refused", Detail: v.ContactsPath() + " " + perr.Error()})
		return nil, &FileError{Path: v.ContactsPath(), Problem: perr.Error()}
	}
	return cs, nil
}

func (v *Vault) saveContacts(cs []Contact) error {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return writeFileAtomic(v.ContactsPath(), marshalContacts(cs))
}

// updateContacts loads, modifies and atomically rewrites the contacts file
// under the vault's lock (and, across processes, a lock file).
func (v *Vault) updateContacts(f func([]Contact) ([]Contact, error)) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	unlock, err := lockFile(filepath.Join(v.home, ".contacts.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	cs, err := v.loadContacts()
	if err != nil {
		return err
	}
	cs, err = f(cs)
	if err != nil {
		return err
	}
	return v.saveContacts(cs)
}

// Contacts lists all contacts, sorted by name.
func (v *Vault) Contacts() ([]Contact, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.loadContacts()
}

// Lookup finds the contact pinned to fp.
func (v *Vault) Lookup(fp Fingerprint) (Contact, bool, error) {
	cs, err := v.Contacts()
	for _, c := range cs {
		if c.Fingerprint == fp {
			return c, true, nil
		}
	}
	return Contact{}, false, err
}

// Contact finds the contact called name.
func (v *Vault) Contact(name string) (Contact, bool, error) {
	cs, err := v.Contacts()
	for _, c := range cs {
		if c.Name == name {
			return c, true, nil
		}
	}
	return Contact{}, false, err
}

func find(cs []Contact, name string) int {
	for i := range cs {
		if cs[i].Name == name {
			return i
		}
	}
	return -1
}

func findFP(cs []Contact, fp Fingerprint) int {
	for i := range cs {
		if cs[i].Fingerprint == fp {
			return i
		}
	}
	return -1
}

// Pin records a new contact (first contact: trust on first use, unverified).
func (v *Vault) Pin(name string, fp Fingerprint) (Contact, error) {
	if err := ValidateName(name); err != nil {
		return Contact{}, fmt.Errorf("vault: %w", err)
	}
	var out Contact
	err := v.updateContacts(func(cs []Contact) ([]Contact, error) {
		if i := find(cs, name); i >= 0 {
			return nil, fmt.Errorf("vault: a contact called %q already exists", name)
		}
		if i := findFP(cs, fp); i >= 0 {
			return nil, fmt.Errorf("vault: this identity is already pinned as %q", cs[i].Name)
		}
		if len(cs) >= maxContacts {
			return nil, fmt.Errorf("vault: at most %d contacts", maxContacts)
		}
		out = Contact{Name: name, Fingerprint: fp, FirstSeen: time.Now().UTC().Truncate(time.Second)}
		return append(cs, out), nil
	})
	if err == nil {
		v.log.Record(Event{Kind: EventContactPinned, Peer: fp.Hex(), Result: "ok", Detail: "pinned as " + name})
	}
	return out, err
}

// CheckPeer decides whether a peer that authenticated with identity fp, and
// that the user calls name ("" when unknown), may proceed:
//
//   - fp pinned (under name, or under any name when name is ""): PeerKnown or
//     PeerVerified.
//   - fp pinned under another name than name: PeerOtherName with an error
//     wrapping ErrNameMismatch (the caller decides; the chat refuses).
//   - name pinned to a different identity: PeerChanged with an error
//     wrapping ErrIdentityChanged. The new identity
//     is remembered as pending (Contact.Changed) so the user can re-verify it
//     with MarkVerified; until then it stays refused.
//   - neither known: PeerNew (the caller may Pin it).
func (v *Vault) CheckPeer(name string, fp Fingerprint) (PeerStatus, error) {
	var status PeerStatus
	var pinned Fingerprint
	var other string
	err := v.updateContacts(func(cs []Contact) ([]Contact, error) {
		if name == "" {
			if i := findFP(cs, fp); i >= 0 {
				status = PeerKnown
				if cs[i].Verified {
					status = PeerVerified
				}
				return cs, nil
			}
			status = PeerNew
			return cs, nil
		}
		i := find(cs, name)
		if i < 0 {
			if j := findFP(cs, fp); j >= 0 {
				other = cs[j].Name
				status = PeerOtherName
				return cs, nil
			}
			status = PeerNew
			return cs, nil
		}
		if subtle.ConstantTimeCompare(cs[i].Fingerprint[:], fp[:]) == 1 {
			status = PeerKnown
			if cs[i].Verified {
				status = PeerVerified
			}
			return cs, nil
		}
		status, pinned = PeerChanged, cs[i].Fingerprint
		cs[i].Changed, cs[i].Pending, cs[i].PendingSeen = true, fp, time.Now().UTC().Truncate(time.Second)
		return cs, nil
	})
	if err != nil {
		return status, err
	}
	switch {
	case status == PeerOtherName:
		v.log.Record(Event{Kind: EventVerification, Peer: fp.Hex(), Result: "name-mismatch", Detail: fmt.Sprintf("identity pinned as %q presented as %q", other, name)})
		return status, fmt.Errorf("%w: the identity %s is pinned as %q, not %q", ErrNameMismatch, fp, other, name)
	case status == PeerChanged:
		v.log.Record(Event{Kind: EventIdentityChanged, Peer: name, Result: "refused", Detail: "pinned " + pinned.Hex() + ", presented " + fp.Hex()})
		return status, fmt.Errorf("%w\n  contact:   %s\n  pinned:    %s\n  presented: %s\nSomeone may be intercepting the connection, or %s set up a new identity.\nCompare safety numbers with %s out of band; only if they match, run: rtcchat contacts verify %q --fingerprint %s",
			ErrIdentityChanged, name, pinned, fp, name, name, name, fp.Hex())
	}
	return status, nil
}

// MarkVerified records that the user compared safety numbers with name and
// that they matched for identity fp. fp must be the pinned identity, or the
// pending identity of a changed contact (re-verification pins it).
func (v *Vault) MarkVerified(name string, fp Fingerprint) error {
	var changed bool
	var old Fingerprint
	err := v.updateContacts(func(cs []Contact) ([]Contact, error) {
		i := find(cs, name)
		if i < 0 {
			return nil, fmt.Errorf("vault: no contact called %q: %w", name, ErrNotFound)
		}
		c := &cs[i]
		switch {
		case c.Fingerprint == fp:
			c.Verified, c.Changed, c.Pending, c.PendingSeen = true, false, Fingerprint{}, time.Time{}
		case c.Changed && c.Pending == fp:
			if j := findFP(cs, fp); j >= 0 {
				return nil, fmt.Errorf("vault: this identity is already pinned as %q", cs[j].Name)
			}
			changed, old = true, c.Fingerprint
			c.Fingerprint, c.Verified, c.Changed, c.Pending, c.PendingSeen = fp, true, false, Fingerprint{}, time.Time{}
		default:
			return nil, fmt.Errorf("vault: %s is not the identity pinned for %q (%s) nor a newly presented one", fp, name, c.Fingerprint)
		}
		return cs, nil
	})
	if err != nil {
		v.log.Record(Event{Kind: EventVerification, Peer: name, Result: "refused", Detail: err.Error()})
		return err
	}
	d := "safety number confirmed by the user"
	if changed {
		d += "; re-pinned from " + old.Hex()
		v.log.Record(Event{Kind: EventIdentityChanged, Peer: fp.Hex(), Result: "accepted", Detail: "user re-verified " + name})
	}
	v.log.Record(Event{Kind: EventVerification, Peer: fp.Hex(), Result: "verified", Detail: d})
	return nil
}

// Rename changes a contact's name.
func (v *Vault) Rename(oldName, newName string) error {
	if err := ValidateName(newName); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	err := v.updateContacts(func(cs []Contact) ([]Contact, error) {
		i := find(cs, oldName)
		if i < 0 {
			return nil, fmt.Errorf("vault: no contact called %q: %w", oldName, ErrNotFound)
		}
		if find(cs, newName) >= 0 {
			return nil, fmt.Errorf("vault: a contact called %q already exists", newName)
		}
		cs[i].Name = newName
		return cs, nil
	})
	if err == nil {
		v.log.Record(Event{Kind: EventContactRenamed, Peer: newName, Result: "ok", Detail: "was " + oldName})
	}
	return err
}

// Forget removes a contact and every blob stored for its identity.
func (v *Vault) Forget(name string) error {
	var fp Fingerprint
	err := v.updateContacts(func(cs []Contact) ([]Contact, error) {
		i := find(cs, name)
		if i < 0 {
			return nil, fmt.Errorf("vault: no contact called %q: %w", name, ErrNotFound)
		}
		fp = cs[i].Fingerprint
		return append(cs[:i], cs[i+1:]...), nil
	})
	if err != nil {
		return err
	}
	v.log.Record(Event{Kind: EventContactForgotten, Peer: fp.Hex(), Result: "ok", Detail: "forgot " + name})
	return v.deleteAllSealed(fp)
}
