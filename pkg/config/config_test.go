package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConf writes files (name → content) into a temp dir and returns the
// dir. Names may contain subfolders.
func writeConf(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadString(t *testing.T, content string, opts Options) *Config {
	t.Helper()
	dir := writeConf(t, map[string]string{"pushpin.conf": content})
	c, err := Load(filepath.Join(dir, "pushpin.conf"), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestBuiltinMatchesDeploy(t *testing.T) {
	deploy, err := os.ReadFile("../../deploy/internal.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(deploy, builtinInternal) {
		t.Fatal("pkg/config/internal.conf and deploy/internal.conf differ; copy deploy/internal.conf over")
	}
	f, warns := parseINI("builtin", builtinInternal)
	if len(warns) != 0 {
		t.Errorf("built-in internal.conf warnings: %v", warns)
	}
	known := knownKeys()
	for k := range f.entries {
		if !known[k] {
			t.Errorf("built-in internal.conf key %s is not known", k)
		}
	}
}

// TestDefaults loads a config that sets nothing and checks every typed
// field against Pushpin's compiled default.
func TestDefaults(t *testing.T) {
	c := loadString(t, "[global]\n", Options{})
	want := Config{
		Global: Global{IPCPrefix: "pushpin-", StatsConnectionTTL: 120 * time.Second},
		Runner: Runner{
			LogLevel: LogLevels{Default: 2}, ClientBufferSize: 8192, ClientMaxconn: 50000,
			CondureBin: "condure", Mongrel2Bin: "mongrel2", M2shBin: "m2sh", ZurlBin: "zurl",
			ProxyBin: "pushpin-proxy", HandlerBin: "pushpin-handler", CondureInstances: 1,
		},
		Proxy: Proxy{SigIss: "pushpin", StatsReportInterval: 10 * time.Second, MaxOpenRequests: -1, IPCFileMode: -1},
		Handler: Handler{
			IPCFileMode: -1, PushInMaxHeadersSize: 10000, PushInMaxBodySize: 1000000,
			PushInHTTPMaxHeadersSize: 10000, PushInHTTPMaxBodySize: 1000000,
			MessageRate: -1, MessageHWM: -1, MessageBlockSize: -1, MessageWait: 5 * time.Second,
			ConnectionSubscriptionMax: 20, SubscriptionLinger: time.Minute, StatsSubscriptionTTL: time.Minute,
			StatsReportInterval: 10 * time.Second, StatsFormat: "tnetstring",
		},
	}
	for _, s := range []struct{ got, want any }{
		{c.Global, want.Global}, {c.Runner, want.Runner}, {c.Proxy, want.Proxy}, {c.Handler, want.Handler},
	} {
		if !reflect.DeepEqual(s.got, s.want) {
			t.Errorf("defaults:\n got %+v\nwant %+v", s.got, s.want)
		}
	}
	if c.IncludeBuiltin || len(c.Unknown) != 0 || len(c.Warnings) != 0 {
		t.Errorf("unexpected: builtin=%v unknown=%v warnings=%v", c.IncludeBuiltin, c.Unknown, c.Warnings)
	}
}

// TestOverrides sets each typed key and checks the field it lands in.
func TestOverrides(t *testing.T) {
	tests := []struct {
		section, key, value string
		get                 func(*Config) any
		want                any
	}{
		{"global", "stats_connection_ttl", "30", func(c *Config) any { return c.Global.StatsConnectionTTL }, 30 * time.Second},
		{"global", "ipc_prefix", "x-", func(c *Config) any { return c.Global.IPCPrefix }, "x-"},
		{"global", "ipc_prefix", "", func(c *Config) any { return c.Global.IPCPrefix }, ""},
		{"global", "port_offset", "7", func(c *Config) any { return c.Global.PortOffset }, 7},
		{"global", "rundir", "/abs/run", func(c *Config) any { return c.Global.RunDir }, "/abs/run"},
		{"global", "libdir", "/lib/x", func(c *Config) any { return c.Global.LibDir }, "/lib/x"},
		{"runner", "services", "condure, zurl,pushpin-proxy", func(c *Config) any { return c.Runner.Services }, []string{"condure", "zurl", "pushpin-proxy"}},
		{"runner", "http_port", "127.0.0.1:7999,8000", func(c *Config) any { return c.Runner.HTTPPorts }, []string{"127.0.0.1:7999", "8000"}},
		{"runner", "https_ports", "443", func(c *Config) any { return c.Runner.HTTPSPorts }, []string{"443"}},
		{"runner", "local_ports", "/tmp/{ipc_prefix}server", func(c *Config) any { return c.Runner.LocalPorts }, []string{"/tmp/pushpin-server"}},
		{"runner", "logdir", "/var/log/x", func(c *Config) any { return c.Runner.LogDir }, "/var/log/x"},
		{"runner", "log_level", "3", func(c *Config) any { return c.Runner.LogLevel }, LogLevels{Default: 3}},
		{"runner", "log_level", "1,condure:3,zurl:0", func(c *Config) any { return c.Runner.LogLevel }, LogLevels{Default: 1, Services: map[string]int{"condure": 3, "zurl": 0}}},
		{"runner", "client_buffer_size", "16384", func(c *Config) any { return c.Runner.ClientBufferSize }, 16384},
		{"runner", "client_maxconn", "10", func(c *Config) any { return c.Runner.ClientMaxconn }, 10},
		{"runner", "condure_bin", "/opt/condure", func(c *Config) any { return c.Runner.CondureBin }, "/opt/condure"},
		{"runner", "mongrel2_bin", "m2", func(c *Config) any { return c.Runner.Mongrel2Bin }, "m2"},
		{"runner", "m2sh_bin", "sh2", func(c *Config) any { return c.Runner.M2shBin }, "sh2"},
		{"runner", "zurl_bin", "z", func(c *Config) any { return c.Runner.ZurlBin }, "z"},
		{"runner", "proxy_bin", "p", func(c *Config) any { return c.Runner.ProxyBin }, "p"},
		{"runner", "handler_bin", "h", func(c *Config) any { return c.Runner.HandlerBin }, "h"},
		{"runner", "condure_instances", "4", func(c *Config) any { return c.Runner.CondureInstances }, 4},
		{"proxy", "routesfile", "/etc/x/routes", func(c *Config) any { return c.Proxy.RoutesFile }, "/etc/x/routes"},
		{"proxy", "debug", "true", func(c *Config) any { return c.Proxy.Debug }, true},
		{"proxy", "debug", "1", func(c *Config) any { return c.Proxy.Debug }, true},
		{"proxy", "debug", "TRUE", func(c *Config) any { return c.Proxy.Debug }, true},
		{"proxy", "debug", "no", func(c *Config) any { return c.Proxy.Debug }, false},
		{"proxy", "debug", "", func(c *Config) any { return c.Proxy.Debug }, false},
		{"proxy", "auto_cross_origin", "yes", func(c *Config) any { return c.Proxy.AutoCrossOrigin }, true},
		{"proxy", "accept_x_forwarded_protocol", "on", func(c *Config) any { return c.Proxy.AcceptXForwardedProtocol }, true},
		{"proxy", "set_x_forwarded_protocol", "true", func(c *Config) any { return c.Proxy.SetXForwardedProtocol }, "true"},
		{"proxy", "x_forwarded_for", "truncate:0,append", func(c *Config) any { return c.Proxy.XForwardedFor }, []string{"truncate:0", "append"}},
		{"proxy", "x_forwarded_for_trusted", "append", func(c *Config) any { return c.Proxy.XForwardedForTrusted }, []string{"append"}},
		{"proxy", "orig_headers_need_mark", "a,,b", func(c *Config) any { return c.Proxy.OrigHeadersNeedMark }, []string{"a", "b"}},
		{"proxy", "accept_pushpin_route", "true", func(c *Config) any { return c.Proxy.AcceptPushpinRoute }, true},
		{"proxy", "log_from", "true", func(c *Config) any { return c.Proxy.LogFrom }, true},
		{"proxy", "log_user_agent", "true", func(c *Config) any { return c.Proxy.LogUserAgent }, true},
		{"proxy", "sig_iss", "me", func(c *Config) any { return c.Proxy.SigIss }, "me"},
		{"proxy", "sig_key", "base64:aGk=", func(c *Config) any { return c.Proxy.SigKey }, "base64:aGk="},
		{"proxy", "upstream_key", "file:key", func(c *Config) any { return c.Proxy.UpstreamKey }, "file:key"},
		{"proxy", "sockjs_url", "http://x/sockjs.js", func(c *Config) any { return c.Proxy.SockJSURL }, "http://x/sockjs.js"},
		{"proxy", "updates_check", "true", func(c *Config) any { return c.Proxy.UpdatesCheck }, "check"},
		{"proxy", "updates_check", "report", func(c *Config) any { return c.Proxy.UpdatesCheck }, "report"},
		{"proxy", "organization_name", `"Acme, Inc."`, func(c *Config) any { return c.Proxy.OrganizationName }, "Acme, Inc."},
		{"proxy", "prometheus_port", "tcp://127.0.0.1:9090", func(c *Config) any { return c.Proxy.PrometheusPort }, "tcp://127.0.0.1:9090"},
		{"proxy", "prometheus_prefix", "pp_", func(c *Config) any { return c.Proxy.PrometheusPrefix }, "pp_"},
		{"proxy", "stats_report_interval", "5", func(c *Config) any { return c.Proxy.StatsReportInterval }, 5 * time.Second},
		{"proxy", "max_open_requests", "100", func(c *Config) any { return c.Proxy.MaxOpenRequests }, 100},
		{"proxy", "ipc_file_mode", "770", func(c *Config) any { return c.Proxy.IPCFileMode }, 0o770},
		{"proxy", "condure_in_specs", "ipc://a", func(c *Config) any { return c.Proxy.CondureInSpecs }, []string{"ipc://a"}},
		{"proxy", "condure_in_stream_specs", "ipc://a", func(c *Config) any { return c.Proxy.CondureInStreamSpecs }, []string{"ipc://a"}},
		{"proxy", "condure_out_specs", "ipc://a", func(c *Config) any { return c.Proxy.CondureOutSpecs }, []string{"ipc://a"}},
		{"proxy", "m2a_in_specs", "ipc://a,ipc://b", func(c *Config) any { return c.Proxy.M2AInSpecs }, []string{"ipc://a", "ipc://b"}},
		{"proxy", "m2a_in_stream_specs", "ipc://a", func(c *Config) any { return c.Proxy.M2AInStreamSpecs }, []string{"ipc://a"}},
		{"proxy", "m2a_out_specs", "ipc://a", func(c *Config) any { return c.Proxy.M2AOutSpecs }, []string{"ipc://a"}},
		{"proxy", "zurl_out_specs", "ipc://z", func(c *Config) any { return c.Proxy.ZurlOutSpecs }, []string{"ipc://z"}},
		{"proxy", "zurl_out_stream_specs", "ipc://z", func(c *Config) any { return c.Proxy.ZurlOutStreamSpecs }, []string{"ipc://z"}},
		{"proxy", "zurl_in_specs", "ipc://z", func(c *Config) any { return c.Proxy.ZurlInSpecs }, []string{"ipc://z"}},
		{"proxy", "handler_inspect_spec", "ipc://i", func(c *Config) any { return c.Proxy.HandlerInspectSpec }, "ipc://i"},
		{"proxy", "handler_accept_spec", "ipc://i", func(c *Config) any { return c.Proxy.HandlerAcceptSpec }, "ipc://i"},
		{"proxy", "handler_retry_in_spec", "ipc://i", func(c *Config) any { return c.Proxy.HandlerRetryInSpec }, "ipc://i"},
		{"proxy", "handler_ws_control_in_spec", "ipc://i", func(c *Config) any { return c.Proxy.HandlerWSControlInSpec }, "ipc://i"},
		{"proxy", "handler_ws_control_out_spec", "ipc://i", func(c *Config) any { return c.Proxy.HandlerWSControlOutSpec }, "ipc://i"},
		{"proxy", "stats_spec", "ipc://s", func(c *Config) any { return c.Proxy.StatsSpec }, "ipc://s"},
		{"proxy", "command_spec", "ipc://c", func(c *Config) any { return c.Proxy.CommandSpec }, "ipc://c"},
		{"proxy", "intreq_in_specs", "ipc://r", func(c *Config) any { return c.Proxy.IntreqInSpecs }, []string{"ipc://r"}},
		{"proxy", "intreq_in_stream_specs", "ipc://r", func(c *Config) any { return c.Proxy.IntreqInStreamSpecs }, []string{"ipc://r"}},
		{"proxy", "intreq_out_specs", "ipc://r", func(c *Config) any { return c.Proxy.IntreqOutSpecs }, []string{"ipc://r"}},
		{"handler", "ipc_file_mode", "0777", func(c *Config) any { return c.Handler.IPCFileMode }, 0o777},
		{"handler", "push_in_spec", "tcp://*:5560", func(c *Config) any { return c.Handler.PushInSpec }, "tcp://*:5560"},
		{"handler", "push_in_sub_specs", "tcp://a:1,tcp://b:2", func(c *Config) any { return c.Handler.PushInSubSpecs }, []string{"tcp://a:1", "tcp://b:2"}},
		{"handler", "push_in_sub_spec", "tcp://legacy:1", func(c *Config) any { return c.Handler.PushInSubSpecs }, []string{"tcp://legacy:1"}},
		{"handler", "push_in_sub_connect", "true", func(c *Config) any { return c.Handler.PushInSubConnect }, true},
		{"handler", "push_in_http_addr", "0.0.0.0", func(c *Config) any { return c.Handler.PushInHTTPAddr }, "0.0.0.0"},
		{"handler", "push_in_http_port", "5561", func(c *Config) any { return c.Handler.PushInHTTPPort }, 5561},
		{"handler", "push_in_max_headers_size", "1", func(c *Config) any { return c.Handler.PushInMaxHeadersSize }, 1},
		{"handler", "push_in_max_body_size", "2", func(c *Config) any { return c.Handler.PushInMaxBodySize }, 2},
		{"handler", "push_in_http_max_headers_size", "3", func(c *Config) any { return c.Handler.PushInHTTPMaxHeadersSize }, 3},
		{"handler", "push_in_http_max_body_size", "4", func(c *Config) any { return c.Handler.PushInHTTPMaxBodySize }, 4},
		{"handler", "stats_spec", "ipc://{rundir}/{ipc_prefix}stats", func(c *Config) any { return c.Handler.StatsSpec }, "ipc:///r/pushpin-stats"},
		{"handler", "command_spec", "tcp://127.0.0.1:5563", func(c *Config) any { return c.Handler.CommandSpec }, "tcp://127.0.0.1:5563"},
		{"handler", "message_rate", "2500", func(c *Config) any { return c.Handler.MessageRate }, 2500},
		{"handler", "message_hwm", "25000", func(c *Config) any { return c.Handler.MessageHWM }, 25000},
		{"handler", "message_block_size", "", func(c *Config) any { return c.Handler.MessageBlockSize }, 0},
		{"handler", "message_block_size", "100", func(c *Config) any { return c.Handler.MessageBlockSize }, 100},
		{"handler", "message_wait", "250", func(c *Config) any { return c.Handler.MessageWait }, 250 * time.Millisecond},
		{"handler", "id_cache_ttl", "60", func(c *Config) any { return c.Handler.IDCacheTTL }, time.Minute},
		{"handler", "connection_subscription_max", " 5 ", func(c *Config) any { return c.Handler.ConnectionSubscriptionMax }, 5},
		{"handler", "subscription_linger", "1", func(c *Config) any { return c.Handler.SubscriptionLinger }, time.Second},
		{"handler", "stats_subscription_ttl", "2", func(c *Config) any { return c.Handler.StatsSubscriptionTTL }, 2 * time.Second},
		{"handler", "stats_report_interval", "3", func(c *Config) any { return c.Handler.StatsReportInterval }, 3 * time.Second},
		{"handler", "stats_format", "json", func(c *Config) any { return c.Handler.StatsFormat }, "json"},
		{"handler", "prometheus_port", "9091", func(c *Config) any { return c.Handler.PrometheusPort }, "9091"},
		{"handler", "prometheus_prefix", "h_", func(c *Config) any { return c.Handler.PrometheusPrefix }, "h_"},
		{"handler", "share_all", "true", func(c *Config) any { return c.Handler.ShareAll }, true},
		{"handler", "state_spec", "ipc://st", func(c *Config) any { return c.Handler.StateSpec }, "ipc://st"},
		{"handler", "proxy_inspect_spec", "ipc://i", func(c *Config) any { return c.Handler.ProxyInspectSpec }, "ipc://i"},
		{"handler", "proxy_accept_spec", "ipc://a", func(c *Config) any { return c.Handler.ProxyAcceptSpec }, "ipc://a"},
		{"handler", "proxy_retry_out_spec", "ipc://r", func(c *Config) any { return c.Handler.ProxyRetryOutSpec }, "ipc://r"},
		{"handler", "proxy_ws_control_in_spec", "ipc://w", func(c *Config) any { return c.Handler.ProxyWSControlInSpec }, "ipc://w"},
		{"handler", "proxy_ws_control_out_spec", "ipc://w", func(c *Config) any { return c.Handler.ProxyWSControlOutSpec }, "ipc://w"},
		{"handler", "proxy_stats_spec", "ipc://s", func(c *Config) any { return c.Handler.ProxyStatsSpec }, "ipc://s"},
		{"handler", "proxy_command_spec", "ipc://c", func(c *Config) any { return c.Handler.ProxyCommandSpec }, "ipc://c"},
		{"proxy", "condure_in_stream_specs", "ipc://cs", func(c *Config) any { return c.Handler.CondureInStreamSpecs }, []string{"ipc://cs"}},
		{"proxy", "condure_out_specs", "ipc://co", func(c *Config) any { return c.Handler.CondureOutSpecs }, []string{"ipc://co"}},
		{"handler", "condure_out_specs", "ipc://ignored", func(c *Config) any { return c.Handler.CondureOutSpecs }, []string(nil)},
		{"handler", "m2a_in_stream_specs", "ipc://m", func(c *Config) any { return c.Handler.M2AInStreamSpecs }, []string{"ipc://m"}},
		{"handler", "m2a_out_specs", "ipc://m", func(c *Config) any { return c.Handler.M2AOutSpecs }, []string{"ipc://m"}},
		{"handler", "proxy_intreq_out_specs", "ipc://q", func(c *Config) any { return c.Handler.ProxyIntreqOutSpecs }, []string{"ipc://q"}},
		{"handler", "proxy_intreq_out_stream_specs", "ipc://q", func(c *Config) any { return c.Handler.ProxyIntreqOutStreamSpecs }, []string{"ipc://q"}},
		{"handler", "proxy_intreq_in_specs", "ipc://q", func(c *Config) any { return c.Handler.ProxyIntreqInSpecs }, []string{"ipc://q"}},
	}
	for _, tc := range tests {
		src := "[global]\nrundir=/r\n"
		if tc.section == "global" {
			src = "[global]\n"
		}
		src += "[" + tc.section + "]\n" + tc.key + "=" + tc.value + "\n"
		c := loadString(t, src, Options{})
		if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("[%s] %s=%s: got %#v, want %#v", tc.section, tc.key, tc.value, got, tc.want)
		}
		for _, u := range c.Unknown {
			t.Errorf("[%s] %s reported unknown", u.Section, u.Key)
		}
	}
}

func TestPushInSubSpecsLegacyAppended(t *testing.T) {
	c := loadString(t, "[handler]\npush_in_sub_specs=tcp://a:1\npush_in_sub_spec=tcp://b:2\n", Options{})
	if want := []string{"tcp://a:1", "tcp://b:2"}; !reflect.DeepEqual(c.Handler.PushInSubSpecs, want) {
		t.Errorf("got %v", c.Handler.PushInSubSpecs)
	}
}

func TestTemplating(t *testing.T) {
	c := loadString(t, `[global]
rundir=/run/pp
ipc_prefix=p3-
port_offset=100
libdir=/lib/pp
[handler]
push_in_spec=tcp://127.0.0.1:5560
push_in_sub_specs=tcp://127.0.0.1:5562,tcp://[::1]:5562, tcp://*:7
command_spec=tcp://host-without-port
push_in_http_port=5561
prometheus_port=9000
stats_spec=ipc://{rundir}/{ipc_prefix}stats
state_spec={libdir}/x/{unknown}
[proxy]
prometheus_port=tcp://127.0.0.1:9000
zurl_out_specs=tcp://127.0.0.1:1,"tcp://a:2 tcp://b:3"
`, Options{})
	checks := []struct {
		got, want any
	}{
		{c.Handler.PushInSpec, "tcp://127.0.0.1:5660"},
		{c.Handler.PushInSubSpecs, []string{"tcp://127.0.0.1:5662", "tcp://[::1]:5662", "tcp://*:107"}},
		{c.Handler.CommandSpec, "tcp://host-without-port"},
		{c.Handler.PushInHTTPPort, 5661},
		{c.Handler.PrometheusPort, "9000"},
		{c.Handler.StatsSpec, "ipc:///run/pp/p3-stats"},
		{c.Handler.StateSpec, "/lib/pp/x/{unknown}"},
		// Offsetting applies to any tcp:// value, prometheus_port included
		// when written as a tcp spec (Pushpin templates every string).
		{c.Proxy.PrometheusPort, "tcp://127.0.0.1:9100"},
		{c.Proxy.ZurlOutSpecs, []string{"tcp://127.0.0.1:101", "tcp://a:102 tcp://b:103"}},
	}
	for i, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("check %d: got %#v, want %#v", i, ck.got, ck.want)
		}
	}
	if v, ok := c.Value("handler", "push_in_sub_specs"); !ok || v != "tcp://127.0.0.1:5662,tcp://[::1]:5662,tcp://*:107" {
		t.Errorf("Value = %q %v", v, ok)
	}
	if v, ok := c.Strings("handler", "push_in_spec"); !ok || !reflect.DeepEqual(v, []string{"tcp://127.0.0.1:5660"}) {
		t.Errorf("Strings = %q %v", v, ok)
	}
	if s, ok := c.Lookup("handler", "push_in_spec"); !ok || s.Value != "tcp://127.0.0.1:5560" || s.Line != 7 {
		t.Errorf("Lookup = %+v", s)
	}
	if _, ok := c.Value("handler", "nope"); ok {
		t.Error("Value found a missing key")
	}
}

