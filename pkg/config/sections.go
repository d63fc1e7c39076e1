package config

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Struct tags used by the typed sections (read by fill in typed.go):
//
//	ini:"key"          key in the struct's own section
//	ini:"section/key"  key in another section (the handler reads some [proxy] keys)
//	ini:"-"            filled by hand in Load (key listed in extraKnownKeys)
//	default:"text"     value when neither file sets the key, in config syntax
//	unit:"s" / "ms"    a time.Duration field's unit in the file
//	base:"8"           an int written in octal (ipc_file_mode); default -1 = unset
//
// Conversions: strings and list elements are templated ({libdir}, {rundir},
// {ipc_prefix}, tcp port offset). Lists drop empty elements (as Pushpin's
// trimlist does). A string key written with unquoted commas is a list to
// QSettings and reads as "" in Pushpin (QVariant list-to-string gives ""
// unless there is exactly one element, verified with the runner's logdir);
// this package does the same and records a warning. Ints follow
// QString::toInt (surrounding blanks allowed, decimal); an empty value is 0,
// as in Pushpin; anything else that is not an integer is an error. Bools:
// true/1/yes/on and false/0/no/off/"" (any case); Qt's toBool would treat
// every other non-empty text, including "no" and "off", as true, so other
// text is an error rather than a silent true.

// Global is the [global] section.
type Global struct {
	// Include is the include file as resolved (absolute path), or "" when
	// there is none. When the built-in internal.conf stood in
	// (Config.IncludeBuiltin), Include is the missing <libdir>/internal.conf
	// that was looked for, or "" when there is no lib dir.
	// Key "include"; shipped value {libdir}/internal.conf.
	Include string `ini:"-"`
	// RunDir is rundir, made absolute against the config file's folder.
	// Falls back to the deprecated [runner] rundir (with a warning).
	// No compiled default (""); shipped /var/run/pushpin.
	RunDir string `ini:"-"`
	// IPCPrefix is ipc_prefix, replaced by Options.IPCPrefix when set.
	// Compiled default "pushpin-".
	IPCPrefix string `ini:"-"`
	// PortOffset is port_offset, replaced by Options.PortOffset when set.
	// Default 0.
	PortOffset int `ini:"-"`
	// StatsConnectionTTL is stats_connection_ttl (seconds in the file):
	// the ttl reported in "conn" stats. Default 120 s.
	StatsConnectionTTL time.Duration `ini:"stats_connection_ttl" default:"120" unit:"s"`
	// LibDir is the deprecated [global] libdir as written (not templated);
	// when set it replaces Options.LibDir, as in Pushpin.
	LibDir string `ini:"-"`
}

// Runner is the [runner] section (read by the runner; proxy and handler
// read services and client_maxconn).
type Runner struct {
	// Services lists the services to start: condure, zurl, pushpin-proxy,
	// pushpin-handler (mongrel2, m2adapter are legacy). No compiled default;
	// the built-in internal.conf gives condure,zurl,pushpin-proxy,pushpin-handler,
	// Debian's pushpin.conf sets condure,pushpin-proxy,pushpin-handler.
	Services []string `ini:"services"`
	// HTTPPorts is http_port: plain HTTP listeners, each "[addr:]port".
	// No compiled default (the runner fails with "no server ports
	// configured" when no port of any kind is set); shipped 7999.
	HTTPPorts []string `ini:"http_port"`
	// HTTPSPorts is https_ports: TLS listeners, "[addr:]port".
	HTTPSPorts []string `ini:"https_ports"`
	// LocalPorts is local_ports: unix socket listener paths.
	LocalPorts []string `ini:"local_ports"`
	// LogDir is logdir, made absolute against the config file's folder;
	// "" when unset (the runner then logs into its working directory, as
	// Pushpin does). Shipped /var/log/pushpin.
	LogDir string `ini:"-"`
	// LogLevel is log_level ("N" or "N,service:N,…"). Default 2.
	LogLevel LogLevels `ini:"log_level" default:"2"`
	// ClientBufferSize is client_buffer_size (condure --buffer-size). Default 8192.
	ClientBufferSize int `ini:"client_buffer_size" default:"8192"`
	// ClientMaxconn is client_maxconn (condure --stream-maxconn; also caps
	// the proxy's sessions). Default 50000.
	ClientMaxconn int `ini:"client_maxconn" default:"50000"`
	// CondureBin, Mongrel2Bin, M2shBin, ZurlBin are the executables
	// (looked up in PATH when not absolute).
	CondureBin  string `ini:"condure_bin" default:"condure"`
	Mongrel2Bin string `ini:"mongrel2_bin" default:"mongrel2"`
	M2shBin     string `ini:"m2sh_bin" default:"m2sh"`
	ZurlBin     string `ini:"zurl_bin" default:"zurl"`
	// ProxyBin and HandlerBin are our additions: the proxy and handler
	// executables (Pushpin's runner hard-codes them). Default
	// pushpin-proxy and pushpin-handler.
	ProxyBin   string `ini:"proxy_bin" default:"pushpin-proxy"`
	HandlerBin string `ini:"handler_bin" default:"pushpin-handler"`
	// CondureInstances is our addition: how many condure processes the
	// runner starts. Default 1.
	CondureInstances int `ini:"condure_instances" default:"1"`
}

