package falcon

// Owned by the encodings/verify part. Placeholders until it lands.

func decodePublicKey(b []byte) (*PublicKey, error)   { panic("falcon: decodePublicKey not implemented") }
func encodePublicKey(pk *PublicKey) []byte           { panic("falcon: encodePublicKey not implemented") }
func decodePrivateKey(b []byte) (*PrivateKey, error) { panic("falcon: decodePrivateKey not implemented") }
func encodePrivateKey(sk *PrivateKey) []byte         { panic("falcon: encodePrivateKey not implemented") }

// compressS2 encodes s2 (spec Alg. 17) into at most maxLen bytes; ok is false if it does not fit.
func compressS2(s2 *[n]int16, maxLen int) (out []byte, ok bool) { panic("falcon: compressS2 not implemented") }
