package config

import (
	"io/fs"
	"os"
	"strings"
	"testing"
)

// FuzzParseINI feeds arbitrary text to the INI reader and to the whole
// loader (typed sections, templating) and checks that nothing panics and
// that reported lines are within the input.
func FuzzParseINI(f *testing.F) {
	for _, p := range []string{"/etc/pushpin/pushpin.conf", "/usr/lib/pushpin/internal.conf", "../../deploy/pushpin.conf", "../../deploy/internal.conf"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"[global]\nrundir=run\nport_offset=3\n[handler]\npush_in_spec=tcp://[::1]:5560,\"tcp://a:1 tcp://b:2\"\n",
		"a=\"multi\nline\" ; c\n[ General ]\nb=\\x41\\101\\\n c\n#x=\"y\n",
		"[runner]\nlog_level=1,condure:3\nservices=a,,b\n[proxy]\nsig_key=a,b\nipc_file_mode=777\n",
		"\xef\xbb\xbf[broken\nnoequals\n=x\nat=@@x\ninv=@Invalid()\n",
	} {
		f.Add([]byte(s))
	}
	// Fuzzed include paths must not reach the file system (/dev/zero…).
	readInclude = func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Count(string(data), "\n") + strings.Count(string(data), "\r") + 1
		ini, warns := parseINI("fuzz", data)
		for _, e := range ini.order {
			if e.line < 1 || e.line > lines {
				t.Fatalf("entry %q line %d outside 1..%d", e.key, e.line, lines)
			}
		}
		for _, w := range warns {
			if w.Line < 1 || w.Line > lines {
				t.Fatalf("warning line %d outside 1..%d", w.Line, lines)
			}
		}
		c, err := Parse("/fuzz/pushpin.conf", data, Options{LibDir: "/nonexistent-lib"})
		if err == nil {
			for _, u := range c.Unknown {
				if _, ok := c.Value(u.Section, u.Key); !ok {
					t.Fatalf("unknown key %s/%s not found by Value", u.Section, u.Key)
				}
			}
		}
	})
}
