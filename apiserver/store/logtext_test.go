package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLogTextEscapesWhatUtf8mb4RefusesAndKeepsTextAsIs(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ASCII", "curl/8.5.0", "curl/8.5.0"},
		{"Korean and emoji", "Mozilla/5.0 테스트 😀", "Mozilla/5.0 테스트 😀"},
		{"a real U+FFFD stays one", "a\uFFFDb", "a\uFFFDb"},
		{"backslash doubled", `C:\ua`, `C:\\ua`},
		{"text that looks like an escape", `\xff`, `\\xff`},
		{"text that looks like the cut marker", `a\…`, `a\\…`},
		{"invalid bytes", "a\xff\xfeb", `a\xff\xfeb`},
		{"truncated sequence", "가"[:2], `\xea\xb0`},
		{"encoded surrogate", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"overlong encoding", "\xc0\xaf", `\xc0\xaf`},
		{"control bytes", "a\x00\t\n\r\x1b\x7fb", `a\x00\x09\x0a\x0d\x1b\x7fb`},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := logText(tt.in, 512)
			if got != tt.want {
				t.Fatalf("logText(%q) = %q, want %q", tt.in, got, tt.want)
			}
			raw, truncated, err := UnescapeLogText(got)
			if err != nil || truncated || raw != tt.in {
				t.Fatalf("UnescapeLogText(%q) = %q, %v, %v; want %q", got, raw, truncated, err, tt.in)
			}
		})
	}
}

func TestLogTextCutsToTheColumnWithoutSplittingACharacterOrAnEscape(t *testing.T) {
	a := strings.Repeat
	tests := []struct {
		name, in, want string
	}{
		{"exactly the width", a("a", 512), a("a", 512)},
		{"512 characters of 3 bytes", a("a", 511) + "가", a("a", 511) + "가"},
		{"one character over", a("a", 513), a("a", 510) + `\…`},
		{"2000 bytes", a("u", 2000), a("u", 510) + `\…`},
		{"Korean over the width", a("가", 700), a("가", 510) + `\…`},
		{"a character at the cut", a("a", 510) + "가나다", a("a", 510) + `\…`},
		{"an escape at the cut", a("a", 509) + "\xff" + "bc", a("a", 509) + `\…`},
		{"a doubled backslash before the cut", a("a", 508) + `\` + "bcd", a("a", 508) + `\\` + `\…`},
		{"a doubled backslash at the cut", a("a", 509) + `\` + "bcd", a("a", 509) + `\…`},
		{"invalid bytes over the width", a("\xff", 600), a(`\xff`, 127) + `\…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := logText(tt.in, 512)
			if got != tt.want {
				t.Fatalf("logText = %q (%d characters), want %q", got, utf8.RuneCountInString(got), tt.want)
			}
			if n := utf8.RuneCountInString(got); n > 512 || !utf8.ValidString(got) {
				t.Fatalf("%d characters, valid UTF-8 %v", n, utf8.ValidString(got))
			}
			raw, truncated, err := UnescapeLogText(got)
			if err != nil || truncated != (tt.in != tt.want) || !strings.HasPrefix(tt.in, raw) {
				t.Fatalf("UnescapeLogText = %q, truncated %v, %v", raw, truncated, err)
			}
		})
	}
}

func TestUnescapeLogTextRefusesWhatLogTextNeverWrites(t *testing.T) {
	for _, s := range []string{`\`, `a\b`, `\x`, `\xf`, `\xFF`, `\xzz`, `\u0041`, `\…a`, `a\\\`} {
		if raw, _, err := UnescapeLogText(s); err == nil {
			t.Errorf("UnescapeLogText(%q) = %q, want an error", s, raw)
		}
	}
}

// FuzzLogText: whatever the bytes, the stored value is valid UTF-8 without control bytes, fits
// its column, and gives back the bytes sent (or, when cut, a prefix of them that fills the
// column up to the largest escape).
func FuzzLogText(f *testing.F) {
	for _, s := range []string{"", "curl/8.5.0", `\…`, strings.Repeat("a", 600) + `\…`, "테스트 😀", "\xff\xfe", `\x41\\`, "\x00\r\n", strings.Repeat("가", 600), strings.Repeat("\xff", 200) + "끝"} {
		f.Add(s, uint16(512))
		f.Add(s, uint16(8))
	}
	f.Fuzz(func(t *testing.T, s string, w uint16) {
		width := 8 + int(w)%600
		got := logText(s, width)
		n := utf8.RuneCountInString(got)
		if !utf8.ValidString(got) || n > width {
			t.Fatalf("logText(%q, %d) = %q: valid UTF-8 %v, %d characters", s, width, got, utf8.ValidString(got), n)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f {
				t.Fatalf("logText(%q) = %q holds control byte %#x", s, got, got[i])
			}
		}
		raw, truncated, err := UnescapeLogText(got)
		switch {
		case err != nil:
			t.Fatalf("UnescapeLogText(%q): %v", got, err)
		case !truncated && raw != s:
			t.Fatalf("logText(%q) = %q gives back %q", s, got, raw)
		case truncated && (!strings.HasPrefix(s, raw) || n < width-truncatedMarkerLen-3):
			t.Fatalf("logText(%q, %d) = %q (%d characters): cut wrongly", s, width, got, n)
		}
	})
}
