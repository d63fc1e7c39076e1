package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Config is the generated configuration of one Pushpin instance: a
// pushpin.conf, a routes file and (for a zurl started directly) a zurl.conf,
// all inside a per-test temp dir, with every TCP listener on a free loopback
// port.
type Config struct {
	// Dir holds everything: pushpin.conf, routes, run/, log/.
	Dir string
	// ConfigPath is pushpin.conf; RoutesPath is the routes file next to it.
	ConfigPath, RoutesPath string
	// RunDir ([global] rundir) holds ipc sockets, pid files and zurl.conf.
	RunDir string
	// LogDir ([runner] logdir) holds the components' log files.
	LogDir string
	// IPCPrefix is [global] ipc_prefix.
	IPCPrefix string
	// LogLevel is passed to every component (0 error … 3 debug).
	LogLevel int

	// HTTPPort is condure's client-facing listener ([runner] http_port,
	// bound on 127.0.0.1).
	HTTPPort int
	// ClientBufferSize is [runner] client_buffer_size (condure
	// --buffer-size).
	ClientBufferSize int
	// ClientMaxConn is [runner] client_maxconn.
	ClientMaxConn int
	// Handler listeners: push_in_spec (PULL), push_in_sub_specs (SUB),
	// push_in_http_port (HTTP control API), command_spec (ZRPC ROUTER).
	PushInPort, PushInSubPort, ControlPort, CommandPort int

	// Services is [runner] services.
	Services []string
	// CondureBin and ZurlBin are [runner] condure_bin and zurl_bin.
	CondureBin, ZurlBin string

	// Routes are the lines of the routes file.
	Routes []string
	// ZurlDeny is zurl.conf's deny list (empty: local origins are allowed).
	ZurlDeny string

	// Extra adds or overrides pushpin.conf keys: section → key → value,
	// e.g. Extra["proxy"]["debug"] = "true". A key the harness already
	// writes has its value replaced; other keys are added to the section.
	Extra map[string]map[string]string
}

// NewConfig allocates ports and paths for an instance under a fresh
// run dir (see RunDir). Nothing is written until Write.
func NewConfig(tb testing.TB) *Config {
	tb.Helper()
	dir := RunDir(tb)
	return &Config{
		Dir:              dir,
		ConfigPath:       filepath.Join(dir, "pushpin.conf"),
		RoutesPath:       filepath.Join(dir, "routes"),
		RunDir:           filepath.Join(dir, "run"),
		LogDir:           filepath.Join(dir, "log"),
		IPCPrefix:        "pushpin-",
		LogLevel:         2,
		HTTPPort:         FreePort(tb),
		ClientBufferSize: 8192,
		ClientMaxConn:    50000,
		PushInPort:       FreePort(tb),
		PushInSubPort:    FreePort(tb),
		ControlPort:      FreePort(tb),
		CommandPort:      FreePort(tb),
		Services:         []string{"condure", "zurl", "pushpin-proxy", "pushpin-handler"},
		CondureBin:       "condure",
		ZurlBin:          "zurl",
		Routes:           []string{"* test"},
	}
}

// IPC returns the ipc:// spec of a run-dir socket, e.g. IPC("condure-out").
func (c *Config) IPC(name string) string {
	return "ipc://" + filepath.Join(c.RunDir, c.IPCPrefix+name)
}

// HTTPAddr is the client-facing listener (host:port).
func (c *Config) HTTPAddr() string { return "127.0.0.1:" + strconv.Itoa(c.HTTPPort) }

// HTTPURL is the client-facing base URL, without a trailing slash.
func (c *Config) HTTPURL() string { return "http://" + c.HTTPAddr() }

// WSURL is the client-facing WebSocket base URL.
func (c *Config) WSURL() string { return "ws://" + c.HTTPAddr() }

// ControlURL is the handler's HTTP control API base URL (publish).
func (c *Config) ControlURL() string { return "http://127.0.0.1:" + strconv.Itoa(c.ControlPort) }

