package falcon

import "io"

// Owned by the signing part. Placeholders until it lands.

// expandedKey holds what signing derives from a private key once (the FFT of
// the basis and the LDL tree).
type expandedKey struct{}

func sign(sk *PrivateKey, rand io.Reader, msg []byte) ([]byte, error) {
	panic("falcon: sign not implemented")
}
