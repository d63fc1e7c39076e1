package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// builtinInternal is our own internal.conf (a copy of deploy/internal.conf),
// used when no lib dir is configured or its internal.conf is missing.
//
//go:embed internal.conf
var builtinInternal []byte

// BuiltinInternalConf returns the embedded internal.conf text.
func BuiltinInternalConf() []byte { return append([]byte(nil), builtinInternal...) }

// readInclude reads the include file; a variable so the fuzz test can keep
// fuzzed include paths away from the real file system.
var readInclude = os.ReadFile

// builtinName labels the embedded file in messages.
const builtinName = "internal.conf (built-in)"

// Options carries what Pushpin's daemons take from outside the file.
type Options struct {
	// LibDir plays Pushpin's compiled LIBDIR: {libdir} in values, and where
	// internal.conf is looked for (Debian: /usr/lib/pushpin). Empty means
	// "no lib dir": {libdir}/internal.conf then resolves to the built-in
	// internal.conf. A [global] libdir in the file takes precedence.
	LibDir string
	// IPCPrefix, when non-empty, replaces [global] ipc_prefix (the
	// proxy's and handler's --ipc-prefix).
	IPCPrefix string
	// PortOffset, when non-nil, replaces [global] port_offset (the
	// handler's --port-offset).
	PortOffset *int
	// Set overrides keys of either file: "section.key=value" entries,
	// values written as in the file (commas make lists, templating
	// applies). Our proxy and handler take them as repeated --set flags;
	// the runner uses them to connect both daemons to every condure
	// instance it starts (condure_instances), which Pushpin cannot express.
	Set []string
}

// Warning is a non-fatal finding: a skipped line, a repeated key, a
// deprecated key, a string key written as a list.
type Warning struct {
	File string
	Line int // 0 when not tied to a line
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
	}
	return fmt.Sprintf("%s: %s", w.File, w.Msg)
}

// KeyError is a value that does not parse for its key.
type KeyError struct {
	File    string
	Line    int
	Section string
	Key     string
	Err     error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s:%d: key %q: %v", e.File, e.Line, e.Key, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// Setting is one key as found in a file.
type Setting struct {
	File    string
	Line    int
	Section string
	Key     string
	// Value is the value as written (unescaped, not templated); for a
	// list, the elements joined by ",".
	Value string
	// Items holds the elements when the value is a list (unquoted commas).
	Items []string
	// IsList reports whether the value is a list.
	IsList bool
}

// Config is a loaded pushpin.conf (plus its include).
type Config struct {
	// File is the main config file (absolute), Dir its folder.
	File string
	Dir  string
	// LibDir is the lib dir in effect ({libdir}); "" when none.
	LibDir string
	// IncludeBuiltin reports that the built-in internal.conf stood in for
	// the include file.
	IncludeBuiltin bool

	Global  Global
	Runner  Runner
	Proxy   Proxy
	Handler Handler

	// Unknown lists keys no typed section knows, from either file (keys
	// set in both appear once, from the file that wins). Not an error.
	Unknown []Setting
	// Warnings lists non-fatal findings.
	Warnings []Warning

	main    *iniFile
	include *iniFile
	set     *iniFile // Options.Set, consulted before both files
}

// parseSet turns "section.key=value" overrides into an INI layer.
func parseSet(items []string) (*iniFile, error) {
	var b strings.Builder
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		section, key, dotted := strings.Cut(k, ".")
		if !ok || !dotted || section == "" || key == "" || strings.ContainsAny(k, "[]\n") {
			return nil, fmt.Errorf("config: --set %q: want section.key=value", it)
		}
		fmt.Fprintf(&b, "[%s]\n%s=%s\n", section, key, v)
	}
	f, _ := parseINI("--set", []byte(b.String()))
	return f, nil
}

// Load reads the config file at path and its include, applies opts, and
// fills the typed sections. A missing main file is an error (Pushpin checks
// that too); a missing include file other than <libdir>/internal.conf is a
// warning (QSettings reads it as empty).
func Load(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return load(path, abs, data, opts)
}

// Parse is Load for config text already in memory; path names the file in
// messages and anchors relative paths (include, rundir, logdir, routesfile).
func Parse(path string, data []byte, opts Options) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return load(path, abs, data, opts)
}

