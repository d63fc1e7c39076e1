// Package routes reads Pushpin's routes file and selects the route for a
// request, as pushpin-proxy 1.36 does (src/proxy/routesfile.cpp for the line
// grammar, src/proxy/domainmap.cpp for the meaning of props and for
// selection).
//
// A routes line is "condition target [target…]". The condition's value is
// "*" (any host), a host name, or empty (then the route is reachable only by
// id); its props (proto, ssl, path_beg, id, …) refine it. Each target is an
// origin "host:port", "test", "zhttp/<spec>" or "zhttpreq/<spec>", with its
// own props. Several targets mean ordered failover.
//
// The one invariant: Table.Match reproduces Pushpin's DomainMap::entry —
// rules for the exact host are used whenever any exist (the "*" rules are
// then not consulted at all), and among matching rules the most specific
// wins by Pushpin's pairwise test (see Match).
package routes

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Proto is a condition's proto= value.
type Proto int

// Proto values.
const (
	ProtoAny  Proto = iota // proto not given
	ProtoHTTP              // proto=http
	ProtoWS                // proto=ws
)

// SSL is a condition's ssl= value.
type SSL int

// SSL values.
const (
	SSLAny SSL = iota // ssl not given
	SSLNo             // ssl=no
	SSLYes            // ssl=yes
)

// JSONPMode is a route's jsonp_mode.
type JSONPMode int

// JSONP modes; Extended is Pushpin's default.
const (
	JSONPExtended JSONPMode = iota
	JSONPBasic
)

// JSONPConfig is a route's JSON-P settings (used with aco / auto_cross_origin).
type JSONPConfig struct {
	Mode            JSONPMode // jsonp_mode; default extended
	CallbackParam   string    // jsonp_cb
	BodyParam       string    // jsonp_body
	DefaultCallback string    // jsonp_defcb
	// DefaultMethod is jsonp_defmethod; when not given, "POST" for basic
	// mode and "GET" for extended mode.
	DefaultMethod string
}

// Header is one header= prop: set (or, with an empty Value, remove) a
// request header.
type Header struct {
	Name  string
	Value string // leading spaces removed, as Pushpin does
}

// TargetType tells what a target is.
type TargetType int

// Target types.
const (
	// TargetOrigin is "host:port": an origin reached through zurl.
	TargetOrigin TargetType = iota
	// TargetTest is "test": the proxy's built-in test handler.
	TargetTest
	// TargetCustom is "zhttp/<spec>" or "zhttpreq/<spec>": a ZHTTP
	// responder the proxy binds sockets for (Target.Zhttp).
	TargetCustom
)

// ZhttpRoute identifies the sockets of a custom ZHTTP target.
type ZhttpRoute struct {
	// BaseSpec is the spec after "zhttp/" or "zhttpreq/". Stream mode
	// (Req false) derives -out/-out-stream/-in from it for ipc, or ports
	// P, P+1, P+2 for tcp.
	BaseSpec string
	// Req is true for "zhttpreq/" (req mode, one DEALER, no WebSockets).
	Req bool
	// IPCFileMode is the target's ipc_file_mode (octal in the file), or
	// -1 when not given or not a valid octal number (Pushpin ignores it then).
	IPCFileMode int
}

// Target is one target section.
type Target struct {
	Type TargetType
	// ConnectHost and ConnectPort are set for TargetOrigin. The host is
	// everything before the first ':' (so IPv6 literals are not supported,
	// as in Pushpin) and may be empty.
	ConnectHost string
	ConnectPort int
	// Zhttp is set for TargetCustom.
	Zhttp ZhttpRoute

	SSL              bool   // ssl: https/wss to the origin
	Trusted          bool   // false with untrusted (zurl policies apply)
	TrustConnectHost bool   // trust_connect_host
	Insecure         bool   // insecure: ignore TLS errors
	Host             string // host=H[:P]: Host sent to the origin
	// Subscriptions are the sub= props (empty ones dropped), in line
	// order (Pushpin's multi-hash gives them in reverse; order has no
	// effect on subscribing).
	Subscriptions []string
	OverHTTP      bool // over_http: WebSocket-over-HTTP
	OneEvent      bool // one_event: one event per over_http request
}

