package pqkem

import "golang.org/x/sys/cpu"

// CIRCL's AVX2 code for ML-KEM (the 4-way Keccak and the polynomial
// arithmetic) returns with the upper halves of the YMM registers dirty (no
// VZEROUPPER). Until something clears them, every legacy-SSE instruction
// on that thread pays a state-transition penalty: here crypto/sha256's
// SHA-NI code (HKDF, HMAC) ran ten to fifteen times slower (a KDF_RK_HE
// took 80 µs instead of 6) after an ML-KEM operation. Every function of
// this package that calls into CIRCL's ML-KEM clears the state before it
// returns (AVXClean); BenchmarkKDFAfterMLKEM shows the difference.

var hasAVX = cpu.X86.HasAVX

// vzeroupper executes VZEROUPPER (vzeroupper_amd64.s). Only with AVX.
//
//go:noescape
func vzeroupper()

// AVXClean clears the upper halves of the YMM registers (VZEROUPPER) when
// the CPU has AVX. The package's own functions already call it; it is
// exported for code that calls CIRCL's AVX2 code directly.
func AVXClean() {
	if hasAVX {
		vzeroupper()
	}
}