func TestOffsetTCPPorts(t *testing.T) {
	tests := []struct {
		in   string
		off  int
		want string
	}{
		{"tcp://127.0.0.1:5560", 10, "tcp://127.0.0.1:5570"},
		{"tcp://127.0.0.1:5560", 0, "tcp://127.0.0.1:5560"},
		{"tcp://127.0.0.1:5560", -60, "tcp://127.0.0.1:5500"},
		{"tcp://[::1]:5560", 1, "tcp://[::1]:5561"},
		{"tcp://[::1]", 1, "tcp://[::1]"},
		{"tcp://host:", 1, "tcp://host:"},
		{"tcp://host:x", 1, "tcp://host:x"},
		{"tcp://h:1/path", 1, "tcp://h:2/path"},
		{"ipc://x:1", 1, "ipc://x:1"},
		{"a tcp://h:1 b tcp://i:2", 5, "a tcp://h:6 b tcp://i:7"},
		{"tcp://", 1, "tcp://"},
		{"tcp://h:99999999999999999999999", 1, "tcp://h:99999999999999999999999"},
	}
	for _, tc := range tests {
		if got := offsetTCPPorts(tc.in, tc.off); got != tc.want {
			t.Errorf("offsetTCPPorts(%q,%d) = %q, want %q", tc.in, tc.off, got, tc.want)
		}
	}
}

