//go:build !linux

package rtc

func setSockBufForce(any, int) {}
