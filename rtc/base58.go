package rtc

import "math/bits"

// The text form of a blob uses base58 with the alphabet popularised by
// Bitcoin: digits and letters without 0, O, I and l, so that no character can
// be misread, no punctuation is involved (chat apps turn _ and * into
// formatting), and a double click selects the whole blob.
//
// Bytes are taken in blocks of 8; each block, read as a big-endian number, is
// written as exactly 11 base58 digits (most significant first, padded with
// '1', the zero digit). A final block of k < 8 bytes is written as
// blockChars[k] digits, the fewest that can hold 256^k values. Blocks keep the
// encoding linear in time and make a cut-off text decode to a prefix of the
// bytes, so a truncated blob is reported as such. Every byte string has
// exactly one text.

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// blockChars[k] is the number of digits of a k-byte block.
var blockChars = [9]int{0, 2, 3, 5, 6, 7, 9, 10, 11}

// charsBlock[n] is the number of bytes an n-digit final block holds, or -1
// when no block has n digits.
var charsBlock = [12]int{0, -1, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8}

// base58Value maps an ASCII byte to its digit value, or -1.
var base58Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base58Alphabet); i++ {
		t[base58Alphabet[i]] = int8(i)
	}
	return t
}()

// base58EncodedLen is the text length of n bytes.
func base58EncodedLen(n int) int { return n/8*11 + blockChars[n%8] }

// base58Encode returns the base58 text of b.
func base58Encode(b []byte) string {
	out := make([]byte, base58EncodedLen(len(b)))
	o := 0
	for len(b) > 0 {
		k := min(8, len(b))
		var v uint64
		for _, c := range b[:k] {
			v = v<<8 | uint64(c)
		}
		n := blockChars[k]
		for i := n - 1; i >= 0; i-- {
			out[o+i] = base58Alphabet[v%58]
			v /= 58
		}
		o += n
		b = b[k:]
	}
	return string(out)
}

// base58Decode decodes s. ok is false when s has a length no encoding has,
// a character outside the alphabet, or a block whose value does not fit its
// bytes; pos is then the 0-based index of the offending block or character.
func base58Decode(s string) (out []byte, pos int, ok bool) {
	tail := len(s) % 11
	if charsBlock[tail] < 0 {
		return nil, len(s) - tail, false
	}
	out = make([]byte, 0, len(s)/11*8+charsBlock[tail])
	for start := 0; start < len(s); start += 11 {
		end := min(start+11, len(s))
		k := charsBlock[end-start]
		var v uint64
		for i := start; i < end; i++ {
			d := base58Value[s[i]]
			if d < 0 {
				return nil, i, false
			}
			hi, lo := bits.Mul64(v, 58)
			lo, carry := bits.Add64(lo, uint64(d), 0)
			if hi != 0 || carry != 0 {
				return nil, start, false
			}
			v = lo
		}
		if k < 8 && v>>(8*k) != 0 {
			return nil, start, false
		}
		for i := k - 1; i >= 0; i-- {
			out = append(out, byte(v>>(8*i)))
		}
	}
	return out, 0, true
}
