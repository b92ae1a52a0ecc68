package ratchet_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"

	"github.com/rtcchat/rtcchat/ratchet"
)

// The handshake hands both sides the same secret and associated data, and
// the responder's initial ratchet key pair (the initiator gets its public
// half).
func Example() {
	secret := make([]byte, 64)
	rand.Read(secret)
	ad := []byte("transcript hash")
	responderKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
	cfg := ratchet.Config{PQ: true} // level "quantum"

	alice, err := ratchet.NewInitiator(cfg, secret, ad, responderKey.PublicKey())
	if err != nil {
		panic(err)
	}
	defer alice.Close()
	bob, err := ratchet.NewResponder(cfg, secret, ad, responderKey)
	if err != nil {
		panic(err)
	}
	defer bob.Close()

	msg, _ := alice.Encrypt([]byte("hello Bob"))
	pt, _ := bob.Decrypt(msg)
	fmt.Println(string(pt))

	// Resume later from sealed, serialised state.
	state, _ := bob.MarshalBinary()
	bob2, _ := ratchet.Unmarshal(state)
	reply, _ := bob2.Encrypt([]byte("hello Alice"))
	pt, _ = alice.Decrypt(reply)
	fmt.Println(string(pt))

	// A replay is rejected and changes nothing.
	before, _ := bob2.MarshalBinary()
	_, err = bob2.Decrypt(msg)
	after, _ := bob2.MarshalBinary()
	fmt.Println(err != nil, bytes.Equal(before, after))
	// Output:
	// hello Bob
	// hello Alice
	// true true
}
