// Package stack plans and supervises the process family the runner starts:
// one or more condure instances, zurl, the proxy and the handler.
//
// Planning (Plan) is pure: it turns pushpin.conf and the runner's flags into
// the exact argv Pushpin's runner builds for each service (reference §1.2),
// so Pushpin's own binaries and ours are interchangeable under it. Running
// (Stack.Run) starts the services in Pushpin's order, writes pid files,
// merges or splits their logs, forwards SIGHUP, restarts a child that dies
// (Pushpin stops everything instead), and stops them all on cancellation.
package stack

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pushpin-go/pushpin/pkg/config"
)

// Service kinds, named as Pushpin's runner names them in pid and log files
// and in --loglevel service lists.
const (
	KindCondure = "condure"
	KindZurl    = "zurl"
	KindProxy   = "pushpin-proxy"
	KindHandler = "pushpin-handler"
)

// ourBinary maps a service kind to the name of our own binary, which the
// runner prefers (next to its own executable) unless the config names one.
var ourBinary = map[string]string{
	KindCondure: "condure",
	KindZurl:    "zurl",
	KindProxy:   "proxy",
	KindHandler: "handler",
}

// logTag is the tag inserted into merged log lines (Pushpin: "[handler]").
var logTag = map[string]string{
	KindCondure: "condure",
	KindZurl:    "zurl",
	KindProxy:   "proxy",
	KindHandler: "handler",
}

// Options are the runner's command-line settings (pushpin's flags).
type Options struct {
	ConfigFile string
	// LogLevels from --loglevel/--verbose; nil means use [runner] log_level.
	LogLevels *config.LogLevels
	// Port replaces every configured listener by one plain HTTP listener
	// ("[addr:]port"), as pushpin --port does.
	Port string
	// ID (--id N) when >= 0: ipc prefix and file prefix become "pN-" and
	// the handler gets --port-offset=N*10.
	ID int
	// Routes are --route lines passed through to the proxy.
	Routes []string
	// Merge (-m) re-logs children's output through the runner.
	Merge bool
	// CondureInstances overrides [runner] condure_instances when > 0.
	CondureInstances int
	// ExeDir is where our own daemon binaries are looked for.
	ExeDir string
}

// Service is one process to run.
type Service struct {
	Kind    string   // one of the Kind* constants
	Name    string   // unique: kind, or "condure-N" for extra instances
	Tag     string   // tag for merged log lines
	Path    string   // executable
	Args    []string // argv[1:]
	PidFile string
	// LogFile receives the child's stdout and stderr when logs are not
	// merged (condure logs to stdout; the others write --logfile themselves
	// and only crash output lands here).
	LogFile string
	// Reload: the runner forwards SIGHUP (all but condure, as Pushpin).
	Reload bool
}

// Plan is everything the runner needs to start the stack.
type Plan struct {
	Config   *config.Config
	RunDir   string
	LogDir   string // "" when logs are merged
	Level    config.LogLevels
	Services []Service
	// ZurlConf is the rendered zurl.conf and where to write it ("" path
	// when zurl is not a service).
	ZurlConfPath string
	ZurlConf     []byte
	Notes        []string // decisions worth logging at start
}

// ErrNoPorts mirrors Pushpin's refusal to start without listeners.
var ErrNoPorts = errors.New("no server ports configured")

// NewPlan loads the config and builds the plan.
func NewPlan(opts Options) (*Plan, error) {
	prefix := ""
	var cfgOpts config.Options
	if opts.ID >= 0 {
		prefix = fmt.Sprintf("p%d-", opts.ID)
		cfgOpts.IPCPrefix = prefix
	}
	cfg, err := config.Load(opts.ConfigFile, cfgOpts)
	if err != nil {
		return nil, err
	}
	p := &Plan{Config: cfg, RunDir: cfg.Global.RunDir}
	if p.RunDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("rundir: %w", err)
		}
		p.RunDir = wd
	}
	p.Level = cfg.Runner.LogLevel
	if opts.LogLevels != nil {
		p.Level = *opts.LogLevels
	}
	if !opts.Merge {
		p.LogDir = cfg.Runner.LogDir
		if p.LogDir == "" {
			p.LogDir, _ = os.Getwd()
		}
	}
	ipcPrefix := cfg.Global.IPCPrefix

	services, err := p.serviceList(opts)
	if err != nil {
		return nil, err
	}
	instances := cfg.Runner.CondureInstances
	if opts.CondureInstances > 0 {
		instances = opts.CondureInstances
	}
	if instances < 1 {
		instances = 1
	}

	var condureBases []string // set when more than one condure runs
	for _, kind := range services {
		switch kind {
		case KindCondure:
			bases := make([]string, instances)
			for i := range instances {
				svc, base, err := p.condure(opts, i, instances, ipcPrefix, prefix)
				if err != nil {
					return nil, err
				}
				bases[i] = base
				p.Services = append(p.Services, svc)
			}
			if instances > 1 {
				condureBases = bases
			}
		case KindZurl:
			svc, err := p.zurl(opts, ipcPrefix, prefix)
			if err != nil {
				return nil, err
			}
			p.Services = append(p.Services, svc)
		case KindProxy, KindHandler:
			p.Services = append(p.Services, p.daemon(opts, kind, services, ipcPrefix, prefix, condureBases))
		}
	}
	return p, nil
}

