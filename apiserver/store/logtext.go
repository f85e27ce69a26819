package store

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// The text columns of activity_log hold what clients sent (User-Agent, path, attempted email):
// bytes, not text. utf8mb4 in strict mode refuses invalid UTF-8, which would roll back the
// action with its row, and a longer value than the column would be refused the same way. So
// every text value goes through logText on its way into the table: one escaping scheme for every
// column, which keeps valid text as it is, keeps every byte visible, and is reversible.
//
// The scheme (UnescapeLogText reverses it):
//   - a backslash is written `\\`;
//   - a byte that is not part of valid UTF-8, and the control bytes 0x00–0x1F and 0x7F, are
//     written `\xNN` (two lower-case hex digits);
//   - a value longer than its column is cut at the last whole character or escape that leaves
//     room for the marker `\…` (backslash, U+2026), which ends it.
//
// Read from the start, every backslash begins one of `\\`, `\xNN` or the final `\…` (a sent
// backslash followed by "…" is stored `\\…`), so no two inputs are stored alike unless one was
// cut. A literal U+FFFD sent by a client stays U+FFFD, distinct from the escaped bytes.
//
// No library escapes this way: strconv.Quote also escapes valid non-ASCII text (Korean user
// agents would become \uXXXX) and adds quotes; replacing invalid bytes with U+FFFD
// (strings.ToValidUTF8) loses them and is ambiguous.

// truncatedMarker ends a value cut to fit its column.
const truncatedMarker = `\…`

var truncatedMarkerLen = utf8.RuneCountInString(truncatedMarker)

const hexDigits = "0123456789abcdef"

// logText returns s escaped as above and bounded to width characters (VARCHAR widths count
// characters in utf8mb4).
func logText(s string, width int) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*width))
	chars := 0 // characters written
	keep := 0  // bytes of b up to the last unit that leaves room for the marker
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var unit string
		switch {
		case r == '\\':
			unit = `\\`
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			unit = string([]byte{'\\', 'x', hexDigits[s[i]>>4], hexDigits[s[i]&0xf]})
		default:
			unit = s[i : i+size]
		}
		n := utf8.RuneCountInString(unit)
		if chars+n > width {
			return b.String()[:keep] + truncatedMarker
		}
		b.WriteString(unit)
		chars += n
		if chars <= width-truncatedMarkerLen {
			keep = b.Len()
		}
		i += size
	}
	return b.String()
}

// ErrNotLogText: the value is not one logText writes.
var ErrNotLogText = errors.New("not an escaped activity_log value")

// UnescapeLogText returns the bytes a client sent for a value of an activity_log text column,
// and whether the stored value was cut to fit its column (then raw is the part kept). It is for
// readers of the log that need the original bytes; the stored form is what is exported.
func UnescapeLogText(stored string) (raw string, truncated bool, err error) {
	var b strings.Builder
	for i := 0; i < len(stored); i++ {
		c := stored[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		switch {
		case i+1 < len(stored) && stored[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case i+3 < len(stored) && stored[i+1] == 'x' && isLowerHex(stored[i+2]) && isLowerHex(stored[i+3]):
			b.WriteByte(unhex(stored[i+2])<<4 | unhex(stored[i+3]))
			i += 3
		case stored[i:] == truncatedMarker: // only here: `\…` at the end is a backslash and "…"
			return b.String(), true, nil
		default:
			return "", false, ErrNotLogText
		}
	}
	return b.String(), truncated, nil
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}