func load(name, abs string, data []byte, opts Options) (*Config, error) {
	c := &Config{File: abs, Dir: filepath.Dir(abs)}
	var warns []Warning
	c.main, warns = parseINI(name, data)
	c.Warnings = append(c.Warnings, warns...)
	if len(opts.Set) > 0 {
		set, err := parseSet(opts.Set)
		if err != nil {
			return nil, err
		}
		c.set = set
	}

	// The raw [global] values below come from the main file only until the
	// include is known, exactly as Pushpin's Settings constructor reads
	// them (its valueRaw has no include yet at that point).
	c.Global.LibDir = c.rawString("global/libdir", "")
	c.LibDir = opts.LibDir
	if c.Global.LibDir != "" {
		c.LibDir = c.Global.LibDir
	}

	rundir := c.rawString("global/rundir", "")
	if rundir == "" {
		if e := c.main.entries["runner/rundir"]; e != nil {
			rundir = c.rawString("runner/rundir", "")
			c.warn(c.main.name, e.line, "rundir in [runner] is deprecated; put it in [global]")
		}
	}
	c.Global.RunDir = c.absPath(rundir)

	c.Global.IPCPrefix = c.rawString("global/ipc_prefix", "pushpin-")
	if err := c.rawInt("global/port_offset", &c.Global.PortOffset); err != nil {
		return nil, err
	}

	if err := c.loadInclude(); err != nil {
		return nil, err
	}

	// Command-line overrides apply after the include is resolved, as in
	// Pushpin (setIpcPrefix/setPortOffset come after construction).
	if opts.IPCPrefix != "" {
		c.Global.IPCPrefix = opts.IPCPrefix
	}
	if opts.PortOffset != nil {
		c.Global.PortOffset = *opts.PortOffset
	}

	if err := c.fillTyped(); err != nil {
		return nil, err
	}
	c.collectUnknown()
	return c, nil
}

// loadInclude resolves [global] include like Pushpin and reads it.
func (c *Config) loadInclude() error {
	raw := c.rawString("global/include", "")
	if raw == "" {
		return nil
	}
	// Pushpin rewrites the bare name to the lib dir copy.
	if raw == "internal.conf" {
		raw = "{libdir}/internal.conf"
	}
	path := c.resolve(raw)
	if !filepath.IsAbs(path) {
		path = filepath.Join(c.Dir, path)
	}
	c.Global.Include = path

	libInternal := filepath.Clean(raw) == filepath.Join("{libdir}", "internal.conf") ||
		(c.LibDir != "" && filepath.Clean(path) == filepath.Join(c.LibDir, "internal.conf"))

	if libInternal && c.LibDir == "" {
		c.Global.Include = ""
		c.useBuiltin()
		return nil
	}
	data, err := readInclude(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if libInternal {
				c.useBuiltin()
				return nil
			}
			c.warn(c.main.name, c.main.entries["global/include"].line, fmt.Sprintf("include file %s does not exist", path))
			return nil
		}
		return &KeyError{File: c.main.name, Line: c.main.entries["global/include"].line, Section: "global", Key: "include", Err: err}
	}
	var warns []Warning
	c.include, warns = parseINI(path, data)
	c.Warnings = append(c.Warnings, warns...)
	return nil
}

func (c *Config) useBuiltin() {
	var warns []Warning
	c.include, warns = parseINI(builtinName, builtinInternal)
	c.Warnings = append(c.Warnings, warns...)
	c.IncludeBuiltin = true
}

func (c *Config) warn(file string, line int, msg string) {
	c.Warnings = append(c.Warnings, Warning{File: file, Line: line, Msg: msg})
}

// lookup finds a "section/key" in the main file, then the include.
func (c *Config) lookup(full string) (*entry, *iniFile) {
	if c.set != nil {
		if e, ok := c.set.entries[full]; ok && !e.invalid {
			return e, c.set
		}
	}
	if e, ok := c.main.entries[full]; ok && !e.invalid {
		return e, c.main
	}
	if c.include != nil {
		if e, ok := c.include.entries[full]; ok && !e.invalid {
			return e, c.include
		}
	}
	return nil, nil
}

// stringOf converts an entry to the QString Pushpin would get from
// toString(): a list reads as "" (with a warning).
func (c *Config) stringOf(e *entry, f *iniFile) string {
	if !e.isList {
		return e.str
	}
	c.warn(f.name, e.line, fmt.Sprintf("key %q has unquoted commas, so it is a list and reads as empty (as in Pushpin); quote the value", e.key))
	return ""
}

// rawString is Pushpin's valueRaw(...).toString(): no templating.
func (c *Config) rawString(full, def string) string {
	e, f := c.lookup(full)
	if e == nil {
		return def
	}
	return c.stringOf(e, f)
}

func (c *Config) rawInt(full string, dst *int) error {
	e, f := c.lookup(full)
	if e == nil {
		return nil
	}
	n, err := parseInt(c.stringOf(e, f), 10)
	if err != nil {
		return &KeyError{File: f.name, Line: e.line, Section: e.section, Key: e.key, Err: err}
	}
	*dst = n
	return nil
}

func parseInt(s string, base int) (int, error) {
	if strings.TrimSpace(s) == "" {
		// QString("").toInt() is 0 and Pushpin uses it as such.
		return 0, nil
	}
	n, ok := qtIntBase(s, base)
	if !ok {
		if base == 8 {
			return 0, fmt.Errorf("invalid octal number %q", s)
		}
		return 0, fmt.Errorf("invalid integer %q", s)
	}
	return n, nil
}

