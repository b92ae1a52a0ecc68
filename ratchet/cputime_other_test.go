//go:build !unix

package ratchet

func processCPU() float64 { return 0 }
