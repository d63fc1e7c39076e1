//go:build e2e

package handler

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

// TestControlAPI compares the HTTP control API's answers to good and bad
// requests.
func TestControlAPI(t *testing.T) {
	res := results{}
	cases := []struct {
		method, path, body string
		headers            []string
	}{
		{"GET", "/", "", nil},
		{"GET", "/publish/", "", nil},
		{"POST", "/publish/", "not json", nil},
		{"POST", "/publish/", "[1]", nil},
		{"POST", "/publish/", `{"foo":1}`, nil},
		{"POST", "/publish/", `{"items":{}}`, nil},
		{"POST", "/publish/", `{"items":[{"formats":{"http-stream":{"content":"x"}}}]}`, nil},
		{"POST", "/publish/", `{"items":[{"channel":"a"}]}`, nil},
		{"POST", "/publish/", `{"items":[{"channel":"a","formats":{"ws-message":{"type":"bogus","content":"x"}}}]}`, nil},
		{"POST", "/publish/", `{"items":[{"channel":"a","formats":{"http-stream":{"content":"x"}}}]}`, nil},
		{"POST", "/publish", `{"items":[{"channel":"a","formats":{"http-stream":{"content":"x"}}}]}`, []string{"Accept", "application/json"}},
		{"POST", "/publish/", `{"items":[]}`, []string{"Accept", "image/png"}},
		{"POST", "/recover", ``, nil},
		{"GET", "/nope", "", nil},
	}
	both(t, nil, func(t *testing.T, e *env) {
		var out []string
		for _, c := range cases {
			req := harness.NewRequest(t, c.method, e.ControlURL()+c.path, []byte(c.body), c.headers...)
			r, err := harness.DoErr(req, 5*time.Second)
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.path, err)
			}
			body := strings.Replace(string(r.Body), " (item 0)", "", 1) // our addition
			out = append(out, fmt.Sprintf("%d %s %q allow=%q", r.Status, r.Header.Get("Content-Type"), body, r.Header.Get("Allow")))
		}
		// No Content-Length: raw request.
		raw, err := harness.RawHTTP(strings.TrimPrefix(e.ControlURL(), "http://"), "POST /publish/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5*time.Second)
		if err != nil {
			t.Fatalf("raw: %v", err)
		}
		first, _, _ := strings.Cut(string(raw), "\r\n")
		out = append(out, first)
		res[implName(t)] = strings.Join(out, "\n")
		_ = http.StatusOK
	})
	res.check(t)
}