func TestOptionsOverride(t *testing.T) {
	src := "[global]\nrundir=/r\nipc_prefix=conf-\nport_offset=5\n[handler]\npush_in_spec=tcp://127.0.0.1:5560\npush_in_http_port=5561\nstats_spec=ipc://{rundir}/{ipc_prefix}stats\n"
	c := loadString(t, src, Options{})
	if c.Handler.PushInSpec != "tcp://127.0.0.1:5565" || c.Handler.PushInHTTPPort != 5566 || c.Handler.StatsSpec != "ipc:///r/conf-stats" {
		t.Errorf("config values: %+v", c.Handler)
	}
	zero := 0
	c = loadString(t, src, Options{IPCPrefix: "p2-", PortOffset: &zero})
	if c.Global.IPCPrefix != "p2-" || c.Global.PortOffset != 0 {
		t.Errorf("global: %+v", c.Global)
	}
	if c.Handler.PushInSpec != "tcp://127.0.0.1:5560" || c.Handler.PushInHTTPPort != 5561 || c.Handler.StatsSpec != "ipc:///r/p2-stats" {
		t.Errorf("overridden values: %+v", c.Handler)
	}
	thirty := 30
	c = loadString(t, src, Options{PortOffset: &thirty})
	if c.Handler.PushInSpec != "tcp://127.0.0.1:5590" || c.Global.IPCPrefix != "conf-" {
		t.Errorf("port offset 30: %+v", c.Handler)
	}
	// push_in_http_port 0 or negative is not offset (adjustedPort).
	c = loadString(t, "[global]\nport_offset=5\n[handler]\npush_in_http_port=0\n", Options{})
	if c.Handler.PushInHTTPPort != 0 {
		t.Errorf("port 0 offset: %d", c.Handler.PushInHTTPPort)
	}
}

