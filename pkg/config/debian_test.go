package config

import (
	"os"
	"reflect"
	"testing"
	"time"
)

const (
	debianConf   = "/etc/pushpin/pushpin.conf"
	debianLibDir = "/usr/lib/pushpin"
)

func skipWithoutDebian(t testing.TB) {
	if _, err := os.Stat("/etc/pushpin"); os.IsNotExist(err) {
		t.Skip("/etc/pushpin absent")
	}
}

// TestDebianConfig loads Debian's shipped pushpin.conf with Debian's lib
// dir and checks the shipped values and Debian's zurl wiring.
func TestDebianConfig(t *testing.T) {
	skipWithoutDebian(t)
	c, err := Load(debianConf, Options{LibDir: debianLibDir})
	if err != nil {
		t.Fatal(err)
	}
	if c.IncludeBuiltin || c.Global.Include != debianLibDir+"/internal.conf" {
		t.Errorf("include %q builtin %v", c.Global.Include, c.IncludeBuiltin)
	}
	if len(c.Unknown) != 0 || len(c.Warnings) != 0 {
		t.Errorf("unknown %v warnings %v", c.Unknown, c.Warnings)
	}
	checkDebianShipped(t, c)
	// Debian expects the system zurl service.
	if !reflect.DeepEqual(c.Proxy.ZurlOutSpecs, []string{"ipc:///var/run/zurl/zurl-in"}) ||
		!reflect.DeepEqual(c.Proxy.ZurlOutStreamSpecs, []string{"ipc:///var/run/zurl/zurl-in-stream"}) ||
		!reflect.DeepEqual(c.Proxy.ZurlInSpecs, []string{"ipc:///var/run/zurl/zurl-out"}) {
		t.Errorf("zurl specs %v %v %v", c.Proxy.ZurlOutSpecs, c.Proxy.ZurlOutStreamSpecs, c.Proxy.ZurlInSpecs)
	}
	if !reflect.DeepEqual(c.Proxy.CondureInSpecs, []string{"ipc:///var/run/pushpin/pushpin-condure-out"}) {
		t.Errorf("condure_in_specs %v", c.Proxy.CondureInSpecs)
	}
}

