package zmqx

import (
	"strings"
	"testing"
)

// FuzzParseSpecs checks that ParseSpecs never panics and that an accepted
// list survives being joined and parsed again.
func FuzzParseSpecs(f *testing.F) {
	for _, s := range []string{"", "tcp://127.0.0.1:5560", "ipc://a, ipc://b", "a,,b", "tcp://", ",", "ipc://@x,inproc://y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		specs, err := ParseSpecs(s)
		if err != nil {
			return
		}
		for _, spec := range specs {
			if ValidateSpec(spec) != nil || strings.TrimSpace(spec) != spec || strings.Contains(spec, ",") {
				t.Fatalf("ParseSpecs(%q) accepted bad element %q", s, spec)
			}
		}
		again, err := ParseSpecs(strings.Join(specs, ","))
		if err != nil || strings.Join(again, ",") != strings.Join(specs, ",") {
			t.Fatalf("ParseSpecs(%q) = %q; re-parse = %q, %v", s, specs, again, err)
		}
	})
}

// FuzzParseIPCMode checks that ParseIPCMode never panics and only ever
// yields permission bits.
func FuzzParseIPCMode(f *testing.F) {
	for _, s := range []string{"", "777", "0660", "8", "-1", "4777", " 600 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseIPCMode(s)
		if err != nil {
			return
		}
		if perm, set := m.Perm(); set && perm&^0o777 != 0 {
			t.Fatalf("ParseIPCMode(%q) = %v", s, perm)
		}
	})
}
