//go:build race

package falcon

// raceEnabled trims the sizes of the slowest key-generation tests under the
// race detector (which slows this arithmetic down about tenfold).
const raceEnabled = true
