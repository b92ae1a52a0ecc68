package main

import (
	"slices"
	"strconv"
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

// offerList is the incoming file offers waiting for /accept or /decline,
// oldest first.
type offerList []uint64

// pick returns the offer named by arg (its hex id), or the latest when arg
// is empty.
func (l offerList) pick(arg string) (uint64, bool) {
	if len(l) == 0 {
		return 0, false
	}
	if arg == "" {
		return l[len(l)-1], true
	}
	id, err := strconv.ParseUint(arg, 16, 64)
	if err != nil || !slices.Contains(l, id) {
		return 0, false
	}
	return id, true
}

// drop removes id from the list.
func (l *offerList) drop(id uint64) {
	*l = slices.DeleteFunc(*l, func(o uint64) bool { return o == id })
}
