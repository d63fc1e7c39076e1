package log

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzAppendString checks that an attribute value is either written bare,
// in which case it cannot be confused with the k=v separators or break the
// line, or quoted so that it unquotes back to the original.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a b", "a=b", `"`, "\n", "\xff", "héllo", "\u2028", "tab\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := string(appendString(nil, s))
		if out == s {
			if s == "" || strings.ContainsAny(s, " =\"\n\r\t") {
				t.Fatalf("%q written bare", s)
			}
			return
		}
		back, err := strconv.Unquote(out)
		if err != nil || back != s {
			t.Fatalf("%q written as %s, unquotes to %q (%v)", s, out, back, err)
		}
	})
}
