package engine

import (
	"net/url"
	"strings"

	"github.com/pushpin-go/pushpin/pkg/routes"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// The built-in "test" target (Pushpin's TestHttpHandler): a tiny origin
// inside the proxy whose responses go through the same relay / GRIP path as
// a real origin's, so "/response" and "/stream" are handed to the handler.

// testPath is the request path with the route's path_beg removed, as
// Pushpin strips it for the test target.
func testPath(u *url.URL, r *routes.Route) string {
	p := u.Path
	if r != nil && r.PathBeg != "" && strings.HasPrefix(p, r.PathBeg) {
		p = p[len(r.PathBeg):]
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
	}
	return p
}

// testChannels is the channel list of ?channel= (default "test").
func testChannels(u *url.URL) []string {
	chans := u.Query()["channel"]
	if len(chans) == 0 {
		return []string{"test"}
	}
	return chans
}

func testHTTPResponse(method string, u *url.URL, r *routes.Route) *originResponse {
	text := []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}}
	switch testPath(u, r) {
	case "/":
		return &originResponse{code: 200, reason: "OK", headers: text, body: []byte("Hello from the Pushpin test handler!\n")}
	case "/response":
		return &originResponse{code: 200, reason: "OK", headers: append(text,
			zhttp.Header{Name: "Grip-Hold", Value: "response"},
			zhttp.Header{Name: "Grip-Channel", Value: strings.Join(testChannels(u), ", ")}),
			body: []byte("nothing for now\n")}
	case "/stream":
		return &originResponse{code: 200, reason: "OK", headers: append(text,
			zhttp.Header{Name: "Grip-Hold", Value: "stream"},
			zhttp.Header{Name: "Grip-Channel", Value: strings.Join(testChannels(u), ", ")}),
			body: []byte("[stream opened]\n")}
	}
	return &originResponse{code: 404, reason: "Not Found", headers: text, body: []byte("no such test resource\n")}
}

// pushpinCheckText answers a request carrying Pushpin-Check: the licence
// notice Pushpin is required to show (AGPL), byte for byte as 1.36 sends it.
const pushpinCheckText = `Copyright (C) 2012-2017 Fanout, Inc.

Pushpin is free software: you can redistribute it and/or modify it under
the terms of the GNU Affero General Public License as published by the Free
Software Foundation, either version 3 of the License, or (at your option)
any later version.

Pushpin is distributed in the hope that it will be useful, but WITHOUT ANY
WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS
FOR A PARTICULAR PURPOSE. See the GNU Affero General Public License for
more details.

You should have received a copy of the GNU Affero General Public License
along with this program. If not, see <http://www.gnu.org/licenses/>.

`
