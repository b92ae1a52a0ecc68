package main

import "testing"

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                  "hello",
		"\x1b]0;pwned\x07":       "\uFFFD]0;pwned\uFFFD",
		"\x1b]52;c;ZXZpbA==\x07": "\uFFFD]52;c;ZXZpbA==\uFFFD",
		"invoice\u202Efdp.exe":   "invoice\uFFFDfdp.exe",
		"line1\nline2\ttab":      "line1\nline2\ttab",
		"\u0085c1":               "\uFFFDc1",
		"👩\u200d💻":               "👩\u200d💻",
	} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := lineText("hi\n* delivered 1234"); got != "hi\n         │ * delivered 1234" {
		t.Errorf("lineText: %q", got)
	}
}
