package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFindConfig: without --config the runner looks where Pushpin's does,
// in order, then at deploy/pushpin.conf next to its bin folder.
func TestFindConfig(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	exeDir := filepath.Join(root, "bin")
	deploy := filepath.Join(root, "deploy", "pushpin.conf")
	create := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The system config (Debian's pushpin package) comes before ours.
	const system = "/etc/pushpin/pushpin.conf"
	wantDeploy := deploy
	if _, err := os.Stat(system); err == nil {
		wantDeploy = system
	}
	// Found in reverse order of preference, so each step changes the answer.
	steps := []struct{ create, want string }{
		{"", ""},
		{deploy, wantDeploy},
		{"examples/config/pushpin.conf", "examples/config/pushpin.conf"},
		{"pushpin.conf", "pushpin.conf"},
		{"config/pushpin.conf", "config/pushpin.conf"},
	}
	for _, s := range steps {
		if s.create != "" {
			create(s.create)
		}
		got := findConfig(exeDir)
		if s.want == "" && got != "" && got != system {
			t.Errorf("nothing created: got %q", got)
		}
		if s.want != "" && got != s.want {
			t.Errorf("after creating %s: got %q, want %q", s.create, got, s.want)
		}
	}
	// A directory named like the file does not count.
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("pushpin.conf", 0o755); err != nil {
		t.Fatal(err)
	}
	if got := findConfig(filepath.Join(root, "bin")); got == "pushpin.conf" {
		t.Errorf("a directory was taken for the config file")
	}
}
