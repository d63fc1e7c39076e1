package routes

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary routes files to Parse and checks the table's
// invariants: every route has at least one target, every matched route
// belongs to the table, and lines round-trip through SplitLine without
// panics.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../deploy/routes", "/etc/pushpin/routes"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	for _, s := range []string{
		"* test",
		"example.com 192.168.1.100:80\n*,path_beg=/api,id=api 10.0.0.5:8080,ssl,host=api.internal 10.0.0.6:8080,ssl",
		"*,proto=ws,path_beg=/ws 127.0.0.1:8000,over_http,sub=news",
		"*,path_beg=/z zhttp/ipc:///var/run/myapp/handler",
		`*,header="X-A: \"q\" \\",prefix="a b,c#d" test # c`,
		"id=x test\n  id=y test\n* a:1,\n\"unterminated",
		"*,ssl=yes,proto=http,jsonp_mode=basic,sig_key=base64:aGk= zhttpreq/tcp://127.0.0.1:1,ipc_file_mode=777\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tab, _, _ := Parse(strings.NewReader(src), "fuzz")
		if tab == nil {
			t.Fatal("nil table without a read error")
		}
		in := make(map[*Route]bool)
		for _, r := range tab.Routes() {
			in[r] = true
			if len(r.Targets) == 0 {
				t.Fatalf("route without targets: %+v", r)
			}
			if r.ID == "" {
				t.Fatalf("file route without id: %+v", r)
			}
			if got := tab.ByID(r.ID); got != nil && got.ID != r.ID {
				t.Fatalf("ByID(%q) returned id %q", r.ID, got.ID)
			}
		}
		for _, r := range tab.Routes() {
			for _, ws := range []bool{false, true} {
				m := tab.Match(r.Domain, r.PathBeg, ws, ws)
				if m != nil && !in[m] {
					t.Fatal("Match returned a route not in the table")
				}
			}
		}
		for _, line := range strings.Split(src, "\n") {
			_, _ = SplitLine(line)
		}
	})
}