// Route is one parsed routes line.
type Route struct {
	// Line is the line number in the source (1-based); 0 when unknown.
	Line int

	// Domain is "*" for any host, a host name for an exact match, or ""
	// when the condition had no value (reachable only by ID).
	Domain  string
	Proto   Proto
	SSL     SSL
	PathBeg string // path_beg: prefix of the (encoded) request path

	// ID is the route id: the id= prop, or for routes read by Parse
	// without one, DefaultID(). ExplicitID tells which (Pushpin keeps
	// separate stats only for explicit ids).
	ID         string
	ExplicitID bool

	SigIss string // sig_iss
	// SigKey is sig_key, base64-decoded when written "base64:…".
	SigKey          []byte
	Prefix          string // prefix: channel prefix
	OrigHeaders     bool   // orig_headers
	AsHost          string // as_host
	PathRemove      int    // path_rem=N, or len(PathBeg) with replace_beg
	PathPrepend     string // replace_beg
	Debug           bool   // debug
	AutoCrossOrigin bool   // aco
	JSONP           JSONPConfig
	Session         bool   // session
	SockJSPath      string // sockjs
	SockJSAsPath    string // sockjs_as_path
	Headers         []Header
	// Grip is false with no_grip: no Grip-Sig / Grip-* handling for the route.
	Grip    bool
	Targets []Target
}

// DefaultID is the id Pushpin gives a route without id=:
// "domain,proto,ssl,path_beg" with "*" for what is not set. It reproduces
// Pushpin's inverted ssl text: ssl=no gives "ssl" and ssl=yes "no-ssl".
func (r *Route) DefaultID() string {
	domain := r.Domain
	if domain == "" {
		domain = "*"
	}
	proto := "*"
	switch r.Proto {
	case ProtoHTTP:
		proto = "http"
	case ProtoWS:
		proto = "ws"
	}
	ssl := "*"
	switch r.SSL {
	case SSLNo:
		ssl = "ssl"
	case SSLYes:
		ssl = "no-ssl"
	}
	path := r.PathBeg
	if path == "" {
		path = "*"
	}
	return domain + "," + proto + "," + ssl + "," + path
}

// sameCondition is Pushpin's duplicate test (domain compared by the caller).
func (r *Route) sameCondition(o *Route) bool {
	return r.Proto == o.Proto && r.SSL == o.SSL && r.PathBeg == o.PathBeg
}

// Errors of ParseLine and Table.Add. Line-level failures carry Pushpin's
// wording.
var (
	ErrNoTarget           = errors.New("must specify condition and at least one target")
	ErrBadProto           = errors.New("proto must be set to 'http' or 'ws'")
	ErrBadSSL             = errors.New("ssl must be set to 'yes' or 'no'")
	ErrEmptyPathBeg       = errors.New("path_beg cannot be empty")
	ErrBadJSONPMode       = errors.New("jsonp_mode must be set to 'basic' or 'extended'")
	ErrBadHeader          = errors.New("header must use format 'name:value'")
	ErrTargetFormat       = errors.New("target bad format")
	ErrTargetPort         = errors.New("target invalid port")
	ErrNoDomainOrID       = errors.New("condition has no domain or id")
	ErrDuplicateCondition = errors.New("skipping duplicate condition")
)

// LineError is a problem with one line of a routes file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Unwrap returns the underlying error (one of the Err… values).
func (e *LineError) Unwrap() error { return e.Err }

// Warning is a non-fatal finding while loading a routes file.
type Warning struct {
	File string
	Line int
	Msg  string
}

