package vault

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"time"
)

func FuzzParseSealed(f *testing.F) {
	key := make([]byte, 32)
	for _, s := range []*sealedFile{
		{kind: kindIdentity, source: srcKeyring, label: []byte("pub")},
		{kind: kindExport, source: srcPassphrase, argon: testArgon, label: []byte("pub")},
		{kind: kindStore, source: srcStore, label: []byte("pending/00")},
	} {
		seal(rand.Reader, key, s, []byte("plaintext"))
		f.Add(s.marshal())
	}
	f.Add([]byte("RTCV"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSealed(b)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to exactly the same bytes.
		if !bytes.Equal(s.marshal(), b) {
			t.Fatalf("re-encoding differs")
		}
		if s.source == srcPassphrase && s.argon.validate() != nil {
			t.Fatal("accepted invalid Argon2id parameters")
		}
		open(key, s)
	})
}

func FuzzParseContacts(f *testing.F) {
	now := time.Unix(1700000000, 0).UTC()
	f.Add(marshalContacts(nil))
	f.Add(marshalContacts([]Contact{{Name: "alice", Fingerprint: fp(1), FirstSeen: now, Verified: true}}))
	f.Add(marshalContacts([]Contact{{Name: "bob", Fingerprint: fp(2), FirstSeen: now, Changed: true, Pending: fp(3), PendingSeen: now}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := parseContacts(b)
		if err != nil {
			return
		}
		if !bytes.Equal(marshalContacts(cs), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzKeyProcess feeds arbitrary request streams to an unlocked key server:
// it never panics, every reply is well-formed, and it signs only 33-byte
// sign requests with a valid level.
func FuzzKeyProcess(f *testing.F) {
	f.Add(frame(kpSign, append([]byte{1}, make([]byte, 32)...)))
	f.Add(frame(kpDH, bytes.Repeat([]byte{9}, 32)))
	f.Add(frame(kpUnlock, unlockBody(0, "pw")))
	f.Add([]byte{0xff, 0xff})
	f.Add(append(frame(0x7, nil), frame(kpSign, make([]byte, 40))...))
	id, err := katGenerate(rand.Reader)
	if err != nil {
		f.Skip(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		s := &keyServer{v: &Vault{log: nil}, out: &out, id: id}
		buf := make([]byte, MaxKeyProcFrame)
		r := bytes.NewReader(in)
		var reqs [][]byte
		for {
			typ, body, err := readFrame(r, buf)
			if err != nil {
				break
			}
			reqs = append(reqs, append([]byte{typ}, body...))
			if err := s.handle(typ, body); err != nil {
				t.Fatal(err)
			}
		}
		rr := bytes.NewReader(out.Bytes())
		for _, req := range reqs {
			typ, body, err := readFrame(rr, buf)
			if err != nil {
				t.Fatalf("reply missing: %v", err)
			}
			switch typ {
			case kpSigned:
				if req[0] != kpSign || len(req) != 34 || req[1] < 1 || req[1] > 3 {
					t.Fatalf("signed request %x", req)
				}
			case kpDHResult:
				if req[0] != kpDH || len(req) != 33 || len(body) != 32 {
					t.Fatalf("dh for request %x", req)
				}
			case kpError:
			default:
				if req[0] != kpUnlock {
					t.Fatalf("reply %#x to request %x", typ, req)
				}
			}
		}
		if _, _, err := readFrame(rr, buf); err != io.EOF {
			t.Fatalf("extra replies: %v", err)
		}
	})
}
