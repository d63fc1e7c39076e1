//go:build e2e

// Package handler holds the end-to-end interop tests of our handler: every
// scenario runs twice, once with Debian's pushpin-handler and once with ours,
// behind Debian's condure, pushpin-proxy and zurl, and the client-visible
// results must be the same.
package handler

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushpin-go/pushpin/test/harness"
)

// wait bounds single expectations.
const wait = 10 * time.Second

// impls are the handler implementations compared.
var impls = []struct {
	name string
	impl harness.Impl
}{
	{"debian", harness.Debian},
	{"ours", harness.Ours},
}

// env is one running stack plus its origin.
type env struct {
	*harness.Instance
	origin *harness.Origin
}

// both runs fn against a stack with Debian's handler and one with ours.
func both(t *testing.T, configure func(*harness.Config), fn func(t *testing.T, e *env)) {
	bothRoutes(t, nil, configure, fn)
}

// bothRoutes is both with a routes file built from the origin (nil: every
// request goes to the origin).
func bothRoutes(t *testing.T, routes func(o *harness.Origin) []string, configure func(*harness.Config), fn func(t *testing.T, e *env)) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			harness.RequireDebian(t, harness.Condure, harness.Proxy, harness.Zurl)
			o := harness.NewOrigin(t)
			r := []string{"* " + o.Target()}
			if routes != nil {
				r = routes(o)
			}
			st := harness.Stack{
				Condure: harness.Debian, Zurl: harness.Debian, Proxy: harness.Debian, Handler: im.impl,
				Routes:    r,
				Configure: configure,
			}
			in := st.Start(t)
			fn(t, &env{Instance: in, origin: o})
		})
	}
}

// results collects what each implementation produced, to compare at the end.
type results map[string]string

func (r results) check(t *testing.T) {
	t.Helper()
	if len(r) != 2 {
		return
	}
	if r["debian"] != r["ours"] {
		t.Errorf("results differ:\ndebian: %q\nours:   %q", r["debian"], r["ours"])
	}
}

func implName(t *testing.T) string {
	n := t.Name()
	return n[strings.LastIndex(n, "/")+1:]
}

func get(t *testing.T, url string, headers ...string) *harness.Response {
	t.Helper()
	return harness.Do(t, harness.NewRequest(t, http.MethodGet, url, nil, headers...))
}
