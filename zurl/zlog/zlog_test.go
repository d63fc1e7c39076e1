package zlog

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var lineRE = regexp.MustCompile(`^\[(ERR|WARN|INFO|DEBUG)\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (.*)$`)

func TestLevelsAndFormat(t *testing.T) {
	tests := []struct {
		name  string
		level int
		want  []string // tags written, in order
	}{
		{"error only", Error, []string{"ERR"}},
		{"info", Info, []string{"ERR", "WARN", "INFO"}},
		{"debug", Debug, []string{"ERR", "WARN", "INFO", "DEBUG"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			l := New(&b, tt.level)
			l.Errorf("e %d", 1)
			l.Warnf("w %s", "x")
			l.Infof("i")
			l.Debugf("d %%")
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("lines %q", lines)
			}
			for i, line := range lines {
				m := lineRE.FindStringSubmatch(line)
				if m == nil || m[1] != tt.want[i] {
					t.Fatalf("line %q, want tag %s", line, tt.want[i])
				}
			}
		})
	}
	var nilLog *Logger
	nilLog.Infof("discarded") // must not panic
}

func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zurl.log")
	l, err := Open(path, Info)
	if err != nil {
		t.Fatal(err)
	}
	l.Infof("first")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Infof("second")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(old), "first") || !strings.Contains(string(cur), "second") || strings.Contains(string(cur), "first") {
		t.Fatalf("old %q new %q", old, cur)
	}
}
