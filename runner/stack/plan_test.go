package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/pkg/config"
)

func writeConf(t *testing.T, body string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "pushpin.conf")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func argvOf(p *Plan) map[string][]string {
	m := map[string][]string{}
	for _, s := range p.Services {
		m[s.Name] = s.Args
	}
	return m
}

// The argv Pushpin 1.36's runner builds, as verified in reference §1.2.
func TestPlanMatchesPushpinArgv(t *testing.T) {
	dir, path := writeConf(t, `[global]
include={libdir}/internal.conf
rundir=run
[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:27999
logdir=log
`)
	run, logd := filepath.Join(dir, "run"), filepath.Join(dir, "log")
	lv := config.LogLevels{Default: 3}
	p, err := NewPlan(Options{ConfigFile: path, ID: -1, LogLevels: &lv})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"condure": {"--log-level=3", "--listen=127.0.0.1:27999,stream", "--zclient-stream=ipc://" + run + "/pushpin-condure",
			"--buffer-size=8192", "--stream-maxconn=50000"},
		"zurl":            {"--config=" + run + "/zurl.conf", "--logfile=" + logd + "/zurl.log", "--verbose"},
		"pushpin-proxy":   {"--config=" + path, "--ipc-prefix=pushpin-", "--logfile=" + logd + "/pushpin-proxy.log", "--loglevel=3", "--quiet-check"},
		"pushpin-handler": {"--config=" + path, "--ipc-prefix=pushpin-", "--logfile=" + logd + "/pushpin-handler.log", "--loglevel=3"},
	}
	if got := argvOf(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("argv:\n got %q\nwant %q", got, want)
	}
	var order []string
	for _, s := range p.Services {
		order = append(order, s.Name)
	}
	if strings.Join(order, ",") != "condure,zurl,pushpin-proxy,pushpin-handler" {
		t.Fatalf("start order %v", order)
	}
	if !strings.Contains(string(p.ZurlConf), "in_spec=ipc://"+run+"/pushpin-zurl-in\n") {
		t.Fatalf("zurl.conf not rendered:\n%s", p.ZurlConf)
	}
	if p.Services[0].PidFile != run+"/condure.pid" || p.Services[0].LogFile != logd+"/condure.log" {
		t.Fatalf("condure files: %q %q", p.Services[0].PidFile, p.Services[0].LogFile)
	}
}

