package harness

import (
	"os"
	"testing"
)

// RunDir makes a fresh temp dir for one instance and removes it at cleanup.
//
// It is not tb.TempDir(): that path embeds the test name, and subtest names
// (such as Stack.Name()) bring commas, which Pushpin reads as list
// separators in pushpin.conf and condure in --listen, and long names, which
// push ipc socket paths past the 107-byte limit of a unix socket address.
// A short "/tmp/pp-NNN" avoids both.
func RunDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pp-")
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("harness: remove %s: %v", dir, err)
		}
	})
	return dir
}