func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// ParseLine parses one routes line (a routes file line or a --route
// argument). It returns nil, nil for a blank or comment-only line. The
// route's ID is the id= prop only: Pushpin does not give --route lines a
// default id; Parse sets DefaultID for file lines.
func ParseLine(line string) (*Route, error) {
	secs, err := SplitLine(line)
	if err != nil {
		return nil, err
	}
	if len(secs) == 0 {
		return nil, nil
	}
	if len(secs) < 2 {
		return nil, ErrNoTarget
	}
	return buildRoute(secs)
}

func buildRoute(secs []Section) (*Route, error) {
	c := &secs[0]
	r := &Route{Grip: true}
	r.Domain = c.Value

	if v, ok := c.Get("proto"); ok {
		switch v {
		case "http":
			r.Proto = ProtoHTTP
		case "ws":
			r.Proto = ProtoWS
		default:
			return nil, ErrBadProto
		}
	}
	if v, ok := c.Get("ssl"); ok {
		switch v {
		case "yes":
			r.SSL = SSLYes
		case "no":
			r.SSL = SSLNo
		default:
			return nil, ErrBadSSL
		}
	}
	if v, ok := c.Get("id"); ok {
		r.ID = v
		r.ExplicitID = true
	}
	if v, ok := c.Get("path_beg"); ok {
		if v == "" {
			return nil, ErrEmptyPathBeg
		}
		r.PathBeg = v
	}
	r.SigIss, _ = c.Get("sig_iss")
	if v, ok := c.Get("sig_key"); ok {
		r.SigKey = parseKey(v)
	}
	r.Prefix, _ = c.Get("prefix")
	r.OrigHeaders = c.Has("orig_headers")
	r.AsHost, _ = c.Get("as_host")
	if v, ok := c.Get("path_rem"); ok {
		// QString::toInt without a check: not a number means 0.
		r.PathRemove, _ = qtInt(v, 10)
	}
	if v, ok := c.Get("replace_beg"); ok {
		r.PathRemove = len(r.PathBeg)
		r.PathPrepend = v
	}
	r.Debug = c.Has("debug")
	r.AutoCrossOrigin = c.Has("aco")
	if v, ok := c.Get("jsonp_mode"); ok {
		switch v {
		case "basic":
			r.JSONP.Mode = JSONPBasic
		case "extended":
			r.JSONP.Mode = JSONPExtended
		default:
			return nil, ErrBadJSONPMode
		}
	}
	r.JSONP.CallbackParam, _ = c.Get("jsonp_cb")
	r.JSONP.BodyParam, _ = c.Get("jsonp_body")
	r.JSONP.DefaultCallback, _ = c.Get("jsonp_defcb")
	if r.JSONP.Mode == JSONPBasic {
		r.JSONP.DefaultMethod = "POST"
	} else {
		r.JSONP.DefaultMethod = "GET"
	}
	if v, ok := c.Get("jsonp_defmethod"); ok {
		r.JSONP.DefaultMethod = v
	}
	r.Session = c.Has("session")
	r.SockJSPath, _ = c.Get("sockjs")
	r.SockJSAsPath, _ = c.Get("sockjs_as_path")
	for _, h := range c.All("header") {
		at := strings.IndexByte(h, ':')
		if at < 1 {
			return nil, ErrBadHeader
		}
		r.Headers = append(r.Headers, Header{Name: h[:at], Value: strings.TrimLeft(h[at+1:], " ")})
	}
	if c.Has("no_grip") {
		r.Grip = false
	}

	for i := 1; i < len(secs); i++ {
		t, err := buildTarget(&secs[i])
		if err != nil {
			return nil, err
		}
		r.Targets = append(r.Targets, t)
	}
	return r, nil
}