// absPath makes p absolute against the config folder ("" stays "").
func (c *Config) absPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// resolve applies Pushpin's templating to one string: {libdir}, {rundir},
// {ipc_prefix}, then the port offset on every tcp://host:PORT.
func (c *Config) resolve(s string) string {
	if strings.IndexByte(s, '{') >= 0 {
		s = strings.NewReplacer(
			"{libdir}", c.LibDir,
			"{rundir}", c.Global.RunDir,
			"{ipc_prefix}", c.Global.IPCPrefix,
		).Replace(s)
	}
	return offsetTCPPorts(s, c.Global.PortOffset)
}

// offsetTCPPorts adds off to the port of every "tcp://host:PORT" in s.
// Pushpin takes the first ':' after "tcp://" as the port separator and
// stops at the first spec whose port is not a number; it also overwrites
// too much text after a port when more text follows (QString::replace is
// given an index as length). Here only the digits are replaced, bracketed
// IPv6 hosts are understood, and a spec without a numeric port is skipped;
// for the single-spec values Pushpin's files hold the results are the same.
func offsetTCPPorts(s string, off int) string {
	if off == 0 || !strings.Contains(s, "tcp://") {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "tcp://")
		if i < 0 {
			break
		}
		hostStart := i + len("tcp://")
		b.WriteString(rest[:hostStart])
		rest = rest[hostStart:]
		colon := -1
		if strings.HasPrefix(rest, "[") {
			if end := strings.IndexByte(rest, ']'); end >= 0 && end+1 < len(rest) && rest[end+1] == ':' {
				colon = end + 1
			}
		} else {
			colon = strings.IndexAny(rest, ":,")
			if colon >= 0 && rest[colon] != ':' {
				colon = -1
			}
		}
		if colon < 0 {
			continue
		}
		j := colon + 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		port, err := strconv.Atoi(rest[colon+1 : j])
		if err != nil {
			b.WriteString(rest[:j])
			rest = rest[j:]
			continue
		}
		b.WriteString(rest[:colon+1])
		b.WriteString(strconv.Itoa(port + off))
		rest = rest[j:]
	}
	b.WriteString(rest)
	return b.String()
}

// Value returns the templated value of section/key as Pushpin's
// value(...).toString() sees it, from the main file or the include; ok is
// false when neither sets it. A list value (unquoted commas) comes back
// with its templated elements joined by "," — use Strings to get them apart.
func (c *Config) Value(section, key string) (string, bool) {
	e, _ := c.lookup(joinKey(section, key))
	if e == nil {
		return "", false
	}
	if e.isList {
		items := make([]string, len(e.items))
		for i, it := range e.items {
			items[i] = c.resolve(it)
		}
		return strings.Join(items, ","), true
	}
	return c.resolve(e.str), true
}

// Strings returns section/key as a templated list, like Pushpin's
// value(...).toStringList(): a plain string is a one-element list, an
// empty value is an empty list. Empty elements are kept.
func (c *Config) Strings(section, key string) ([]string, bool) {
	e, _ := c.lookup(joinKey(section, key))
	if e == nil {
		return nil, false
	}
	if !e.isList {
		if e.str == "" {
			return nil, true
		}
		return []string{c.resolve(e.str)}, true
	}
	out := make([]string, len(e.items))
	for i, it := range e.items {
		out[i] = c.resolve(it)
	}
	return out, true
}

// Lookup returns where section/key is set and its untemplated value.
func (c *Config) Lookup(section, key string) (Setting, bool) {
	e, f := c.lookup(joinKey(section, key))
	if e == nil {
		return Setting{}, false
	}
	return settingOf(e, f), true
}

func settingOf(e *entry, f *iniFile) Setting {
	s := Setting{File: f.name, Line: e.line, Section: e.section, Key: e.key, IsList: e.isList}
	if e.isList {
		s.Items = append([]string(nil), e.items...)
		s.Value = strings.Join(e.items, ",")
	} else {
		s.Value = e.str
	}
	return s
}

// ResolvePath makes p absolute against the config file's folder, as
// Pushpin does for routesfile and "file:" keys.
func (c *Config) ResolvePath(p string) string { return c.absPath(p) }

// collectUnknown records keys that no typed section reads.
func (c *Config) collectUnknown() {
	known := knownKeys()
	seen := make(map[string]bool)
	for _, f := range []*iniFile{c.main, c.include} {
		if f == nil {
			continue
		}
		for _, e := range f.order {
			full := joinKey(e.section, e.key)
			if known[full] || seen[full] {
				continue
			}
			seen[full] = true
			w, wf := c.lookup(full)
			if w == nil {
				// Only "@Invalid()" values: unset for Pushpin too.
				continue
			}
			c.Unknown = append(c.Unknown, settingOf(w, wf))
		}
	}
	sort.SliceStable(c.Unknown, func(i, j int) bool {
		a, b := c.Unknown[i], c.Unknown[j]
		if a.File != b.File {
			return a.File == c.main.name
		}
		return a.Line < b.Line
	})
}