// TestDebianConfigBuiltin loads Debian's pushpin.conf with no lib dir, so
// our built-in internal.conf stands in: zurl lives in the run dir.
func TestDebianConfigBuiltin(t *testing.T) {
	skipWithoutDebian(t)
	c, err := Load(debianConf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.IncludeBuiltin || len(c.Unknown) != 0 || len(c.Warnings) != 0 {
		t.Errorf("builtin %v unknown %v warnings %v", c.IncludeBuiltin, c.Unknown, c.Warnings)
	}
	checkDebianShipped(t, c)
	if !reflect.DeepEqual(c.Proxy.ZurlOutSpecs, []string{"ipc:///var/run/pushpin/pushpin-zurl-in"}) ||
		!reflect.DeepEqual(c.Proxy.ZurlOutStreamSpecs, []string{"ipc:///var/run/pushpin/pushpin-zurl-in-stream"}) ||
		!reflect.DeepEqual(c.Proxy.ZurlInSpecs, []string{"ipc:///var/run/pushpin/pushpin-zurl-out"}) {
		t.Errorf("zurl specs %v %v %v", c.Proxy.ZurlOutSpecs, c.Proxy.ZurlOutStreamSpecs, c.Proxy.ZurlInSpecs)
	}
	// The main file's services win over the built-in default.
	if !reflect.DeepEqual(c.Runner.Services, []string{"condure", "pushpin-proxy", "pushpin-handler"}) {
		t.Errorf("services %v", c.Runner.Services)
	}
	// --ipc-prefix and --port-offset as the runner passes them with --id 3.
	off := 30
	c, err = Load(debianConf, Options{IPCPrefix: "p3-", PortOffset: &off})
	if err != nil {
		t.Fatal(err)
	}
	if c.Proxy.ZurlInSpecs[0] != "ipc:///var/run/pushpin/p3-zurl-out" || c.Handler.PushInSpec != "tcp://127.0.0.1:5590" ||
		c.Handler.PushInHTTPPort != 5591 || c.Handler.CommandSpec != "tcp://127.0.0.1:5593" {
		t.Errorf("overrides: %v %q %d %q", c.Proxy.ZurlInSpecs, c.Handler.PushInSpec, c.Handler.PushInHTTPPort, c.Handler.CommandSpec)
	}
}

func checkDebianShipped(t *testing.T, c *Config) {
	t.Helper()
	checks := []struct {
		name      string
		got, want any
	}{
		{"rundir", c.Global.RunDir, "/var/run/pushpin"},
		{"ipc_prefix", c.Global.IPCPrefix, "pushpin-"},
		{"port_offset", c.Global.PortOffset, 0},
		{"stats_connection_ttl", c.Global.StatsConnectionTTL, 120 * time.Second},
		{"http_port", c.Runner.HTTPPorts, []string{"7999"}},
		{"https_ports", c.Runner.HTTPSPorts, []string(nil)},
		{"logdir", c.Runner.LogDir, "/var/log/pushpin"},
		{"log_level", c.Runner.LogLevel, LogLevels{Default: 2}},
		{"client_buffer_size", c.Runner.ClientBufferSize, 8192},
		{"client_maxconn", c.Runner.ClientMaxconn, 50000},
		{"condure_bin", c.Runner.CondureBin, "condure"},
		{"zurl_bin", c.Runner.ZurlBin, "zurl"},
		{"routesfile", c.Proxy.RoutesFile, "/etc/pushpin/routes"},
		{"debug", c.Proxy.Debug, false},
		{"set_x_forwarded_protocol", c.Proxy.SetXForwardedProtocol, "proto-only"},
		{"x_forwarded_for", c.Proxy.XForwardedFor, []string(nil)},
		{"sig_iss", c.Proxy.SigIss, "pushpin"},
		{"sig_key", c.Proxy.SigKey, "changeme"},
		{"sockjs_url", c.Proxy.SockJSURL, "http://cdn.jsdelivr.net/sockjs/0.3.4/sockjs.min.js"},
		{"updates_check", c.Proxy.UpdatesCheck, "off"},
		{"push_in_spec", c.Handler.PushInSpec, "tcp://127.0.0.1:5560"},
		{"push_in_sub_specs", c.Handler.PushInSubSpecs, []string{"tcp://127.0.0.1:5562"}},
		{"push_in_http_addr", c.Handler.PushInHTTPAddr, "127.0.0.1"},
		{"push_in_http_port", c.Handler.PushInHTTPPort, 5561},
		{"stats_spec", c.Handler.StatsSpec, "ipc:///var/run/pushpin/pushpin-stats"},
		{"command_spec", c.Handler.CommandSpec, "tcp://127.0.0.1:5563"},
		{"message_rate", c.Handler.MessageRate, 2500},
		{"message_hwm", c.Handler.MessageHWM, 25000},
		{"message_block_size", c.Handler.MessageBlockSize, -1},
		{"message_wait", c.Handler.MessageWait, 5 * time.Second},
		{"id_cache_ttl", c.Handler.IDCacheTTL, time.Minute},
		{"ipc_file_mode", c.Handler.IPCFileMode, -1},
		{"stats_format", c.Handler.StatsFormat, "tnetstring"},
		{"proxy_inspect_spec", c.Handler.ProxyInspectSpec, "ipc:///var/run/pushpin/pushpin-inspect"},
		{"handler condure_out_specs", c.Handler.CondureOutSpecs, []string{"ipc:///var/run/pushpin/pushpin-condure-in"}},
		{"handler m2a_out_specs", len(c.Handler.M2AOutSpecs), 2},
		{"handler_accept_spec", c.Proxy.HandlerAcceptSpec, "ipc:///var/run/pushpin/pushpin-accept"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

// TestDeployConfig checks our own default config.
func TestDeployConfig(t *testing.T) {
	c, err := Load("../../deploy/pushpin.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.IncludeBuiltin || len(c.Unknown) != 0 || len(c.Warnings) != 0 {
		t.Errorf("builtin %v unknown %v warnings %v", c.IncludeBuiltin, c.Unknown, c.Warnings)
	}
	want := []string{"ipc://" + c.Dir + "/run/pushpin-zurl-in"}
	if !reflect.DeepEqual(c.Proxy.ZurlOutSpecs, want) {
		t.Errorf("zurl_out_specs %v, want %v", c.Proxy.ZurlOutSpecs, want)
	}
	if !c.Runner.HasService("zurl") || c.Runner.LogDir != c.Dir+"/log" || c.Proxy.UpdatesCheck != "off" ||
		c.Proxy.SigKey != "changeme" || !reflect.DeepEqual(c.Runner.HTTPPorts, []string{"7999"}) ||
		c.Proxy.RoutesFile != c.Dir+"/routes" || c.Handler.PushInHTTPPort != 5561 {
		t.Errorf("deploy config: %+v %+v", c.Runner, c.Proxy)
	}
}
