package handoff

import (
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Passthrough is the "passthrough" field of the ZHTTP requests the handler
// sends to the proxy's internal (intreq) sockets to fetch Grip-Link next
// links (reference §4.6). Its presence tells the proxy the request comes
// from the handler, so client Grip headers are not stripped.
type Passthrough struct {
	// Route is the route id of the original request; the handler always
	// sends it (possibly empty).
	Route string
	// PreferInternal: the link has the current request's scheme, host and
	// port, so the proxy routes it through the routes table by Route;
	// otherwise it builds a direct target from the URI, keeping only the
	// original route's signing settings.
	PreferInternal bool
	// Trusted: bypass zurl policies, as for a trusted target.
	Trusted bool
	// AutoShare: inspect the request with auto-share so identical next-link
	// fetches are coalesced. The handler always writes it, true or false.
	AutoShare bool
}

// Value returns the dict as the handler writes it: route and auto-share
// always, prefer-internal and trusted when true.
func (p Passthrough) Value() tnetstring.Value {
	v := tnetstring.D("route", tnetstring.S(p.Route))
	setTrue(&v, "prefer-internal", p.PreferInternal)
	setTrue(&v, "trusted", p.Trusted)
	v.Set("auto-share", tnetstring.T(p.AutoShare))
	return v
}

// ParsePassthrough reads a passthrough value (zhttp.Packet.Passthrough). It
// must be a dict; route, when present, a string and the flags bools. The
// proxy itself reads these leniently (a wrong type reads as empty/false);
// type errors here point at a peer bug worth logging.
func ParsePassthrough(v tnetstring.Value) (Passthrough, error) {
	o, err := topObj("passthrough", v)
	if err != nil {
		return Passthrough{}, err
	}
	var p Passthrough
	if p.Route, err = o.str("route", false); err != nil {
		return Passthrough{}, err
	}
	if p.PreferInternal, err = o.boolean("prefer-internal"); err != nil {
		return Passthrough{}, err
	}
	if p.Trusted, err = o.boolean("trusted"); err != nil {
		return Passthrough{}, err
	}
	if p.AutoShare, err = o.boolean("auto-share"); err != nil {
		return Passthrough{}, err
	}
	return p, nil
}