func TestIncludePrecedence(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"pushpin.conf": "[global]\ninclude=sub/extra.conf\nrundir=/r\n[proxy]\nsig_iss=main\n",
		"sub/extra.conf": "[proxy]\nsig_iss=included\nsig_key=from-include\ncustom_key=1\n" +
			"[global]\nrundir=/ignored\nipc_prefix=ignored-\n[handler]\nstats_spec=ipc://{rundir}/{ipc_prefix}s\n",
	})
	c, err := Load(filepath.Join(dir, "pushpin.conf"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Proxy.SigIss != "main" || c.Proxy.SigKey != "from-include" {
		t.Errorf("precedence: iss %q key %q", c.Proxy.SigIss, c.Proxy.SigKey)
	}
	if c.Global.Include != filepath.Join(dir, "sub/extra.conf") || c.IncludeBuiltin {
		t.Errorf("include %q builtin %v", c.Global.Include, c.IncludeBuiltin)
	}
	// [global] rundir/ipc_prefix in the include do not feed templating:
	// Pushpin reads them before the include is opened.
	if c.Handler.StatsSpec != "ipc:///r/pushpin-s" {
		t.Errorf("templating used include globals: %q", c.Handler.StatsSpec)
	}
	if len(c.Unknown) != 1 || c.Unknown[0].Key != "custom_key" || c.Unknown[0].Line != 4 || !strings.HasSuffix(c.Unknown[0].File, "extra.conf") {
		t.Errorf("unknown = %+v", c.Unknown)
	}
	if v, ok := c.Value("proxy", "custom_key"); !ok || v != "1" {
		t.Errorf("raw value from include: %q %v", v, ok)
	}
}

func TestIncludeLibDir(t *testing.T) {
	lib := writeConf(t, map[string]string{"internal.conf": "[proxy]\nzurl_in_specs=ipc://from-lib\n"})
	emptyLib := t.TempDir()
	for _, tc := range []struct {
		name    string
		include string
		opts    Options
		builtin bool
		zurlIn  string
	}{
		{"libdir template", "{libdir}/internal.conf", Options{LibDir: lib}, false, "ipc://from-lib"},
		{"bare internal.conf", "internal.conf", Options{LibDir: lib}, false, "ipc://from-lib"},
		{"no lib dir", "{libdir}/internal.conf", Options{}, true, "ipc:///r/pushpin-zurl-out"},
		{"bare, no lib dir", "internal.conf", Options{}, true, "ipc:///r/pushpin-zurl-out"},
		{"lib without internal.conf", "{libdir}/internal.conf", Options{LibDir: emptyLib}, true, "ipc:///r/pushpin-zurl-out"},
		{"absolute lib path missing", filepath.Join(emptyLib, "internal.conf"), Options{LibDir: emptyLib}, true, "ipc:///r/pushpin-zurl-out"},
	} {
		c := loadString(t, "[global]\nrundir=/r\ninclude="+tc.include+"\n", tc.opts)
		if c.IncludeBuiltin != tc.builtin || !reflect.DeepEqual(c.Proxy.ZurlInSpecs, []string{tc.zurlIn}) {
			t.Errorf("%s: builtin %v zurl_in %v", tc.name, c.IncludeBuiltin, c.Proxy.ZurlInSpecs)
		}
		if tc.builtin && !reflect.DeepEqual(c.Runner.Services, []string{"condure", "zurl", "pushpin-proxy", "pushpin-handler"}) {
			t.Errorf("%s: services %v", tc.name, c.Runner.Services)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("%s: warnings %v", tc.name, c.Warnings)
		}
	}
	// A [global] libdir in the file beats Options.LibDir.
	c := loadString(t, "[global]\nlibdir="+lib+"\ninclude=internal.conf\n", Options{LibDir: emptyLib})
	if c.LibDir != lib || c.IncludeBuiltin {
		t.Errorf("global libdir: %q builtin %v", c.LibDir, c.IncludeBuiltin)
	}
	// Another missing include is a warning, not an error.
	c = loadString(t, "[global]\ninclude=missing.conf\n", Options{})
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Msg, "does not exist") || c.Warnings[0].Line != 2 {
		t.Errorf("warnings %v", c.Warnings)
	}
	// An include that is a directory cannot be read: error.
	dir := writeConf(t, map[string]string{"pushpin.conf": "[global]\ninclude=sub\n", "sub/x": ""})
	if _, err := Load(filepath.Join(dir, "pushpin.conf"), Options{}); err == nil || !strings.Contains(err.Error(), `pushpin.conf:2: key "include"`) {
		t.Errorf("directory include: %v", err)
	}
}