// serviceList returns the services to start, in Pushpin's start order.
func (p *Plan) serviceList(opts Options) ([]string, error) {
	want := map[string]bool{}
	for _, s := range p.Config.Runner.Services {
		switch s {
		case "condure":
			want[KindCondure] = true
		case "zurl":
			want[KindZurl] = true
		case "pushpin-proxy", "proxy":
			want[KindProxy] = true
		case "pushpin-handler", "handler":
			want[KindHandler] = true
		case "mongrel2", "m2adapter":
			return nil, fmt.Errorf("service %q is not supported: use condure", s)
		default:
			return nil, fmt.Errorf("unknown service %q in [runner] services", s)
		}
	}
	// Debian's pushpin.conf lists no zurl because Debian runs a system zurl
	// at /var/run/zurl; our built-in internal.conf instead points the proxy
	// at a zurl in the run dir, so that zurl must be started here.
	if want[KindProxy] && !want[KindZurl] && p.Config.IncludeBuiltin {
		if s, set := p.Config.Lookup("proxy", "zurl_out_specs"); !set || s.File != p.Config.File {
			want[KindZurl] = true
			p.Notes = append(p.Notes, "starting zurl: the built-in internal.conf connects the proxy to a zurl in the run dir")
		}
	}
	var out []string
	for _, k := range []string{KindCondure, KindZurl, KindProxy, KindHandler} {
		if want[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no services configured")
	}
	return out, nil
}

// binary picks the executable for kind: the config's *_bin key when the
// user set it, else our own binary next to the runner, else Pushpin's name.
func (p *Plan) binary(opts Options, kind, key, pushpinName string) string {
	if s, ok := p.Config.Lookup("runner", key); ok && s.Value != "" {
		return s.Value
	}
	if opts.ExeDir != "" {
		ours := filepath.Join(opts.ExeDir, ourBinary[kind])
		if fi, err := os.Stat(ours); err == nil && !fi.IsDir() {
			return ours
		}
	}
	return pushpinName
}

func (p *Plan) logFile(name, filePrefix string) string {
	if p.LogDir == "" {
		return ""
	}
	return filepath.Join(p.LogDir, filePrefix+name+".log")
}

// condure builds instance i of condure. Instance 0 is exactly Pushpin's
// condure (id "condure", base <p>condure); further instances get their own
// id and ZHTTP base and share the listening ports (SO_REUSEPORT).
func (p *Plan) condure(opts Options, i, n int, ipcPrefix, filePrefix string) (Service, string, error) {
	name := KindCondure
	if i > 0 {
		name = fmt.Sprintf("condure-%d", i)
	}
	args := []string{fmt.Sprintf("--log-level=%d", p.Level.Level(KindCondure))}
	if n > 1 {
		args = append(args, "--id="+name)
	}
	var listens []string
	var tls bool
	if opts.Port != "" {
		l, err := listenSpec(opts.Port)
		if err != nil {
			return Service{}, "", fmt.Errorf("--port: %w", err)
		}
		listens = append(listens, l+",stream")
	} else {
		for _, port := range p.Config.Runner.HTTPPorts {
			l, err := listenSpec(port)
			if err != nil {
				return Service{}, "", fmt.Errorf("http_port %q: %w", port, err)
			}
			listens = append(listens, l+",stream")
		}
		for _, port := range p.Config.Runner.HTTPSPorts {
			l, err := listenSpec(port)
			if err != nil {
				return Service{}, "", fmt.Errorf("https_ports %q: %w", port, err)
			}
			_, portNum, _ := net.SplitHostPort(l)
			listens = append(listens, l+",stream,tls,default-cert=default_"+portNum)
			tls = true
		}
		for _, path := range p.Config.Runner.LocalPorts {
			listens = append(listens, path+",local,stream")
		}
	}
	if len(listens) == 0 {
		return Service{}, "", ErrNoPorts
	}
	for _, l := range listens {
		args = append(args, "--listen="+l)
	}
	base := "ipc://" + filepath.Join(p.RunDir, ipcPrefix+name)
	args = append(args,
		"--zclient-stream="+base,
		fmt.Sprintf("--buffer-size=%d", p.Config.Runner.ClientBufferSize),
		fmt.Sprintf("--stream-maxconn=%d", p.Config.Runner.ClientMaxconn),
	)
	if tls {
		args = append(args, "--tls-identities-dir="+filepath.Join(p.Config.Dir, "runner", "certs"))
	}
	svc := Service{
		Kind:    KindCondure,
		Name:    name,
		Tag:     logTag[KindCondure],
		Path:    p.binary(opts, KindCondure, "condure_bin", "condure"),
		Args:    args,
		PidFile: filepath.Join(p.RunDir, filePrefix+name+".pid"),
		LogFile: p.logFile(name, filePrefix),
	}
	if n > 1 {
		svc.Tag = name
	}
	return svc, base, nil
}

// listenSpec turns "[addr:]port" into condure's "host:port" (0.0.0.0 when
// no address is given; IPv6 in brackets).
func listenSpec(s string) (string, error) {
	s = strings.TrimSpace(s)
	host, port := "0.0.0.0", s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = strings.Trim(s[:i], "[]"), s[i+1:]
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("invalid port %q", port)
	}
	return net.JoinHostPort(host, port), nil
}

