package falcon

// Owned by the encodings/verify part. Placeholders until it lands.

// publicFromFG computes h = g/f mod q; ok is false if f is not invertible mod q.
func publicFromFG(f, g *[n]int16) (h [n]uint16, ok bool) { panic("falcon: publicFromFG not implemented") }

// completeG computes G = g·F/f mod q, lifted to (-q/2, q/2]; ok is false if f is
// not invertible mod q.
func completeG(f, g, F *[n]int16) (G [n]int16, ok bool) { panic("falcon: completeG not implemented") }
