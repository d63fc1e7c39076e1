package routes

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestSplitLine(t *testing.T) {
	tests := []struct {
		line string
		want []Section
		err  error
	}{
		{"", nil, nil},
		{"   ", nil, nil},
		{"# comment", nil, nil},
		{"   # indented comment", nil, nil},
		{"* test", []Section{{Value: "*"}, {Value: "test"}}, nil},
		{"*   test   ", []Section{{Value: "*"}, {Value: "test"}}, nil},
		{"  * test", []Section{{Value: "*"}, {Value: "test"}}, nil},
		{"* test # trailing comment", []Section{{Value: "*"}, {Value: "test"}}, nil},
		{"* test#glued comment", []Section{{Value: "*"}, {Value: "test"}}, nil},
		{"*,path_beg=/a#b test", []Section{{Value: "*", Props: []Prop{{"path_beg", "/a"}}}}, nil},
		{"*,id=x,debug 1.2.3.4:80,ssl", []Section{
			{Value: "*", Props: []Prop{{"id", "x"}, {"debug", ""}}},
			{Value: "1.2.3.4:80", Props: []Prop{{"ssl", ""}}},
		}, nil},
		// '=' in the first token: empty value, token is a prop.
		{"id=foo test", []Section{{Props: []Prop{{"id", "foo"}}}, {Value: "test"}}, nil},
		{"id=foo,path_beg=/x test", []Section{{Props: []Prop{{"id", "foo"}, {"path_beg", "/x"}}}, {Value: "test"}}, nil},
		// Pushpin re-reads from the separator: leading spaces make it fail.
		{"  id=foo test", nil, ErrExpectingProp},
		{"* host=x", nil, ErrExpectingProp},
		// Quoting.
		{`*,header="X-A: b c" test`, []Section{{Value: "*", Props: []Prop{{"header", "X-A: b c"}}}, {Value: "test"}}, nil},
		{`*,prefix="a,b#c" test`, []Section{{Value: "*", Props: []Prop{{"prefix", "a,b#c"}}}, {Value: "test"}}, nil},
		{`*,prefix="q\"x\\y" test`, []Section{{Value: "*", Props: []Prop{{"prefix", `q"x\y`}}}, {Value: "test"}}, nil},
		{`*,prefix=a"b c"d test`, []Section{{Value: "*", Props: []Prop{{"prefix", "ab cd"}}}, {Value: "test"}}, nil},
		{`"*" test`, []Section{{Value: "*"}, {Value: "test"}}, nil},
		{`*,"prefix=p" test`, []Section{{Value: "*", Props: []Prop{{"prefix", "p"}}}, {Value: "test"}}, nil},
		{`*,p=a\b test`, []Section{{Value: "*", Props: []Prop{{"p", `a\b`}}}, {Value: "test"}}, nil},
		{`*,p="a\nb" test`, nil, ErrBadQuotedEscape},
		{`*,p="abc test`, nil, ErrUnterminated},
		{`*,p="abc\`, nil, ErrUnterminated},
		// Empty props and names.
		{"* test,", nil, ErrExpectingProp},
		{"*, test", nil, ErrExpectingProp},
		{"*,,a test", nil, ErrExpectingProp},
		{`*,"" test`, nil, ErrExpectingProp},
		{"*,=v test", nil, ErrEmptyPropName},
		// Tabs are not separators.
		{"*\ttest", []Section{{Value: "*\ttest"}}, nil},
		// Prop value with '='.
		{"*,header=A:b=c test", []Section{{Value: "*", Props: []Prop{{"header", "A:b=c"}}}, {Value: "test"}}, nil},
	}
	for _, tc := range tests {
		got, err := SplitLine(tc.line)
		if !errors.Is(err, tc.err) {
			t.Errorf("SplitLine(%q) error = %v, want %v", tc.line, err, tc.err)
			continue
		}
		if tc.err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitLine(%q) = %#v, want %#v", tc.line, got, tc.want)
		}
	}
}

func mustLine(t *testing.T, line string) *Route {
	t.Helper()
	r, err := ParseLine(line)
	if err != nil {
		t.Fatalf("ParseLine(%q): %v", line, err)
	}
	if r == nil {
		t.Fatalf("ParseLine(%q): no route", line)
	}
	return r
}

func TestConditionProps(t *testing.T) {
	tests := []struct {
		line  string
		check func(*Route) bool
	}{
		{"* test", func(r *Route) bool {
			return r.Domain == "*" && r.Proto == ProtoAny && r.SSL == SSLAny && r.PathBeg == "" && r.ID == "" &&
				!r.ExplicitID && r.Grip && r.JSONP.Mode == JSONPExtended && r.JSONP.DefaultMethod == "GET" && r.PathRemove == 0
		}},
		{"example.com test", func(r *Route) bool { return r.Domain == "example.com" }},
		{"*,proto=http test", func(r *Route) bool { return r.Proto == ProtoHTTP }},
		{"*,proto=ws test", func(r *Route) bool { return r.Proto == ProtoWS }},
		{"*,ssl=yes test", func(r *Route) bool { return r.SSL == SSLYes }},
		{"*,ssl=no test", func(r *Route) bool { return r.SSL == SSLNo }},
		{"*,path_beg=/api test", func(r *Route) bool { return r.PathBeg == "/api" }},
		{"*,id=myid test", func(r *Route) bool { return r.ID == "myid" && r.ExplicitID }},
		{"*,sig_iss=iss,sig_key=secret test", func(r *Route) bool { return r.SigIss == "iss" && string(r.SigKey) == "secret" }},
		{"*,sig_key=base64:aGVsbG8= test", func(r *Route) bool { return string(r.SigKey) == "hello" }},
		{"*,sig_key=base64:aGVs*bG8 test", func(r *Route) bool { return string(r.SigKey) == "hello" }},
		{"*,prefix=pre- test", func(r *Route) bool { return r.Prefix == "pre-" }},
		{"*,orig_headers test", func(r *Route) bool { return r.OrigHeaders }},
		{"*,as_host=other.com:8080 test", func(r *Route) bool { return r.AsHost == "other.com:8080" }},
		{"*,path_rem=4 test", func(r *Route) bool { return r.PathRemove == 4 }},
		{"*,path_rem=abc test", func(r *Route) bool { return r.PathRemove == 0 }},
		{"*,path_beg=/old,replace_beg=/new test", func(r *Route) bool { return r.PathRemove == 4 && r.PathPrepend == "/new" }},
		{"*,debug test", func(r *Route) bool { return r.Debug }},
		{"*,aco test", func(r *Route) bool { return r.AutoCrossOrigin }},
		{"*,jsonp_mode=basic test", func(r *Route) bool { return r.JSONP.Mode == JSONPBasic && r.JSONP.DefaultMethod == "POST" }},
		{"*,jsonp_mode=extended test", func(r *Route) bool { return r.JSONP.Mode == JSONPExtended && r.JSONP.DefaultMethod == "GET" }},
		{"*,jsonp_cb=cb,jsonp_body=b,jsonp_defcb=d,jsonp_defmethod=PUT test", func(r *Route) bool {
			return r.JSONP.CallbackParam == "cb" && r.JSONP.BodyParam == "b" && r.JSONP.DefaultCallback == "d" && r.JSONP.DefaultMethod == "PUT"
		}},
		{"*,session test", func(r *Route) bool { return r.Session }},
		{"*,sockjs=/sockjs,sockjs_as_path=/ws test", func(r *Route) bool { return r.SockJSPath == "/sockjs" && r.SockJSAsPath == "/ws" }},
		{`*,header=X-A:1,header="X-B:  two",header=X-C: test`, func(r *Route) bool {
			return reflect.DeepEqual(r.Headers, []Header{{"X-A", "1"}, {"X-B", "two"}, {"X-C", ""}})
		}},
		{"*,no_grip test", func(r *Route) bool { return !r.Grip }},
		// A prop given twice: the later wins.
		{"*,prefix=a,prefix=b test", func(r *Route) bool { return r.Prefix == "b" }},
		// Empty condition value with an id.
		{"id=only test", func(r *Route) bool { return r.Domain == "" && r.ID == "only" }},
	}
	for _, tc := range tests {
		r := mustLine(t, tc.line)
		if !tc.check(r) {
			t.Errorf("ParseLine(%q) = %+v: check failed", tc.line, r)
		}
	}
}

func TestTargetProps(t *testing.T) {
	tests := []struct {
		line string
		want Target
	}{
		{"* 127.0.0.1:8080", Target{Type: TargetOrigin, ConnectHost: "127.0.0.1", ConnectPort: 8080, Trusted: true, Zhttp: ZhttpRoute{IPCFileMode: -1}}},
		{"* :80", Target{Type: TargetOrigin, ConnectHost: "", ConnectPort: 80, Trusted: true, Zhttp: ZhttpRoute{IPCFileMode: -1}}},
		{"* h:+80", Target{Type: TargetOrigin, ConnectHost: "h", ConnectPort: 80, Trusted: true, Zhttp: ZhttpRoute{IPCFileMode: -1}}},
		{"* test", Target{Type: TargetTest, Trusted: true, Zhttp: ZhttpRoute{IPCFileMode: -1}}},
		{"* zhttp/ipc:///tmp/x", Target{Type: TargetCustom, Trusted: true, Zhttp: ZhttpRoute{BaseSpec: "ipc:///tmp/x", IPCFileMode: -1}}},
		{"* zhttp/tcp://127.0.0.1:9000,ipc_file_mode=770", Target{Type: TargetCustom, Trusted: true, Zhttp: ZhttpRoute{BaseSpec: "tcp://127.0.0.1:9000", IPCFileMode: 0o770}}},
		{"* zhttpreq/ipc:///tmp/r,ipc_file_mode=9", Target{Type: TargetCustom, Trusted: true, Zhttp: ZhttpRoute{BaseSpec: "ipc:///tmp/r", Req: true, IPCFileMode: -1}}},
		{"* o:443,ssl,untrusted,trust_connect_host,insecure,host=api.example.com:8443,sub=a,sub=,sub=b,over_http,one_event",
			Target{Type: TargetOrigin, ConnectHost: "o", ConnectPort: 443, SSL: true, Trusted: false, TrustConnectHost: true, Insecure: true,
				Host: "api.example.com:8443", Subscriptions: []string{"a", "b"}, OverHTTP: true, OneEvent: true, Zhttp: ZhttpRoute{IPCFileMode: -1}}},
	}
	for _, tc := range tests {
		r := mustLine(t, tc.line)
		if len(r.Targets) != 1 || !reflect.DeepEqual(r.Targets[0], tc.want) {
			t.Errorf("ParseLine(%q) targets = %+v, want %+v", tc.line, r.Targets, tc.want)
		}
	}
	r := mustLine(t, "* a:1 b:2,ssl test")
	if len(r.Targets) != 3 || r.Targets[0].ConnectHost != "a" || !r.Targets[1].SSL || r.Targets[2].Type != TargetTest {
		t.Errorf("failover targets = %+v", r.Targets)
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct {
		line string
		err  error
	}{
		{"*", ErrNoTarget},
		{"*,id=x", ErrNoTarget},
		{"*,proto=https test", ErrBadProto},
		{"*,proto test", ErrBadProto},
		{"*,ssl=true test", ErrBadSSL},
		{"*,path_beg= test", ErrEmptyPathBeg},
		{"*,jsonp_mode=x test", ErrBadJSONPMode},
		{"*,header=novalue test", ErrBadHeader},
		{"*,header=:v test", ErrBadHeader},
		{"* localhost", ErrTargetFormat},
		{"* host:0", ErrTargetPort},
		{"* host:65536", ErrTargetPort},
		{"* host:http", ErrTargetPort},
		{"* [::1]:80", ErrTargetPort},
		{"* host:99999999999999999999", ErrTargetPort},
		{`* "unterminated`, ErrUnterminated},
	}
	for _, tc := range tests {
		r, err := ParseLine(tc.line)
		if !errors.Is(err, tc.err) || r != nil {
			t.Errorf("ParseLine(%q) = %v, %v; want error %v", tc.line, r, err, tc.err)
		}
	}
}

func TestDefaultID(t *testing.T) {
	tests := []struct{ line, id string }{
		{"* test", "*,*,*,*"},
		{"example.com test", "example.com,*,*,*"},
		{"*,proto=http test", "*,http,*,*"},
		{"*,proto=ws test", "*,ws,*,*"},
		// Pushpin's inverted ssl placeholders.
		{"*,ssl=no test", "*,*,ssl,*"},
		{"*,ssl=yes test", "*,*,no-ssl,*"},
		{"*,path_beg=/wsoh test", "*,*,*,/wsoh"},
		{"h.com,proto=ws,ssl=yes,path_beg=/p test", "h.com,ws,no-ssl,/p"},
		// No domain: "*" too.
		{"ssl=yes test", "*,*,no-ssl,*"},
	}
	for _, tc := range tests {
		tab, warns, err := Parse(strings.NewReader(tc.line+"\n"), "routes")
		if err != nil || len(warns) != 0 || tab.Len() != 1 {
			t.Fatalf("Parse(%q): %v %v %d", tc.line, err, warns, tab.Len())
		}
		r := tab.Routes()[0]
		if r.ID != tc.id || r.ExplicitID || r.DefaultID() != tc.id {
			t.Errorf("%q: id %q, want %q", tc.line, r.ID, tc.id)
		}
		if tab.ByID(tc.id) != r {
			t.Errorf("%q: ByID(%q) did not find the route", tc.line, tc.id)
		}
	}
	// ParseLine (--route) leaves the id empty.
	if r := mustLine(t, "* test"); r.ID != "" {
		t.Errorf("ParseLine gave id %q", r.ID)
	}
}

func TestParseFile(t *testing.T) {
	src := strings.Join([]string{
		"# routes",                             // 1
		"",                                     // 2
		"* test",                               // 3
		"example.com 127.0.0.1:80",             // 4
		"* 127.0.0.1:81",                       // 5 duplicate of line 3
		"*,proto=ws bad",                       // 6 bad target
		"*,path_beg=/api,id=api 10.0.0.5:80",   // 7
		"other.com,id=api 10.0.0.6:80",         // 8 duplicate id
		"*,path_beg=/x,foo=bar,unknown test",   // 9 unknown props are ignored
		"\"unterminated",                       // 10
		"*,path_beg=/crlf test\r",              // 11
		"noid.example.com,ssl=yes 1.1.1.1:443", // 12
	}, "\n")
	tab, warns, err := Parse(strings.NewReader(src), "routes")
	if tab == nil {
		t.Fatal("nil table")
	}
	if tab.Len() != 7 {
		t.Errorf("Len = %d, want 7", tab.Len())
	}
	var lineErrs []int
	for _, e := range unwrapJoined(err) {
		var le *LineError
		if !errors.As(e, &le) {
			t.Fatalf("error %v is not a LineError", e)
		}
		lineErrs = append(lineErrs, le.Line)
	}
	if !reflect.DeepEqual(lineErrs, []int{6, 10}) {
		t.Errorf("error lines = %v, want [6 10]; err = %v", lineErrs, err)
	}
	if err == nil || !strings.Contains(err.Error(), "routes:6: target bad format") {
		t.Errorf("error text = %v", err)
	}
	if len(warns) != 2 || warns[0].Line != 5 || warns[0].Msg != "skipping duplicate condition" || warns[1].Line != 8 {
		t.Errorf("warnings = %v", warns)
	}
	if got := warns[0].String(); got != "routes:5: skipping duplicate condition" {
		t.Errorf("warning text %q", got)
	}
	if tab.ByID("api") != nil {
		t.Error("duplicated id should be unusable")
	}
	if r := tab.Match("other.com", "/", false, false); r == nil || r.Line != 8 {
		t.Errorf("route with duplicated id should still match by host: %+v", r)
	}
	if r := tab.Match("x", "/crlf", false, false); r == nil || r.Line != 11 {
		t.Errorf("CRLF line not matched: %+v", r)
	}
	if r := tab.Match("x", "/", false, false); r == nil || r.Line != 3 {
		t.Errorf("wildcard = %+v", r)
	}
}

func unwrapJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestParseReadError(t *testing.T) {
	tab, _, err := Parse(errReader{}, "routes")
	if tab != nil || err == nil {
		t.Fatalf("got %v, %v", tab, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestParseHugeLine(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	tab, _, err := Parse(strings.NewReader("*,prefix="+long+" test"), "routes")
	if err != nil || tab.Len() != 1 || len(tab.Routes()[0].Prefix) != 1<<20 {
		t.Fatalf("huge line: %v", err)
	}
}

func TestMatch(t *testing.T) {
	src := `
* 1:1
*,proto=ws 2:2
*,path_beg=/a 3:3
*,path_beg=/a/b 4:4
*,ssl=yes 5:5
*,proto=http,path_beg=/a 6:6
exact.com 7:7
exact.com,path_beg=/only 8:8
*,proto=ws,ssl=no,path_beg=/w 9:9
`
	tab, warns, err := Parse(strings.NewReader(src), "routes")
	if err != nil || len(warns) != 0 {
		t.Fatalf("parse: %v %v", err, warns)
	}
	port := func(r *Route) int {
		if r == nil {
			return 0
		}
		return r.Targets[0].ConnectPort
	}
	tests := []struct {
		host, path string
		ws, tls    bool
		want       int
	}{
		{"h", "/", false, false, 1},
		{"h", "/", true, false, 2},          // proto beats no proto
		{"h", "/a/x", true, false, 2},       // proto beats longer path
		{"h", "/a/x", false, false, 6},      // proto=http + path
		{"h", "/a/b/c", false, false, 6},    // proto beats longer path without proto
		{"h", "/", false, true, 5},          // ssl set beats unset
		{"h", "/a", false, true, 6},         // proto wins over ssl
		{"h", "/w/x", true, false, 9},       // proto + longer path
		{"h", "/w/x", true, true, 2},        // ssl=no does not match tls
		{"exact.com", "/", false, false, 7}, // exact host rules
		{"exact.com", "/only/x", false, false, 8},
		{"exact.com", "/a", true, true, 7},  // exact host: "*" rules never consulted
		{"EXACT.com", "/", false, false, 1}, // case-sensitive host key
		{"", "/", false, false, 1},
	}
	for _, tc := range tests {
		if got := port(tab.Match(tc.host, tc.path, tc.ws, tc.tls)); got != tc.want {
			t.Errorf("Match(%q,%q,ws=%v,tls=%v) = %d, want %d", tc.host, tc.path, tc.ws, tc.tls, got, tc.want)
		}
	}
}

func TestMatchPairwiseQuirk(t *testing.T) {
	// Pushpin's pairwise test: a rule with ssl and a shorter path_beg
	// replaces an earlier best with a longer path_beg and no ssl.
	tab, _, err := Parse(strings.NewReader("*,path_beg=/long 1:1\n*,ssl=yes 2:2\n"), "routes")
	if err != nil {
		t.Fatal(err)
	}
	if r := tab.Match("h", "/long", false, true); r == nil || r.Targets[0].ConnectPort != 2 {
		t.Errorf("got %+v", r)
	}
	// In the other order, the longer path replaces the ssl rule.
	tab, _, _ = Parse(strings.NewReader("*,ssl=yes 2:2\n*,path_beg=/long 1:1\n"), "routes")
	if r := tab.Match("h", "/long", false, true); r == nil || r.Targets[0].ConnectPort != 1 {
		t.Errorf("got %+v", r)
	}
}

func TestMatchNoRoute(t *testing.T) {
	tab := NewTable()
	if tab.Match("h", "/", false, false) != nil {
		t.Error("empty table matched")
	}
	if err := tab.AddLine("only.com test"); err != nil {
		t.Fatal(err)
	}
	if tab.Match("h", "/", false, false) != nil {
		t.Error("other host matched")
	}
	if err := tab.AddLine("*,path_beg=/p test"); err != nil {
		t.Fatal(err)
	}
	if tab.Match("h", "/q", false, false) != nil {
		t.Error("path mismatch matched")
	}
}

func TestAddLine(t *testing.T) {
	tab := NewTable()
	for _, l := range []string{"* 127.0.0.1:8080", "", "# c"} {
		if err := tab.AddLine(l); err != nil {
			t.Fatalf("AddLine(%q): %v", l, err)
		}
	}
	if err := tab.AddLine("* test"); !errors.Is(err, ErrDuplicateCondition) {
		t.Errorf("duplicate: %v", err)
	}
	if err := tab.AddLine("ssl=yes test"); !errors.Is(err, ErrNoDomainOrID) {
		t.Errorf("no domain or id: %v", err)
	}
	if err := tab.AddLine("* bad"); !errors.Is(err, ErrTargetFormat) {
		t.Errorf("bad target: %v", err)
	}
	if tab.Len() != 1 || tab.Routes()[0].ID != "" {
		t.Errorf("table = %+v", tab.Routes())
	}
}

func TestIDOnlyRoute(t *testing.T) {
	tab, warns, err := Parse(strings.NewReader("id=hidden 1:1\n* 2:2\n"), "routes")
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	if r := tab.ByID("hidden"); r == nil || r.Targets[0].ConnectPort != 1 {
		t.Errorf("ByID(hidden) = %+v", r)
	}
	if r := tab.Match("h", "/", false, false); r.Targets[0].ConnectPort != 2 {
		t.Errorf("id-only route matched by host")
	}
	// An id-only route without an id gets "*,*,*,*", clashing with the
	// wildcard route's default id, which becomes unusable (as in Pushpin).
	tab, warns, _ = Parse(strings.NewReader("proto=ws 1:1\n*,proto=ws 2:2\n"), "routes")
	if tab.ByID("*,ws,*,*") != nil || len(warns) != 1 {
		t.Errorf("clashing default ids: %v %v", tab.ByID("*,ws,*,*"), warns)
	}
}

func TestZhttpRoutes(t *testing.T) {
	src := "* zhttp/ipc://a zhttpreq/ipc://b\n*,path_beg=/x zhttp/ipc://a test zhttp/\n*,path_beg=/y zhttp/ipc://a,ipc_file_mode=700\n"
	tab, _, err := Parse(strings.NewReader(src), "routes")
	if err != nil {
		t.Fatal(err)
	}
	want := []ZhttpRoute{{"ipc://a", false, -1}, {"ipc://b", true, -1}, {"ipc://a", false, 0o700}}
	if got := tab.ZhttpRoutes(); !reflect.DeepEqual(got, want) {
		t.Errorf("ZhttpRoutes = %+v, want %+v", got, want)
	}
}

func TestDeployAndDebianRoutes(t *testing.T) {
	for _, path := range []string{"../../deploy/routes", "/etc/pushpin/routes"} {
		f, err := os.Open(path)
		if err != nil {
			if os.IsNotExist(err) && strings.HasPrefix(path, "/etc") {
				t.Skip("/etc/pushpin absent")
			}
			t.Fatal(err)
		}
		tab, warns, err := Parse(f, path)
		f.Close()
		if err != nil || len(warns) != 0 || tab.Len() != 1 {
			t.Fatalf("%s: %v %v %d", path, err, warns, tab.Len())
		}
		r := tab.Match("anything", "/", false, false)
		if r == nil || r.Targets[0].Type != TargetTest || r.ID != "*,*,*,*" {
			t.Errorf("%s: %+v", path, r)
		}
	}
}

func TestDeployExamplesParse(t *testing.T) {
	// The commented examples in deploy/routes must be valid lines.
	data, err := os.ReadFile("../../deploy/routes")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if ex, ok := strings.CutPrefix(l, "#"); ok && ex != "" && !strings.HasPrefix(ex, " ") {
			if _, err := ParseLine(ex); err != nil {
				t.Errorf("example %q: %v", ex, err)
			}
			n++
		}
	}
	if n < 3 {
		t.Errorf("only %d examples found", n)
	}
}

func TestQtInt(t *testing.T) {
	tests := []struct {
		s    string
		base int
		n    int
		ok   bool
	}{
		{"80", 10, 80, true}, {" 80 ", 10, 80, true}, {"+80", 10, 80, true}, {"-5", 10, -5, true},
		{"", 10, 0, false}, {"+", 10, 0, false}, {"8a", 10, 0, false}, {"777", 8, 0o777, true},
		{"8", 8, 0, false}, {"2147483647", 10, 2147483647, true}, {"2147483648", 10, 0, false},
	}
	for _, tc := range tests {
		n, ok := qtInt(tc.s, tc.base)
		if n != tc.n || ok != tc.ok {
			t.Errorf("qtInt(%q,%d) = %d,%v want %d,%v", tc.s, tc.base, n, ok, tc.n, tc.ok)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 50; i++ {
		sb.WriteString("*,path_beg=/p")
		sb.WriteString(strings.Repeat("x", i))
		sb.WriteString(" 127.0.0.1:80\n")
	}
	sb.WriteString("* test\n")
	tab, _, err := Parse(strings.NewReader(sb.String()), "routes")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if tab.Match("host", "/pxxxxx/y", false, false) == nil {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParseLine(b *testing.B) {
	line := `*,proto=ws,path_beg=/ws,id=ws,header="X-A: b" 127.0.0.1:8000,over_http,sub=news 127.0.0.1:8001,ssl`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
}
