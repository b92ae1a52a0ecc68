//go:build !race

package falcon

const raceEnabled = false