func buildTarget(s *Section) (Target, error) {
	t := Target{Zhttp: ZhttpRoute{IPCFileMode: -1}}
	v := s.Value
	switch {
	case v == "test":
		t.Type = TargetTest
	case strings.HasPrefix(v, "zhttp/"):
		t.Type = TargetCustom
		t.Zhttp.BaseSpec = v[len("zhttp/"):]
	case strings.HasPrefix(v, "zhttpreq/"):
		t.Type = TargetCustom
		t.Zhttp.BaseSpec = v[len("zhttpreq/"):]
		t.Zhttp.Req = true
	default:
		t.Type = TargetOrigin
		host, port, ok := strings.Cut(v, ":")
		if !ok {
			return Target{}, ErrTargetFormat
		}
		n, ok := qtInt(port, 10)
		if !ok || n < 1 || n > 65535 {
			return Target{}, ErrTargetPort
		}
		t.ConnectHost = host
		t.ConnectPort = n
	}
	t.SSL = s.Has("ssl")
	t.Trusted = !s.Has("untrusted")
	t.TrustConnectHost = s.Has("trust_connect_host")
	t.Insecure = s.Has("insecure")
	t.Host, _ = s.Get("host")
	for _, sub := range s.All("sub") {
		if sub != "" {
			t.Subscriptions = append(t.Subscriptions, sub)
		}
	}
	t.OverHTTP = s.Has("over_http")
	t.OneEvent = s.Has("one_event")
	if v, ok := s.Get("ipc_file_mode"); ok {
		if n, ok := qtInt(v, 8); ok && n >= 0 {
			t.Zhttp.IPCFileMode = n
		}
	}
	return t, nil
}

// Parse reads a routes file. name labels the file in errors and warnings.
//
// Like Pushpin, a bad line does not stop loading: the returned table holds
// every good line, and err joins a *LineError for each bad line (nil when
// there is none). Pushpin logs those lines as warnings and runs with the
// rest; a caller that wants the same should log err and use the table. err
// is also set, with a nil table, when reading r fails.
//
// Lines whose condition repeats an earlier one for the same domain are
// skipped with a warning, as in Pushpin. Routes without id= get DefaultID.
func Parse(r io.Reader, name string) (*Table, []Warning, error) {
	t := NewTable()
	var warns []Warning
	var errs []error
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, warns, fmt.Errorf("%s: %w", name, rerr)
		}
		if line == "" && rerr == io.EOF {
			break
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		route, err := ParseLine(line)
		if err != nil {
			errs = append(errs, &LineError{File: name, Line: lineNo, Err: err})
		} else if route != nil {
			route.Line = lineNo
			if route.ID == "" {
				route.ID = route.DefaultID()
			}
			dupID := route.ID != "" && t.hasID(route.ID)
			if err := t.Add(route); err != nil {
				warns = append(warns, Warning{File: name, Line: lineNo, Msg: err.Error()})
			} else if dupID {
				warns = append(warns, Warning{File: name, Line: lineNo, Msg: fmt.Sprintf("route id %q is used more than once; it cannot be selected by id", route.ID)})
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	return t, warns, errors.Join(errs...)
}

// parseKey decodes a "base64:" key like QByteArray::fromBase64 (which skips
// characters outside the alphabet and does not require padding); any other
// key is used as is.
func parseKey(s string) []byte {
	enc, ok := strings.CutPrefix(s, "base64:")
	if !ok {
		return []byte(s)
	}
	return lenientBase64(enc)
}

func lenientBase64(s string) []byte {
	var out []byte
	var acc uint32
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		case c == '/':
			v = 63
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		n += 6
		if n >= 8 {
			n -= 8
			out = append(out, byte(acc>>n))
		}
	}
	return out
}

// qtInt parses like QString::toInt(base): blanks around and a sign allowed.
func qtInt(s string, base int) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '+':
		s = s[1:]
	case '-':
		neg = true
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		d := int(s[i] - '0')
		if s[i] < '0' || d >= base {
			return 0, false
		}
		n = n*base + d
		if n > 1<<31 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 {
		return 0, false
	}
	return n, true
}
