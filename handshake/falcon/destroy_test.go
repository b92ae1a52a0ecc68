package falcon

import (
	"reflect"
	"testing"
)

func TestDestroyWipes(t *testing.T) {
	r := loadKAT(t)[0]
	sk, err := NewPrivateKey(r.SK)
	if err != nil {
		t.Fatal(err)
	}
	pk := sk.PublicKey()
	if _, err := sk.Sign(nil, []byte("populate the expanded key")); err != nil {
		t.Fatal(err)
	}
	e := sk.expanded
	if e == nil || reflect.ValueOf(*e).IsZero() {
		t.Fatal("Sign did not leave an expanded key to wipe")
	}
	sk.Destroy()
	var zero [n]int16
	if sk.f != zero || sk.g != zero || sk.F != zero || sk.G != zero {
		t.Fatal("Destroy left secret polynomials in place")
	}
	if sk.expanded != nil {
		t.Fatal("Destroy kept the expanded key")
	}
	if !reflect.ValueOf(*e).IsZero() {
		t.Fatal("Destroy did not wipe the expanded key")
	}
	// The public key handed out before is a copy and stays usable.
	if !Verify(pk, r.Msg, r.detachedSig()) {
		t.Fatal("public key obtained before Destroy no longer verifies")
	}
	sk.Destroy() // idempotent
	var nilKey *PrivateKey
	nilKey.Destroy()
}