// HasService reports whether name is listed in Services.
func (r *Runner) HasService(name string) bool { return slices.Contains(r.Services, name) }

// Proxy is the [proxy] section, public keys and internal specs.
type Proxy struct {
	// RoutesFile is routesfile, made absolute against the config file's
	// folder as Pushpin does. "" when unset (Pushpin has no compiled
	// default; shipped "routes").
	RoutesFile string `ini:"-"`
	// Debug: informative error responses. Default false.
	Debug bool `ini:"debug"`
	// AutoCrossOrigin: CORS and JSON-P for every route. Default false.
	AutoCrossOrigin bool `ini:"auto_cross_origin"`
	// AcceptXForwardedProtocol: trust client X-Forwarded-Proto(col). Default false.
	AcceptXForwardedProtocol bool `ini:"accept_x_forwarded_protocol"`
	// SetXForwardedProtocol is "true" (set X-Forwarded-Proto and
	// X-Forwarded-Protocol), "proto-only" (X-Forwarded-Proto only) or
	// anything else (neither). Compiled default "" (neither); shipped
	// proto-only. See SetsXForwardedProto.
	SetXForwardedProtocol string `ini:"set_x_forwarded_protocol"`
	// XForwardedFor and XForwardedForTrusted are the rule lists
	// ("truncate:N", "append") for untrusted and trusted clients. See ParseXFFRule.
	XForwardedFor        []string `ini:"x_forwarded_for"`
	XForwardedForTrusted []string `ini:"x_forwarded_for_trusted"`
	// OrigHeadersNeedMark lists headers that must already be marked to count as orig.
	OrigHeadersNeedMark []string `ini:"orig_headers_need_mark"`
	// AcceptPushpinRoute: honour the Pushpin-Route request header. Default false.
	AcceptPushpinRoute bool `ini:"accept_pushpin_route"`
	// LogFrom and LogUserAgent add from= and ua= to request log lines.
	LogFrom      bool `ini:"log_from"`
	LogUserAgent bool `ini:"log_user_agent"`
	// SigIss is the Grip-Sig issuer. Default "pushpin".
	SigIss string `ini:"sig_iss" default:"pushpin"`
	// SigKey is the Grip-Sig key as written: "base64:…", "file:…" (relative
	// to the config folder, Config.Dir) or the raw key. No compiled default;
	// shipped "changeme".
	SigKey string `ini:"sig_key"`
	// UpstreamKey validates incoming Grip-Sig (same syntax as SigKey).
	UpstreamKey string `ini:"upstream_key"`
	// SockJSURL is the SockJS client URL for the iframe transport.
	SockJSURL string `ini:"sockjs_url"`
	// UpdatesCheck is updates_check with "true" already turned into
	// "check", as Pushpin does: "report", "check" or anything else (off).
	// Compiled default ""; Debian ships "off". We never contact anyone.
	UpdatesCheck string `ini:"-"`
	// OrganizationName is organization_name (for update reports).
	OrganizationName string `ini:"organization_name"`
	// PrometheusPort is "[addr:]port" or "ipc://path"; "" disables. Not
	// port-offset (only tcp:// specs are).
	PrometheusPort string `ini:"prometheus_port"`
	// PrometheusPrefix prefixes metric names.
	PrometheusPrefix string `ini:"prometheus_prefix"`
	// StatsReportInterval is stats_report_interval (seconds in the file). Default 10 s.
	StatsReportInterval time.Duration `ini:"stats_report_interval" default:"10" unit:"s"`
	// MaxOpenRequests caps concurrent sessions; -1 (default) = client_maxconn.
	// Pushpin uses min(max_open_requests, client_maxconn) when >= 0.
	MaxOpenRequests int `ini:"max_open_requests" default:"-1"`
	// IPCFileMode is ipc_file_mode (octal in the file); -1 when unset.
	IPCFileMode int `ini:"ipc_file_mode" default:"-1" base:"8"`

	// Internal specs (internal.conf); see the socket map in the reference.
	CondureInSpecs          []string `ini:"condure_in_specs"`
	CondureInStreamSpecs    []string `ini:"condure_in_stream_specs"`
	CondureOutSpecs         []string `ini:"condure_out_specs"`
	M2AInSpecs              []string `ini:"m2a_in_specs"`
	M2AInStreamSpecs        []string `ini:"m2a_in_stream_specs"`
	M2AOutSpecs             []string `ini:"m2a_out_specs"`
	ZurlOutSpecs            []string `ini:"zurl_out_specs"`
	ZurlOutStreamSpecs      []string `ini:"zurl_out_stream_specs"`
	ZurlInSpecs             []string `ini:"zurl_in_specs"`
	HandlerInspectSpec      string   `ini:"handler_inspect_spec"`
	HandlerAcceptSpec       string   `ini:"handler_accept_spec"`
	HandlerRetryInSpec      string   `ini:"handler_retry_in_spec"`
	HandlerWSControlInSpec  string   `ini:"handler_ws_control_in_spec"`
	HandlerWSControlOutSpec string   `ini:"handler_ws_control_out_spec"`
	StatsSpec               string   `ini:"stats_spec"`
	CommandSpec             string   `ini:"command_spec"`
	IntreqInSpecs           []string `ini:"intreq_in_specs"`
	IntreqInStreamSpecs     []string `ini:"intreq_in_stream_specs"`
	IntreqOutSpecs          []string `ini:"intreq_out_specs"`
}

