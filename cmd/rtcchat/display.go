package main

import (
	"strings"
	"unicode"
)

// cleanText makes text from the peer safe to show in a terminal: control
// characters (escape sequences could retitle the window, write the clipboard
// or move the cursor) and Unicode format characters (bidi overrides could
// reorder what is shown) become U+FFFD. Newlines and tabs stay.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r) && r != '\u200d': // keep ZWJ (emoji sequences)
			return '\uFFFD'
		}
		return r
	}, s)
}

// lineText is cleanText for the line mode: continuation lines are marked so
// a peer cannot fake a line of ours (such as "* delivered").
func lineText(s string) string {
	return strings.ReplaceAll(cleanText(s), "\n", "\n         │ ")
}