// PushInSpec is the handler's ZeroMQ PULL publish endpoint.
func (c *Config) PushInSpec() string { return "tcp://127.0.0.1:" + strconv.Itoa(c.PushInPort) }

// PushInSubSpec is the handler's ZeroMQ SUB publish endpoint.
func (c *Config) PushInSubSpec() string {
	return "tcp://127.0.0.1:" + strconv.Itoa(c.PushInSubPort)
}

// CommandSpec is the handler's ZRPC command endpoint.
func (c *Config) CommandSpec() string { return "tcp://127.0.0.1:" + strconv.Itoa(c.CommandPort) }

// ZurlConfigPath is where zurl.conf lives: the runner renders it to
// <rundir>/zurl.conf (reference §1.2), and a directly started zurl uses the
// same path.
func (c *Config) ZurlConfigPath() string { return filepath.Join(c.RunDir, "zurl.conf") }

// PidFile is the runner's pid file for a service (reference §1.2).
func (c *Config) PidFile(service string) string {
	return filepath.Join(c.RunDir, service+".pid")
}

// LogFile is the log file the runner gives a service
// (logdir/<service>.log).
func (c *Config) LogFile(service string) string {
	return filepath.Join(c.LogDir, service+".log")
}

// section is one [name] block with ordered keys.
type section struct {
	name string
	kv   [][2]string
}

func (s *section) set(k, v string) { s.kv = append(s.kv, [2]string{k, v}) }

// PushpinConf renders pushpin.conf.
//
// It keeps Debian's include of {libdir}/internal.conf, so each
// implementation uses its own internal wiring, and applies the fix needed to
// run zurl under the runner on Debian: Debian's internal.conf points the
// proxy at the system zurl in /var/run/zurl, so [proxy]
// zurl_out_specs/zurl_out_stream_specs/zurl_in_specs are overridden to the
// run dir (reference §1.4 notes) and zurl is listed in services.
func (c *Config) PushpinConf() string {
	g := &section{name: "global"}
	g.set("include", "{libdir}/internal.conf")
	g.set("rundir", c.RunDir)
	g.set("ipc_prefix", c.IPCPrefix)
	g.set("port_offset", "0")
	g.set("stats_connection_ttl", "120")

	r := &section{name: "runner"}
	r.set("services", strings.Join(c.Services, ","))
	r.set("http_port", c.HTTPAddr())
	r.set("logdir", c.LogDir)
	r.set("log_level", strconv.Itoa(c.LogLevel))
	r.set("client_buffer_size", strconv.Itoa(c.ClientBufferSize))
	r.set("client_maxconn", strconv.Itoa(c.ClientMaxConn))
	r.set("condure_bin", c.CondureBin)
	r.set("zurl_bin", c.ZurlBin)

	p := &section{name: "proxy"}
	p.set("routesfile", c.RoutesPath)
	p.set("zurl_out_specs", "ipc://{rundir}/{ipc_prefix}zurl-in")
	p.set("zurl_out_stream_specs", "ipc://{rundir}/{ipc_prefix}zurl-in-stream")
	p.set("zurl_in_specs", "ipc://{rundir}/{ipc_prefix}zurl-out")
	p.set("debug", "false")
	p.set("sig_iss", "pushpin")
	p.set("sig_key", "changeme")
	p.set("updates_check", "off")

	h := &section{name: "handler"}
	h.set("push_in_spec", c.PushInSpec())
	h.set("push_in_sub_specs", c.PushInSubSpec())
	h.set("push_in_sub_connect", "false")
	h.set("push_in_http_addr", "127.0.0.1")
	h.set("push_in_http_port", strconv.Itoa(c.ControlPort))
	h.set("stats_spec", "ipc://{rundir}/{ipc_prefix}stats")
	h.set("command_spec", c.CommandSpec())
	h.set("message_rate", "2500")
	h.set("message_hwm", "25000")
	h.set("message_wait", "5000")
	h.set("id_cache_ttl", "60")
	h.set("connection_subscription_max", "20")
	h.set("subscription_linger", "60")
	h.set("stats_subscription_ttl", "60")
	h.set("stats_report_interval", "10")
	h.set("stats_format", "tnetstring")

	sections := []*section{g, r, p, h}
	byName := map[string]*section{"global": g, "runner": r, "proxy": p, "handler": h}
	// Extra keys replace the harness's own (rather than being appended as
	// duplicates) so the file stays unambiguous for any INI reader.
	names := make([]string, 0, len(c.Extra))
	for n := range c.Extra {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := byName[n]
		if s == nil {
			s = &section{name: n}
			byName[n] = s
			sections = append(sections, s)
		}
		keys := make([]string, 0, len(c.Extra[n]))
		for k := range c.Extra[n] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			replaced := false
			for i := range s.kv {
				if s.kv[i][0] == k {
					s.kv[i][1] = c.Extra[n][k]
					replaced = true
				}
			}
			if !replaced {
				s.set(k, c.Extra[n][k])
			}
		}
	}

	var b strings.Builder
	b.WriteString("# generated by test/harness\n")
	for _, s := range sections {
		fmt.Fprintf(&b, "\n[%s]\n", s.name)
		for _, kv := range s.kv {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
	}
	return b.String()
}

