package falcon_test

import (
	"fmt"

	"github.com/rtcchat/rtcchat/handshake/falcon"
)

func Example() {
	sk, err := falcon.GenerateKey(nil) // crypto/rand
	if err != nil {
		panic(err)
	}
	msg := []byte("hello, post-quantum world")
	sig, err := sk.Sign(nil, msg)
	if err != nil {
		panic(err)
	}

	// The receiver gets the encoded public key and decodes it strictly.
	pk, err := falcon.NewPublicKey(sk.PublicKey().Bytes())
	if err != nil {
		panic(err)
	}
	fmt.Println(falcon.Verify(pk, msg, sig))
	fmt.Println(falcon.Verify(pk, []byte("another message"), sig))
	fmt.Println(len(sig) <= falcon.MaxSignatureSize, len(pk.Bytes()) == falcon.PublicKeySize)

	sk.Destroy() // wipe the private key when done
	// Output:
	// true
	// false
	// true true
}
