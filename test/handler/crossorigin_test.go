//go:build e2e

package handler

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pushpin-go/pushpin/test/harness"
)

// TestAutoCrossOrigin: on a route with aco, held responses get CORS
// headers, or, for a JSON-P request (?callback=), are wrapped for the
// callback; published and timeout responses alike; stream holds are left
// alone (reference §5.9).
func TestAutoCrossOrigin(t *testing.T) {
	res := results{}
	routes := func(o *harness.Origin) []string { return []string{"*,aco " + o.Target()} }
	bothRoutes(t, routes, nil, func(t *testing.T, e *env) {
		for _, ch := range []string{"p1", "p2", "t1", "t2"} {
			e.origin.Handle("/"+ch, harness.GripHold("response", ch, "application/json", "{\"a\":\"<&>\"}\n",
				"X-Foo", "bar", "Grip-Timeout", "5"))
		}
		e.origin.Handle("/s", harness.GripHold("stream", "s", "text/plain", "start\n", "X-Foo", "bar"))

		var mu sync.Mutex
		out := map[string]string{}
		var wg sync.WaitGroup
		request := func(name, path string, headers ...string) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := harness.DoErr(harness.NewRequest(t, http.MethodGet, e.HTTPURL()+path, nil, headers...), 2*wait)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					out[name] = "error"
					return
				}
				out[name] = describe(r)
			}()
		}
		// Timeouts (5 s minimum) run while the published cases go.
		request("timeout jsonp", "/t1?callback=cb")
		request("timeout cors", "/t2", "Origin", "http://o.example", "Access-Control-Request-Headers", "X-Req",
			"Access-Control-Request-Method", "PUT")
		request("published cors", "/p1", "Origin", "http://o.example")
		request("published jsonp", "/p2?callback=cb&_x=1")
		waitSubscribedAll(t, e, "p1", "p2", "t1", "t2")
		for _, ch := range []string{"p1", "p2"} {
			harness.Publish(t, e.ControlURL(), map[string]any{"channel": ch, "formats": map[string]any{
				"http-response": map[string]any{"code": 201, "headers": map[string]string{"X-P": "p"}, "body": "pub <&>\n"}}})
		}
		s := harness.OpenStream(t, harness.NewRequest(t, http.MethodGet, e.HTTPURL()+"/s?callback=cb", nil, "Origin", "http://o.example"))
		e.Stats.WaitSubscribed(t, "s", wait)
		harness.Publish(t, e.ControlURL(), harness.HTTPStreamItem("s", "x\n"))
		got, err := s.ReadUntil("x\n", wait)
		out["stream"] = fmt.Sprintf("%s %q %v", describeHeader(s.Resp.Header), got, err)
		s.Close()
		wg.Wait()

		names := make([]string, 0, len(out))
		for n := range out {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "%s: %s\n", n, out[n])
		}
		res[implName(t)] = b.String()
		t.Logf("\n%s", res[implName(t)])
	})
	res.check(t)
}

var jsonDate = regexp.MustCompile(`"Date":"[^"]*"`)

// describe renders a response without its Date values.
func describe(r *harness.Response) string {
	return fmt.Sprintf("%d %s %q", r.Status, describeHeader(r.Header), jsonDate.ReplaceAllString(string(r.Body), `"Date":"-"`))
}

func describeHeader(h http.Header) string {
	var parts []string
	for k, vs := range h {
		if k == "Date" {
			continue
		}
		parts = append(parts, k+"="+strings.Join(vs, "|"))
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, " ") + "]"
}
