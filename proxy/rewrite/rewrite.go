// Package rewrite turns a client's request into the request pushpin-proxy
// sends to the origin (reference §5.1, Pushpin's src/proxy/proxyutil.cpp):
// which headers are dropped, which GRIP headers are added, how
// X-Forwarded-For/Proto are written, and how route options rewrite the URI.
//
// Everything here is a pure function of its inputs so that the rules can be
// table-tested; the caller supplies the signed Grip-Sig token and the
// trust decision.
package rewrite

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/pushpin-go/pushpin/pkg/routes"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Header is one HTTP header.
type Header = zhttp.Header

// GripFeature is the exact Grip-Feature value Pushpin 1.36 sends.
const GripFeature = "status, session, link:next, filter:skip-self, filter:skip-users, filter:require-sub, filter:build-id, filter:var-subst"

// OrigHeaderPrefix marks copies of the client's headers (route orig_headers).
const OrigHeaderPrefix = "eb9bf0f5-"

// hopByHop are the request headers whose meaning the proxy handles itself,
// so they are never relayed to the origin.
var hopByHop = []string{"Connection", "Keep-Alive", "Accept-Encoding", "Content-Encoding", "Transfer-Encoding", "Expect"}

// XFFRule is an x_forwarded_for rule: keep at most Truncate existing values
// (-1 = all) and optionally append the peer address.
type XFFRule struct {
	Truncate int
	Append   bool
}

// Options says how to rewrite one request.
type Options struct {
	// Trusted: the client proved itself with a valid Grip-Sig for
	// upstream_key; its headers pass through and no GRIP headers are added.
	Trusted bool
	// Internal: the request came from the handler (intreq passthrough);
	// its Grip-* headers (Grip-Last) are kept.
	Internal bool
	// Grip: the route has GRIP enabled (no no_grip).
	Grip bool
	// WebSocket: the request opens a WebSocket.
	WebSocket bool
	// Scheme is the client's scheme after accept_x_forwarded_protocol:
	// http, https, ws or wss.
	Scheme string
	// PeerAddress is the client's IP address.
	PeerAddress string

	// AcceptXFProto, SetXFProto, SetXFProtocol mirror
	// accept_x_forwarded_protocol and set_x_forwarded_protocol.
	AcceptXFProto, SetXFProto, SetXFProtocol bool
	// XFF and XFFTrusted are x_forwarded_for and x_forwarded_for_trusted.
	XFF, XFFTrusted XFFRule
	// AcceptPushpinRoute strips the Pushpin-Route header.
	AcceptPushpinRoute bool

	// GripSig is the signed token ("" = no Grip-Sig, e.g. no key).
	GripSig string
	// SessionID is sent as Grip-Session-Id when set (state service).
	SessionID string
	// LastIDs are sent as Grip-Last headers (retries).
	LastIDs map[string]string

	// OrigHeaders copies client headers to eb9bf0f5-<name>; NeedMark lists
	// header names that only count when the client already marked them.
	OrigHeaders bool
	NeedMark    []string
	// RouteHeaders are the route's header= props.
	RouteHeaders []routes.Header
}

// Secure reports whether scheme is https or wss.
func Secure(scheme string) bool { return scheme == "https" || scheme == "wss" }

// OriginHeaders returns the headers to send to the origin for a client
// request with headers in.
func OriginHeaders(in []Header, o Options) []Header {
	out := make([]Header, 0, len(in)+6)
	for _, h := range in {
		if o.AcceptPushpinRoute && strings.EqualFold(h.Name, "Pushpin-Route") {
			continue
		}
		// Client GRIP headers would let anyone impersonate the origin's
		// upstream; only trusted clients and the handler may send them.
		if !o.Trusted && !o.Internal && hasPrefixFold(h.Name, "Grip-") {
			continue
		}
		if isOneOf(h.Name, hopByHop) {
			continue
		}
		if o.WebSocket && strings.EqualFold(h.Name, "Sec-WebSocket-Extensions") {
			continue
		}
		if (o.AcceptXFProto || o.SetXFProto || o.SetXFProtocol) &&
			(strings.EqualFold(h.Name, "X-Forwarded-Proto") || strings.EqualFold(h.Name, "X-Forwarded-Protocol")) {
			continue
		}
		if strings.EqualFold(h.Name, "X-Forwarded-For") {
			continue // rewritten below
		}
		out = append(out, h)
	}

	if o.WebSocket && o.Grip && !o.Trusted {
		out = append(out, Header{Name: "Sec-WebSocket-Extensions", Value: "grip"})
	}

	if !o.Trusted && o.Grip {
		if o.GripSig != "" {
			out = append(out, Header{Name: "Grip-Sig", Value: o.GripSig})
		}
		out = append(out, Header{Name: "Grip-Feature", Value: GripFeature})
		if o.SessionID != "" {
			out = append(out, Header{Name: "Grip-Session-Id", Value: o.SessionID})
		}
		if len(o.LastIDs) > 0 {
			chans := make([]string, 0, len(o.LastIDs))
			for c := range o.LastIDs {
				chans = append(chans, c)
			}
			sort.Strings(chans)
			for _, c := range chans {
				out = append(out, Header{Name: "Grip-Last", Value: c + "; last-id=" + o.LastIDs[c]})
			}
		}
	}

	if Secure(o.Scheme) {
		if o.SetXFProto {
			out = append(out, Header{Name: "X-Forwarded-Proto", Value: o.Scheme})
		}
		if o.SetXFProtocol {
			out = append(out, Header{Name: "X-Forwarded-Protocol", Value: o.Scheme})
		}
	}

	rule := o.XFF
	if o.Trusted {
		rule = o.XFFTrusted
	}
	xff := XFFValues(in)
	if rule.Truncate >= 0 && len(xff) > rule.Truncate {
		xff = xff[len(xff)-rule.Truncate:]
	}
	if rule.Append && o.PeerAddress != "" {
		xff = append(xff, o.PeerAddress)
	}
	if len(xff) > 0 {
		out = append(out, Header{Name: "X-Forwarded-For", Value: strings.Join(xff, ", ")})
	}

	if o.OrigHeaders {
		out = addOrigHeaders(out, in, o.NeedMark)
	}
	for _, rh := range o.RouteHeaders {
		out = removeAll(out, rh.Name)
		if rh.Value != "" {
			out = append(out, Header{Name: rh.Name, Value: rh.Value})
		}
	}
	return out
}