func TestRelativePaths(t *testing.T) {
	dir := writeConf(t, map[string]string{
		"pushpin.conf": "[global]\nrundir=run\n[runner]\nlogdir=log\nlocal_ports={rundir}/{ipc_prefix}server\n[proxy]\nroutesfile=routes\n",
	})
	c, err := Load(filepath.Join(dir, "pushpin.conf"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.RunDir != filepath.Join(dir, "run") || c.Runner.LogDir != filepath.Join(dir, "log") ||
		c.Proxy.RoutesFile != filepath.Join(dir, "routes") || c.Dir != dir ||
		!reflect.DeepEqual(c.Runner.LocalPorts, []string{filepath.Join(dir, "run") + "/pushpin-server"}) {
		t.Errorf("paths: %+v %+v %+v", c.Global, c.Runner, c.Proxy.RoutesFile)
	}
	if c.ResolvePath("key.pem") != filepath.Join(dir, "key.pem") || c.ResolvePath("/abs") != "/abs" || c.ResolvePath("") != "" {
		t.Error("ResolvePath")
	}
	// Loading through a relative path gives the same absolute results.
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, filepath.Join(dir, "pushpin.conf"))
	if err != nil {
		t.Skip("no relative path")
	}
	c2, err := Load(rel, Options{})
	if err != nil || c2.Global.RunDir != c.Global.RunDir {
		t.Errorf("relative load: %v %q", err, c2.Global.RunDir)
	}
}

func TestDeprecatedRunnerRundir(t *testing.T) {
	c := loadString(t, "[runner]\nrundir=/old\n", Options{})
	if c.Global.RunDir != "/old" || len(c.Warnings) != 1 || c.Warnings[0].Line != 2 {
		t.Errorf("rundir %q warnings %v", c.Global.RunDir, c.Warnings)
	}
	c = loadString(t, "[global]\nrundir=/new\n[runner]\nrundir=/old\n", Options{})
	if c.Global.RunDir != "/new" || len(c.Warnings) != 0 {
		t.Errorf("rundir %q warnings %v", c.Global.RunDir, c.Warnings)
	}
}

func TestStringWrittenAsList(t *testing.T) {
	// Pushpin reads an unquoted comma value of a string key as "" (seen
	// with the runner's logdir); quoting keeps it.
	c := loadString(t, "[proxy]\nsig_key=a,b\norganization_name=\"a,b\"\n", Options{})
	if c.Proxy.SigKey != "" || c.Proxy.OrganizationName != "a,b" {
		t.Errorf("sig_key %q org %q", c.Proxy.SigKey, c.Proxy.OrganizationName)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Line != 2 || !strings.Contains(c.Warnings[0].Msg, "sig_key") {
		t.Errorf("warnings %v", c.Warnings)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"[runner]\nhttp_port=7999\nclient_maxconn=lots\n", `pushpin.conf:3: key "client_maxconn": invalid integer "lots"`},
		{"[global]\nport_offset=1.5\n", `pushpin.conf:2: key "port_offset": invalid integer "1.5"`},
		{"[proxy]\n\n\ndebug=maybe\n", `pushpin.conf:4: key "debug": invalid boolean "maybe"`},
		{"[proxy]\nipc_file_mode=999\n", `pushpin.conf:2: key "ipc_file_mode": invalid octal number "999"`},
		{"[handler]\nmessage_wait=5s\n", `pushpin.conf:2: key "message_wait": invalid integer "5s"`},
		{"[handler]\npush_in_http_port=http\n", `pushpin.conf:2: key "push_in_http_port": invalid integer "http"`},
		{"[runner]\nlog_level=x\n", `pushpin.conf:2: key "log_level": log level must be greater than or equal to 0`},
		{"[runner]\nlog_level=2,condure:x\n", `pushpin.conf:2: key "log_level": log level for service condure must be greater than or equal to 0`},
		{"[handler]\nmessage_rate=99999999999\n", `pushpin.conf:2: key "message_rate": invalid integer`},
	}
	for _, tc := range tests {
		// Messages name the file as the caller gave it.
		_, err := Parse("pushpin.conf", []byte(tc.src), Options{})
		var ke *KeyError
		if err == nil || !errors.As(err, &ke) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want prefix %s", tc.src, err, tc.want)
		}
	}
	// An error in the include names the include file.
	dir := writeConf(t, map[string]string{"pushpin.conf": "[global]\ninclude=inc.conf\n", "inc.conf": "[handler]\nmessage_hwm=x\n"})
	_, err := Load(filepath.Join(dir, "pushpin.conf"), Options{})
	if err == nil || !strings.Contains(err.Error(), `inc.conf:2: key "message_hwm"`) {
		t.Errorf("include error: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.conf"), Options{}); err == nil {
		t.Error("missing main file: no error")
	}
}

