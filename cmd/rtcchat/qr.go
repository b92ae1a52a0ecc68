package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"rsc.io/qr"
)

// writeQR draws text as a QR code with half-block characters, two modules
// per character cell, dark modules on a light background (what phone
// scanners expect, whatever the terminal's colours), with a 2-module quiet
// zone. It uses rsc.io/qr: a small, dependency-free encoder by Russ Cox that
// many Go tools use through mdp/qrterminal; its output is a plain bitmap.
func writeQR(w io.Writer, text string) error {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return err
	}
	const quiet = 2
	n := code.Size
	dark := func(x, y int) bool {
		return x >= 0 && y >= 0 && x < n && y < n && code.Black(x, y)
	}
	var b strings.Builder
	for y := -quiet; y < n+quiet; y += 2 {
		b.WriteString("\x1b[30;107m") // black on bright white
		for x := -quiet; x < n+quiet; x++ {
			top, bottom := dark(x, y), dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// showBlob prints a blob on its own line, and as a QR code when out is a
// terminal and qr is wanted.
func showBlob(out io.Writer, blob string, withQR bool) {
	if withQR && isTerminal(out) {
		if err := writeQR(out, blob); err != nil {
			fmt.Fprintf(out, "(no QR code: %v)\n", err)
		}
	}
	fmt.Fprintln(out, blob)
}
