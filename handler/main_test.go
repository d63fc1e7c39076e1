package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/pushpin-go/pushpin/handler/engine"
	plog "github.com/pushpin-go/pushpin/pkg/log"
)

// TestFlags checks that the argv Pushpin's runner and ours build resolve to
// the expected engine settings: --set overrides keep their commas (spec
// lists), repeat, and win over the file; --ipc-prefix and --port-offset
// apply; bad --set values are refused.
func TestFlags(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "pushpin.conf")
	text := "[global]\ninclude={libdir}/internal.conf\nrundir=" + dir + "\nipc_prefix=pushpin-\nport_offset=0\n" +
		"[handler]\npush_in_spec=tcp://127.0.0.1:5560\npush_in_http_port=5561\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ipc := func(name string) string { return "ipc://" + dir + "/" + name }

	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(t *testing.T, cfg engine.Config)
	}{
		{
			name: "file only",
			args: []string{"--config=" + conf},
			check: func(t *testing.T, cfg engine.Config) {
				if want := []string{ipc("pushpin-condure-out-stream")}; !reflect.DeepEqual(cfg.CondureInStreamSpecs, want) {
					t.Errorf("condure in stream specs = %v, want %v", cfg.CondureInStreamSpecs, want)
				}
			},
		},
		{
			name: "runner argv with several condure instances",
			args: []string{"--config=" + conf, "--ipc-prefix=p1-", "--port-offset=10", "--loglevel=2",
				"--set=proxy.condure_in_stream_specs=" + ipc("p1-condure-out-stream") + "," + ipc("p1-condure1-out-stream"),
				"--set=proxy.condure_out_specs=" + ipc("p1-condure-in") + "," + ipc("p1-condure1-in"),
			},
			check: func(t *testing.T, cfg engine.Config) {
				if want := []string{ipc("p1-condure-out-stream"), ipc("p1-condure1-out-stream")}; !reflect.DeepEqual(cfg.CondureInStreamSpecs, want) {
					t.Errorf("condure in stream specs = %v, want %v", cfg.CondureInStreamSpecs, want)
				}
				if want := []string{ipc("p1-condure-in"), ipc("p1-condure1-in")}; !reflect.DeepEqual(cfg.CondureOutSpecs, want) {
					t.Errorf("condure out specs = %v, want %v", cfg.CondureOutSpecs, want)
				}
				if want := ipc("p1-accept"); cfg.AcceptSpec != want {
					t.Errorf("accept spec = %q, want %q (ipc prefix)", cfg.AcceptSpec, want)
				}
				if cfg.PushInSpec != "tcp://127.0.0.1:5570" || cfg.HTTPPort != 5571 {
					t.Errorf("push in = %q, http port %d: port offset 10 not applied", cfg.PushInSpec, cfg.HTTPPort)
				}
			},
		},
		{
			name: "set overrides the file, last one wins",
			args: []string{"--config=" + conf, "--set", "handler.message_rate=5", "--set", "handler.message_rate=7"},
			check: func(t *testing.T, cfg engine.Config) {
				if cfg.MessageRate != 7 {
					t.Errorf("message rate = %d, want 7", cfg.MessageRate)
				}
			},
		},
		{name: "set without a section", args: []string{"--config=" + conf, "--set=message_rate=5"}, wantErr: true},
		{name: "set without a value", args: []string{"--config=" + conf, "--set=handler.message_rate"}, wantErr: true},
		{name: "empty set", args: []string{"--config=" + conf, "--set="}, wantErr: true},
		{name: "missing config", args: []string{"--config=" + filepath.Join(dir, "nope.conf")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got engine.Config
			var loadErr error
			app := newApp(func(c *cli.Context) error {
				got, loadErr = loadConfig(c, plog.New(io.Discard, plog.LevelError, ""))
				return nil
			})
			if err := app.Run(append([]string{"pushpin-handler"}, tt.args...)); err != nil {
				t.Fatalf("flags: %v", err)
			}
			if tt.wantErr {
				if loadErr == nil {
					t.Fatalf("no error")
				}
				return
			}
			if loadErr != nil {
				t.Fatalf("load: %v", loadErr)
			}
			tt.check(t, got)
		})
	}
}