func TestUnknownKeys(t *testing.T) {
	c := loadString(t, "top=1\n[global]\nfoo=bar\n[proxy]\nworkers=4\n[custom]\nx=1\n[handler]\ncondure_out_specs=ipc://unread\n", Options{})
	var got []string
	for _, u := range c.Unknown {
		got = append(got, u.Section+"/"+u.Key)
	}
	if want := []string{"/top", "global/foo", "proxy/workers", "custom/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unknown = %v, want %v", got, want)
	}
	if v, ok := c.Value("custom", "x"); !ok || v != "1" {
		t.Error("raw lookup of unknown key")
	}
	if v, ok := c.Value("", "top"); !ok || v != "1" {
		t.Error("raw lookup of root key")
	}
}

func TestParseInMemory(t *testing.T) {
	c, err := Parse("/etc/x/pushpin.conf", []byte("[proxy]\nroutesfile=routes\n"), Options{})
	if err != nil || c.Proxy.RoutesFile != "/etc/x/routes" {
		t.Fatalf("%v %q", err, c.Proxy.RoutesFile)
	}
}

func TestXForwarded(t *testing.T) {
	for _, tc := range []struct {
		v               string
		proto, protocol bool
	}{{"true", true, true}, {"proto-only", true, false}, {"", false, false}, {"false", false, false}} {
		p := Proxy{SetXForwardedProtocol: tc.v}
		if a, b := p.SetsXForwardedProto(); a != tc.proto || b != tc.protocol {
			t.Errorf("%q: %v %v", tc.v, a, b)
		}
	}
	for _, tc := range []struct {
		items []string
		want  XFFRule
	}{
		{nil, XFFRule{Truncate: -1}},
		{[]string{"truncate:0", "append"}, XFFRule{Truncate: 0, Append: true}},
		{[]string{"append", "truncate:2"}, XFFRule{Truncate: 2, Append: true}},
		{[]string{"truncate:x", "append"}, XFFRule{Truncate: -1}},
		{[]string{"other"}, XFFRule{Truncate: -1}},
	} {
		if got := ParseXFFRule(tc.items); got != tc.want {
			t.Errorf("%v: %+v", tc.items, got)
		}
	}
}