// SetsXForwardedProto reports whether the proxy adds X-Forwarded-Proto
// (setXfProto) and X-Forwarded-Protocol (setXfProtocol), from
// SetXForwardedProtocol exactly as Pushpin decides it.
func (p *Proxy) SetsXForwardedProto() (proto, protocol bool) {
	v := p.SetXForwardedProtocol
	return v == "true" || v == "proto-only", v == "true"
}

// XFFRule is a parsed x_forwarded_for rule list.
type XFFRule struct {
	// Truncate keeps at most this many existing X-Forwarded-For entries;
	// -1 means no truncation.
	Truncate int
	// Append adds the client address.
	Append bool
}

// ParseXFFRule parses x_forwarded_for items ("truncate:N", "append") like
// Pushpin: an invalid truncate value ends parsing and returns what was
// parsed before it; unknown items are ignored.
func ParseXFFRule(items []string) XFFRule {
	r := XFFRule{Truncate: -1}
	for _, s := range items {
		if n, ok := strings.CutPrefix(s, "truncate:"); ok {
			x, ok := qtInt(n)
			if !ok {
				return r
			}
			r.Truncate = x
		} else if s == "append" {
			r.Append = true
		}
	}
	return r
}

// Handler is the [handler] section, public keys and internal specs.
type Handler struct {
	// IPCFileMode is ipc_file_mode (octal in the file); -1 when unset.
	IPCFileMode int `ini:"ipc_file_mode" default:"-1" base:"8"`
	// PushInSpec: bind PULL for publish items. No compiled default;
	// shipped tcp://127.0.0.1:5560 (plus port offset).
	PushInSpec string `ini:"push_in_spec"`
	// PushInSubSpecs is push_in_sub_specs followed by the legacy single
	// push_in_sub_spec, as Pushpin appends it. Shipped tcp://127.0.0.1:5562.
	PushInSubSpecs []string `ini:"-"`
	// PushInSubConnect: connect the SUB socket instead of binding. Default false.
	PushInSubConnect bool `ini:"push_in_sub_connect"`
	// PushInHTTPAddr is the HTTP publish API address. Shipped 127.0.0.1.
	PushInHTTPAddr string `ini:"push_in_http_addr"`
	// PushInHTTPPort is push_in_http_port plus the port offset when > 0
	// (Pushpin's adjustedPort); 0 when unset = disabled. Shipped 5561.
	PushInHTTPPort int `ini:"-"`
	// PushInMaxHeadersSize and PushInMaxBodySize are what Pushpin 1.36
	// actually reads (push_in_max_headers_size / push_in_max_body_size).
	// Defaults 10000 and 1000000.
	PushInMaxHeadersSize int `ini:"push_in_max_headers_size" default:"10000"`
	PushInMaxBodySize    int `ini:"push_in_max_body_size" default:"1000000"`
	// PushInHTTPMaxHeadersSize and PushInHTTPMaxBodySize are the keys the
	// shipped pushpin.conf writes (push_in_http_max_*), which Pushpin 1.36
	// does not read (a source bug). Exposed so the handler may choose to
	// honour them; defaults 10000 and 1000000.
	PushInHTTPMaxHeadersSize int `ini:"push_in_http_max_headers_size" default:"10000"`
	PushInHTTPMaxBodySize    int `ini:"push_in_http_max_body_size" default:"1000000"`
	// StatsSpec: bind PUB for stats. Shipped ipc://{rundir}/{ipc_prefix}stats.
	StatsSpec string `ini:"stats_spec"`
	// CommandSpec: bind ROUTER for ZRPC commands. Shipped tcp://127.0.0.1:5563.
	CommandSpec string `ini:"command_spec"`
	// MessageRate is messages/s per route; -1 (compiled default) =
	// unlimited. Shipped 2500.
	MessageRate int `ini:"message_rate" default:"-1"`
	// MessageHWM is the rate-limit queue limit; -1 (compiled) = unlimited. Shipped 25000.
	MessageHWM int `ini:"message_hwm" default:"-1"`
	// MessageBlockSize enables block counts in stats; -1 = unset.
	MessageBlockSize int `ini:"message_block_size" default:"-1"`
	// MessageWait is message_wait (milliseconds in the file): how long
	// out-of-order items wait. Default 5000 ms.
	MessageWait time.Duration `ini:"message_wait" default:"5000" unit:"ms"`
	// IDCacheTTL is id_cache_ttl (seconds); 0 (compiled) = off. Shipped 60.
	IDCacheTTL time.Duration `ini:"id_cache_ttl" default:"0" unit:"s"`
	// ConnectionSubscriptionMax is channels per connection. Default 20.
	ConnectionSubscriptionMax int `ini:"connection_subscription_max" default:"20"`
	// SubscriptionLinger (seconds) for response-mode subscriptions. Default 60 s.
	SubscriptionLinger time.Duration `ini:"subscription_linger" default:"60" unit:"s"`
	// StatsSubscriptionTTL (seconds) for subscription stats. Default 60 s.
	StatsSubscriptionTTL time.Duration `ini:"stats_subscription_ttl" default:"60" unit:"s"`
	// StatsReportInterval (seconds). Default 10 s.
	StatsReportInterval time.Duration `ini:"stats_report_interval" default:"10" unit:"s"`
	// StatsFormat is "tnetstring" (default) or "json".
	StatsFormat string `ini:"stats_format" default:"tnetstring"`
	// PrometheusPort and PrometheusPrefix as for the proxy. Not offset.
	PrometheusPort   string `ini:"prometheus_port"`
	PrometheusPrefix string `ini:"prometheus_prefix"`
	// ShareAll shares identical requests (undocumented). Default false.
	ShareAll bool `ini:"share_all"`
	// StateSpec is the optional state service spec (undocumented).
	StateSpec string `ini:"state_spec"`

	// Internal specs (internal.conf).
	ProxyInspectSpec      string `ini:"proxy_inspect_spec"`
	ProxyAcceptSpec       string `ini:"proxy_accept_spec"`
	ProxyRetryOutSpec     string `ini:"proxy_retry_out_spec"`
	ProxyWSControlInSpec  string `ini:"proxy_ws_control_in_spec"`
	ProxyWSControlOutSpec string `ini:"proxy_ws_control_out_spec"`
	ProxyStatsSpec        string `ini:"proxy_stats_spec"`
	ProxyCommandSpec      string `ini:"proxy_command_spec"`
	// CondureInStreamSpecs and CondureOutSpecs come from [proxy]: Pushpin's
	// handler reads the proxy's keys (the [handler] copies in internal.conf
	// are never read).
	CondureInStreamSpecs []string `ini:"proxy/condure_in_stream_specs"`
	CondureOutSpecs      []string `ini:"proxy/condure_out_specs"`
	// M2AInStreamSpecs and M2AOutSpecs must be non-empty for Pushpin's
	// handler to start, even with condure.
	M2AInStreamSpecs          []string `ini:"m2a_in_stream_specs"`
	M2AOutSpecs               []string `ini:"m2a_out_specs"`
	ProxyIntreqOutSpecs       []string `ini:"proxy_intreq_out_specs"`
	ProxyIntreqOutStreamSpecs []string `ini:"proxy_intreq_out_stream_specs"`
	ProxyIntreqInSpecs        []string `ini:"proxy_intreq_in_specs"`
}

// extraKnownKeys are keys read by hand in Load, or keys Pushpin's own files
// carry but its binaries never read; none of them is reported as unknown.
var extraKnownKeys = []string{
	"global/include", "global/rundir", "global/ipc_prefix", "global/port_offset", "global/libdir",
	"runner/rundir", "runner/logdir",
	"proxy/routesfile", "proxy/updates_check",
	"handler/push_in_sub_specs", "handler/push_in_sub_spec", "handler/push_in_http_port",
	// Present in Debian's internal.conf [handler], unread by pushpin-handler.
	"handler/condure_in_stream_specs", "handler/condure_out_specs",
}

// qtInt parses an int the way QString::toInt does for base 10: blanks
// around the number are allowed, and so is a sign.
func qtInt(s string) (int, bool) {
	return qtIntBase(s, 10)
}

func qtIntBase(s string, base int) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, base, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}