func TestPlanIDRoutesMergeTLSLocal(t *testing.T) {
	dir, path := writeConf(t, `[global]
include={libdir}/internal.conf
rundir=run
[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:27999
https_ports=127.0.0.1:27443
local_ports={rundir}/{ipc_prefix}server
`)
	run := filepath.Join(dir, "run")
	lv, _ := config.ParseLogLevels("2,condure:3,pushpin-proxy:1")
	p, err := NewPlan(Options{ConfigFile: path, ID: 3, LogLevels: &lv, Merge: true, Routes: []string{"* 127.0.0.1:28080"}})
	if err != nil {
		t.Fatal(err)
	}
	got := argvOf(p)
	want := map[string][]string{
		"condure": {"--log-level=3", "--listen=127.0.0.1:27999,stream", "--listen=127.0.0.1:27443,stream,tls,default-cert=default_27443",
			"--listen=" + run + "/p3-server,local,stream", "--zclient-stream=ipc://" + run + "/p3-condure",
			"--buffer-size=8192", "--stream-maxconn=50000", "--tls-identities-dir=" + dir + "/runner/certs"},
		"zurl":            {"--config=" + run + "/p3-zurl.conf", "--loglevel=2"},
		"pushpin-proxy":   {"--config=" + path, "--ipc-prefix=p3-", "--loglevel=1", "--route=* 127.0.0.1:28080", "--quiet-check"},
		"pushpin-handler": {"--config=" + path, "--ipc-prefix=p3-", "--port-offset=30", "--loglevel=2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("argv:\n got %q\nwant %q", got, want)
	}
	// Pushpin resolves local_ports before --id is applied; our config
	// layer templates with the effective prefix. Both name one socket.
	if p.Services[0].PidFile != run+"/p3-condure.pid" || p.Services[0].LogFile != "" {
		t.Fatalf("files with --id/-m: %q %q", p.Services[0].PidFile, p.Services[0].LogFile)
	}
}

func TestPlanCondureInstances(t *testing.T) {
	dir, path := writeConf(t, "[global]\ninclude={libdir}/internal.conf\nrundir=run\n[runner]\nservices=condure,pushpin-proxy,handler\nhttp_port=8000\ncondure_instances=2\n")
	run := filepath.Join(dir, "run")
	p, err := NewPlan(Options{ConfigFile: path, ID: -1})
	if err != nil {
		t.Fatal(err)
	}
	got := argvOf(p)
	if got["condure"][1] != "--id=condure" || got["condure-1"][1] != "--id=condure-1" {
		t.Fatalf("instance ids: %q / %q", got["condure"], got["condure-1"])
	}
	if got["condure-1"][2] != "--listen=0.0.0.0:8000,stream" || got["condure-1"][3] != "--zclient-stream=ipc://"+run+"/pushpin-condure-1" {
		t.Fatalf("instance 1 argv %q", got["condure-1"])
	}
	base := "ipc://" + run + "/pushpin-"
	sets := []string{
		"--set=proxy.condure_in_specs=" + base + "condure-out," + base + "condure-1-out",
		"--set=proxy.condure_in_stream_specs=" + base + "condure-out-stream," + base + "condure-1-out-stream",
		"--set=proxy.condure_out_specs=" + base + "condure-in," + base + "condure-1-in",
	}
	// The handler continues held sessions on whichever condure holds the
	// client; like Pushpin's, it reads the [proxy] keys for that.
	wantSets := map[string][]string{"pushpin-proxy": sets, "pushpin-handler": sets}
	for name, sets := range wantSets {
		var have []string
		for _, a := range got[name] {
			if strings.HasPrefix(a, "--set=") {
				have = append(have, a)
			}
		}
		if !slices.Equal(have, sets) {
			t.Errorf("%s sets:\n got %q\nwant %q", name, have, sets)
		}
	}
	// zurl is added: the built-in internal.conf puts the proxy's zurl in the run dir.
	if _, ok := got["zurl"]; !ok {
		t.Fatalf("zurl not planned: %v", got)
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct{ conf, want string }{
		{"[runner]\nservices=condure\n", "no server ports"},
		{"[runner]\nservices=mongrel2\nhttp_port=1\n", "not supported"},
		{"[runner]\nservices=bogus\nhttp_port=1\n", "unknown service"},
		{"[runner]\nservices=condure\nhttp_port=99999\n", "invalid port"},
	}
	for _, tt := range tests {
		_, path := writeConf(t, tt.conf)
		if _, err := NewPlan(Options{ConfigFile: path, ID: -1}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.conf, err, tt.want)
		}
	}
}

func TestPlanPrefersOurBinaries(t *testing.T) {
	dir, path := writeConf(t, "[global]\ninclude={libdir}/internal.conf\n[runner]\nservices=condure,pushpin-proxy\nhttp_port=1\nzurl_bin=/opt/zurl\n")
	exe := filepath.Join(dir, "bin")
	os.MkdirAll(exe, 0o755)
	os.WriteFile(filepath.Join(exe, "condure"), []byte("#!/bin/sh\n"), 0o755)
	p, err := NewPlan(Options{ConfigFile: path, ID: -1, ExeDir: exe})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, s := range p.Services {
		paths[s.Name] = s.Path
	}
	if paths["condure"] != filepath.Join(exe, "condure") || paths["pushpin-proxy"] != "pushpin-proxy" || paths["zurl"] != "/opt/zurl" {
		t.Fatalf("binaries %v", paths)
	}
}

func TestTagLine(t *testing.T) {
	now := time.Date(2026, 11, 22, 4, 42, 35, 412e6, time.Local)
	tests := []struct{ in, want string }{
		{"[INFO] 2026-11-22 04:42:35.412 starting...", "[INFO] 2026-11-22 04:42:35.412 [handler] starting...\n"},
		{"[INFO] 2026-11-22 04:42:35.412 [condure] starting...", "[INFO] 2026-11-22 04:42:35.412 [handler] [condure] starting...\n"},
		{"panic: boom", "[INFO] 2026-11-22 04:42:35.412 [handler] panic: boom\n"},
		{"", "[INFO] 2026-11-22 04:42:35.412 [handler] \n"},
	}
	for _, tt := range tests {
		if got := string(TagLine(nil, []byte(tt.in), "handler", now)); got != tt.want {
			t.Errorf("TagLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRenderTemplate(t *testing.T) {
	got := renderTemplate([]byte("a={{ rundir }}/{{ipc_prefix}}x {{ nope }}."), map[string]string{"rundir": "/r", "ipc_prefix": "p-"})
	if string(got) != "a=/r/p-x ." {
		t.Fatalf("got %q", got)
	}
}

// TestPlanCondureInstancesFlag: --condure-instances overrides the config
// key, and each instance gets its own pid file, log file and ZHTTP base.
func TestPlanCondureInstancesFlag(t *testing.T) {
	dir, path := writeConf(t, "[global]\ninclude={libdir}/internal.conf\nrundir=run\n[runner]\nservices=condure,pushpin-proxy\nhttp_port=8000\nlogdir=log\ncondure_instances=2\n")
	p, err := NewPlan(Options{ConfigFile: path, ID: 1, CondureInstances: 3})
	if err != nil {
		t.Fatal(err)
	}
	var names, pids, logs []string
	for _, s := range p.Services {
		if s.Kind == KindCondure {
			names = append(names, s.Name)
			pids = append(pids, filepath.Base(s.PidFile))
			logs = append(logs, filepath.Base(s.LogFile))
			want := "--zclient-stream=ipc://" + filepath.Join(dir, "run", "p1-"+s.Name)
			if !slices.Contains(s.Args, want) {
				t.Errorf("%s lacks %s: %q", s.Name, want, s.Args)
			}
		}
	}
	if !slices.Equal(names, []string{"condure", "condure-1", "condure-2"}) ||
		!slices.Equal(pids, []string{"p1-condure.pid", "p1-condure-1.pid", "p1-condure-2.pid"}) ||
		!slices.Equal(logs, []string{"p1-condure.log", "p1-condure-1.log", "p1-condure-2.log"}) {
		t.Errorf("instances %q, pid files %q, logs %q", names, pids, logs)
	}
}