// ZurlConf renders zurl.conf the way the runner renders Pushpin's template
// (/usr/lib/pushpin/runner/zurl.conf.template), with the deny list replaced
// by ZurlDeny so zurl may reach origins on 127.0.0.1.
func (c *Config) ZurlConf() string {
	return ZurlConfig{
		InSpec:       c.IPC("zurl-in"),
		InStreamSpec: c.IPC("zurl-in-stream"),
		OutSpec:      c.IPC("zurl-out"),
		Deny:         c.ZurlDeny,
	}.Render()
}

// Write creates the run and log dirs and writes pushpin.conf, routes and
// zurl.conf.
func (c *Config) Write() error {
	for _, d := range []string{c.RunDir, c.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
	}
	files := map[string]string{
		c.ConfigPath:       c.PushpinConf(),
		c.RoutesPath:       strings.Join(c.Routes, "\n") + "\n",
		c.ZurlConfigPath(): c.ZurlConf(),
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
	}
	return nil
}

// ZurlConfig is a zurl.conf ([General] section, reference §1.6).
type ZurlConfig struct {
	// InstanceID is the ZMQ identity and "from" (empty = random UUID).
	InstanceID string
	// The stream interface: PULL, DEALER and PUB binds.
	InSpec, InStreamSpec, OutSpec string
	// InReqSpec is the ROUTER bind of the req interface (optional).
	InReqSpec string
	// Deny is the comma-separated deny list; Allow the allow list.
	Deny, Allow string
	// BufferSize is buffer_size (0 = Pushpin's template value 200000).
	BufferSize int
	// Timeout is the inactivity timeout in seconds (0 = 600).
	Timeout int
}

// Render produces the file's text.
func (z ZurlConfig) Render() string {
	bs := z.BufferSize
	if bs == 0 {
		bs = 200000
	}
	to := z.Timeout
	if to == 0 {
		to = 600
	}
	var b strings.Builder
	b.WriteString("# generated by test/harness from Pushpin's zurl.conf.template\n[General]\n")
	fmt.Fprintf(&b, "instance_id=%s\n", z.InstanceID)
	fmt.Fprintf(&b, "in_spec=%s\n", z.InSpec)
	fmt.Fprintf(&b, "in_stream_spec=%s\n", z.InStreamSpec)
	fmt.Fprintf(&b, "out_spec=%s\n", z.OutSpec)
	fmt.Fprintf(&b, "in_req_spec=%s\n", z.InReqSpec)
	b.WriteString("defpolicy=allow\n")
	fmt.Fprintf(&b, "allow=%s\n", z.Allow)
	fmt.Fprintf(&b, "deny=%s\n", z.Deny)
	b.WriteString("max_open_requests=2000\n")
	fmt.Fprintf(&b, "buffer_size=%d\n", bs)
	fmt.Fprintf(&b, "timeout=%d\n", to)
	b.WriteString("in_hwm=1000\nout_hwm=1000\n")
	return b.String()
}
