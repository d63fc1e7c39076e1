// Package policy is zurl's outbound access policy: the defpolicy, allow and
// deny keys of zurl.conf, checked against the URI host, the connect-host and
// every address a name resolves to (the SSRF guard).
//
// The invariant: a request is refused if any one of the names or addresses
// it would touch is refused, so an allowed name that resolves to a denied
// address never gets connected to.
package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Default is the policy applied to a host no list mentions.
type Default int

// Default policies (zurl.conf defpolicy).
const (
	Allow Default = iota
	Deny
)

// ParseDefault parses a defpolicy value. zurl accepts exactly "allow" or
// "deny".
func ParseDefault(s string) (Default, error) {
	switch s {
	case "allow":
		return Allow, nil
	case "deny":
		return Deny, nil
	}
	return 0, fmt.Errorf("defpolicy must be set to \"allow\" or \"deny\", not %q", s)
}

// Policy decides whether a host name or address may be contacted.
type Policy struct {
	Default Default
	allow   []rule
	deny    []rule
}

// rule is one allow/deny expression: an exact name (case-insensitive), a
// pattern with a single '*' (prefix*suffix, case-insensitive), or a CIDR
// range that applies to IP literals.
type rule struct {
	exp    string
	prefix netip.Prefix // valid for CIDR rules
	star   int          // index of '*', or -1
}

// New builds a policy. Empty expressions are ignored, as zurl drops empty
// list elements.
func New(def Default, allow, deny []string) *Policy {
	return &Policy{Default: def, allow: compile(allow), deny: compile(deny)}
}

func compile(exps []string) []rule {
	var rs []rule
	for _, e := range exps {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		r := rule{exp: e, star: strings.IndexByte(e, '*')}
		if strings.IndexByte(e, '/') >= 0 {
			if p, err := netip.ParsePrefix(e); err == nil {
				r.prefix = p.Masked()
			}
		}
		rs = append(rs, r)
	}
	return rs
}

// match mirrors zurl's matchExp: for an IP literal and a CIDR expression the
// subnet decides; otherwise a single '*' splits the expression into a prefix
// and a suffix that must both match; otherwise the whole string must match.
// All name comparisons are case-insensitive.
func (r rule) match(s string) bool {
	if r.prefix.IsValid() {
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			if a.Is4() != r.prefix.Addr().Is4() {
				return false
			}
			return r.prefix.Contains(a)
		}
	}
	if r.star >= 0 {
		// zurl tests startsWith(prefix) && endsWith(suffix) independently,
		// so the two may overlap ("ab*ba" matches "aba"); we keep that.
		start, end := r.exp[:r.star], r.exp[r.star+1:]
		return len(s) >= len(start) && len(s) >= len(end) &&
			strings.EqualFold(s[:len(start)], start) &&
			strings.EqualFold(s[len(s)-len(end):], end)
	}
	return strings.EqualFold(s, r.exp)
}

func matchAny(rs []rule, s string) bool {
	for _, r := range rs {
		if r.match(s) {
			return true
		}
	}
	return false
}

// Allowed reports whether s (a host name or an IP address in text form)
// may be contacted. With the allow default a host is allowed unless denied,
// and an allow entry overrides a deny; with the deny default it must be
// allowed and not denied.
func (p *Policy) Allowed(s string) bool {
	if p == nil {
		return true
	}
	// IPv6 literals arrive bracketed from URIs; policies see the bare
	// address as zurl's QUrl::host() does.
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if p.Default == Allow {
		return !matchAny(p.deny, s) || matchAny(p.allow, s)
	}
	return matchAny(p.allow, s) && !matchAny(p.deny, s)
}

// AllowedAddr reports whether an address may be contacted. zurl formats
// addresses with QHostAddress::toString, which for IPv4-mapped IPv6 gives
// the mapped form; we check the unmapped address, which is what a
// "127.*" style rule is meant to catch.
func (p *Policy) AllowedAddr(a netip.Addr) bool {
	return p.Allowed(a.Unmap().String())
}