func TestRunnerHasService(t *testing.T) {
	r := Runner{Services: []string{"condure", "zurl"}}
	if !r.HasService("zurl") || r.HasService("mongrel2") {
		t.Error("HasService")
	}
}

func TestLogLevels(t *testing.T) {
	tests := []struct {
		in   string
		want LogLevels
		err  string
	}{
		{"2", LogLevels{Default: 2}, ""},
		{"0", LogLevels{Default: 0}, ""},
		{"condure:3", LogLevels{Default: 2, Services: map[string]int{"condure": 3}}, ""},
		{"1, condure:3 ,pushpin-proxy:0", LogLevels{Default: 1, Services: map[string]int{"condure": 3, "pushpin-proxy": 0}}, ""},
		{"3,foo:1", LogLevels{Default: 3, Services: map[string]int{"foo": 1}}, ""},
		{"x", LogLevels{}, "log level must be greater than or equal to 0"},
		{"-1", LogLevels{}, "log level must be greater than or equal to 0"},
		{"", LogLevels{}, "log level must be greater than or equal to 0"},
		{"2,condure:x", LogLevels{}, "log level for service condure must be greater than or equal to 0"},
		{"2,zurl:-1", LogLevels{}, "log level for service zurl must be greater than or equal to 0"},
	}
	for _, tc := range tests {
		got, err := ParseLogLevels(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
	l, _ := ParseLogLevels("1,zurl:3,condure:0")
	if l.Level("zurl") != 3 || l.Level("condure") != 0 || l.Level("runner") != 1 || l.String() != "1,condure:0,zurl:3" {
		t.Errorf("levels %+v %s", l, l)
	}
	b, _ := l.MarshalText()
	var back LogLevels
	if err := back.UnmarshalText(b); err != nil || !reflect.DeepEqual(back, l) {
		t.Errorf("round trip %+v %v", back, err)
	}
}

func TestBuiltinInternalConfCopy(t *testing.T) {
	b := BuiltinInternalConf()
	b[0] ^= 0xff
	if bytes.Equal(b, builtinInternal) {
		t.Error("BuiltinInternalConf returned the embedded slice itself")
	}
}

func TestSetOverrides(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pushpin.conf")
	data := "[global]\nrundir=run\ninclude={libdir}/internal.conf\n[proxy]\ndebug=false\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, Options{Set: []string{
		"proxy.condure_in_specs=ipc://{rundir}/{ipc_prefix}condure-out,ipc://{rundir}/{ipc_prefix}condure1-out",
		"proxy.debug=true",
	}})
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	want := []string{"ipc://" + run + "/pushpin-condure-out", "ipc://" + run + "/pushpin-condure1-out"}
	if !reflect.DeepEqual(c.Proxy.CondureInSpecs, want) {
		t.Fatalf("condure_in_specs = %q, want %q", c.Proxy.CondureInSpecs, want)
	}
	if !c.Proxy.Debug {
		t.Fatal("--set proxy.debug=true did not override the file")
	}
	for _, bad := range []string{"nodot=1", "proxy.debug", ".x=1", "proxy.=1"} {
		if _, err := Load(path, Options{Set: []string{bad}}); err == nil {
			t.Errorf("--set %q accepted", bad)
		}
	}
}
