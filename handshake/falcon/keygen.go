package falcon

import "io"

// Owned by the key-generation part. Placeholder until it lands.

func generateKey(rand io.Reader) (*PrivateKey, error) { panic("falcon: generateKey not implemented") }