// condureSets connects the proxy and the handler to every condure instance
// by overriding the keys internal.conf points at the one condure Pushpin
// runs. Both daemons get the same [proxy] keys: Pushpin's handler reads the
// proxy's condure_in_stream_specs and condure_out_specs (the [handler]
// copies in internal.conf are never read; see pkg/config). A PUB connected
// to every instance reaches the right one because each condure subscribes
// to its own id.
func condureSets(bases []string) []string {
	var out, stream, in []string
	for _, b := range bases {
		out = append(out, b+"-out")
		stream = append(stream, b+"-out-stream")
		in = append(in, b+"-in")
	}
	return []string{
		"proxy.condure_in_specs=" + strings.Join(out, ","),
		"proxy.condure_in_stream_specs=" + strings.Join(stream, ","),
		"proxy.condure_out_specs=" + strings.Join(in, ","),
	}
}

func (p *Plan) zurl(opts Options, ipcPrefix, filePrefix string) (Service, error) {
	tmpl, err := zurlTemplate(p.Config.LibDir)
	if err != nil {
		return Service{}, err
	}
	p.ZurlConfPath = filepath.Join(p.RunDir, filePrefix+"zurl.conf")
	p.ZurlConf = renderTemplate(tmpl, map[string]string{"rundir": p.RunDir, "ipc_prefix": ipcPrefix})
	args := []string{"--config=" + p.ZurlConfPath}
	if lf := p.logFile(KindZurl, filePrefix); lf != "" {
		args = append(args, "--logfile="+lf)
	}
	if lvl := p.Level.Level(KindZurl); lvl >= 3 {
		args = append(args, "--verbose")
	} else {
		args = append(args, fmt.Sprintf("--loglevel=%d", lvl))
	}
	return Service{
		Kind:    KindZurl,
		Name:    KindZurl,
		Tag:     logTag[KindZurl],
		Path:    p.binary(opts, KindZurl, "zurl_bin", "zurl"),
		Args:    args,
		PidFile: filepath.Join(p.RunDir, filePrefix+"zurl.pid"),
		LogFile: p.crashLog(KindZurl, filePrefix),
		Reload:  true,
	}, nil
}

// crashLog is where a self-logging daemon's stdout/stderr go when logs are
// split: next to its log file, so a panic trace is never lost.
func (p *Plan) crashLog(name, filePrefix string) string {
	if p.LogDir == "" {
		return ""
	}
	return filepath.Join(p.LogDir, filePrefix+name+".out")
}

func (p *Plan) daemon(opts Options, kind string, services []string, ipcPrefix, filePrefix string, condureBases []string) Service {
	key, def := "proxy_bin", "pushpin-proxy"
	if kind == KindHandler {
		key, def = "handler_bin", "pushpin-handler"
	}
	args := []string{"--config=" + p.Config.File, "--ipc-prefix=" + ipcPrefix}
	if kind == KindHandler && opts.ID >= 0 {
		args = append(args, fmt.Sprintf("--port-offset=%d", opts.ID*10))
	}
	if lf := p.logFile(kind, filePrefix); lf != "" {
		args = append(args, "--logfile="+lf)
	}
	args = append(args, fmt.Sprintf("--loglevel=%d", p.Level.Level(kind)))
	if kind == KindProxy {
		for _, r := range opts.Routes {
			args = append(args, "--route="+r)
		}
		for _, s := range services {
			if s == KindZurl {
				args = append(args, "--quiet-check")
			}
		}
	}
	if len(condureBases) > 0 {
		for _, s := range condureSets(condureBases) {
			args = append(args, "--set="+s)
		}
	}
	return Service{
		Kind:    kind,
		Name:    kind,
		Tag:     logTag[kind],
		Path:    p.binary(opts, kind, key, def),
		Args:    args,
		PidFile: filepath.Join(p.RunDir, filePrefix+kind+".pid"),
		LogFile: p.crashLog(kind, filePrefix),
		Reload:  true,
	}
}