// addOrigHeaders copies every client header to eb9bf0f5-<name>. Headers the
// client already marked are kept as they are, except that a marked header
// named in needMark is the only way such a header counts (an unmarked one is
// not copied).
func addOrigHeaders(out, in []Header, needMark []string) []Header {
	for _, h := range in {
		if hasPrefixFold(h.Name, OrigHeaderPrefix) {
			continue // already in out, kept as the client sent it
		}
		if isOneOf(h.Name, needMark) {
			continue
		}
		out = append(out, Header{Name: OrigHeaderPrefix + h.Name, Value: h.Value})
	}
	return out
}

// XFFValues returns the X-Forwarded-For entries of headers, in order, split
// on commas and trimmed.
func XFFValues(headers []Header) []string {
	var vals []string
	for _, h := range headers {
		if !strings.EqualFold(h.Name, "X-Forwarded-For") {
			continue
		}
		for _, v := range strings.Split(h.Value, ",") {
			if v = strings.TrimSpace(v); v != "" {
				vals = append(vals, v)
			}
		}
	}
	return vals
}

// LogicalPeerAddress is the client address stats, logs and accept use:
// the first X-Forwarded-For entry when the rule does not discard them all
// (Pushpin 1.36 behaviour, verified: a client's "X-Forwarded-For: 1.2.3.4"
// becomes the logical address with the default rule), else the peer.
func LogicalPeerAddress(headers []Header, rule XFFRule, peer string) string {
	if rule.Truncate == 0 {
		return peer
	}
	vals := XFFValues(headers)
	if len(vals) > 0 && net.ParseIP(vals[0]) != nil {
		return vals[0]
	}
	return peer
}

// ClientScheme returns the scheme the client used: uriScheme from the
// request URI, upgraded to https/wss when accept_x_forwarded_protocol is on
// and the client says X-Forwarded-Proto(col) https or wss.
func ClientScheme(uriScheme string, headers []Header, acceptXFProto bool) string {
	if !acceptXFProto || Secure(uriScheme) {
		return uriScheme
	}
	for _, h := range headers {
		if strings.EqualFold(h.Name, "X-Forwarded-Proto") || strings.EqualFold(h.Name, "X-Forwarded-Protocol") {
			v := strings.ToLower(strings.TrimSpace(h.Value))
			if v == "https" || v == "wss" {
				if uriScheme == "ws" {
					return "wss"
				}
				return "https"
			}
		}
	}
	return uriScheme
}

// Path applies a route's path_rem and replace_beg to an encoded path
// (path plus query).
func Path(path string, r *routes.Route) string {
	if r == nil {
		return path
	}
	if r.PathRemove > 0 {
		if r.PathRemove >= len(path) {
			path = ""
		} else {
			path = path[r.PathRemove:]
		}
	}
	if r.PathPrepend != "" {
		path = r.PathPrepend + path
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	return path
}

// HostPort splits "host[:port]" as the as_host and host= props give it;
// port is 0 when not given.
func HostPort(s string) (host string, port int) {
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i+1:], "]") {
		if p, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i], p
		}
	}
	return s, 0
}

// RemoveAll returns headers without any header named name.
func RemoveAll(headers []Header, name string) []Header { return removeAll(headers, name) }

func removeAll(headers []Header, name string) []Header {
	out := headers[:0:0]
	for _, h := range headers {
		if !strings.EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}

func isOneOf(name string, set []string) bool {
	for _, s := range set {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
