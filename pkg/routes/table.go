package routes

import "strings"

// Table is a set of routes with Pushpin's lookups by host and by id. A
// Table is not changed by lookups; build a new one to reload (Pushpin swaps
// its whole map on reload too). Concurrent lookups are safe once building
// is done.
type Table struct {
	all      []*Route
	byDomain map[string][]*Route // "*" holds the wildcard rules
	byID     map[string]*Route   // nil value: id given to several routes
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{byDomain: make(map[string][]*Route), byID: make(map[string]*Route)}
}

// Add adds r like Pushpin's addRule: a route needs a domain or an id
// (ErrNoDomainOrID); a route whose domain already has a rule with the same
// proto, ssl and path_beg is refused (ErrDuplicateCondition) and changes
// nothing. An id given to several routes becomes unusable for ByID (the
// routes still match by host).
func (t *Table) Add(r *Route) error {
	if r.Domain == "" && r.ID == "" {
		return ErrNoDomainOrID
	}
	if r.Domain != "" {
		for _, o := range t.byDomain[r.Domain] {
			if o.sameCondition(r) {
				return ErrDuplicateCondition
			}
		}
	}
	if r.ID != "" {
		if _, seen := t.byID[r.ID]; seen {
			t.byID[r.ID] = nil
		} else {
			t.byID[r.ID] = r
		}
	}
	t.all = append(t.all, r)
	if r.Domain != "" {
		t.byDomain[r.Domain] = append(t.byDomain[r.Domain], r)
	}
	return nil
}

// AddLine parses line with ParseLine and adds it, as pushpin-proxy does
// for each --route argument (no default id). A blank line is ignored.
func (t *Table) AddLine(line string) error {
	r, err := ParseLine(line)
	if err != nil || r == nil {
		return err
	}
	return t.Add(r)
}

func (t *Table) hasID(id string) bool {
	_, ok := t.byID[id]
	return ok
}

// Routes returns every route in the order added.
func (t *Table) Routes() []*Route { return t.all }

// Len returns the number of routes.
func (t *Table) Len() int { return len(t.all) }

// ByID returns the route with the given id, or nil when there is none or
// when several routes share the id.
func (t *Table) ByID(id string) *Route { return t.byID[id] }

// Match returns the route for a request, or nil (Pushpin then answers
// 502 "No route for host: <host>"). host is the request's host without
// port, compared exactly; path is the encoded request path; ws and tls
// describe the client connection.
//
// Rules for host are used when the table has any; otherwise the "*" rules.
// Going through those rules in order, the first match becomes the best, and
// a later matching rule replaces it when it is more specific by Pushpin's
// test: having proto when the best has none wins (and lacking it when the
// best has it loses); otherwise a longer path_beg wins; otherwise having
// ssl when the best has none wins. The test is pairwise, so a rule with ssl
// and a shorter path_beg can replace one with a longer path_beg and no ssl.
func (t *Table) Match(host, path string, ws, tls bool) *Route {
	rules, ok := t.byDomain[host]
	if !ok {
		rules = t.byDomain["*"]
	}
	var best *Route
	for _, r := range rules {
		if !r.matches(path, ws, tls) {
			continue
		}
		if best == nil || r.moreSpecificThan(best) {
			best = r
		}
	}
	return best
}

func (r *Route) matches(path string, ws, tls bool) bool {
	switch r.Proto {
	case ProtoHTTP:
		if ws {
			return false
		}
	case ProtoWS:
		if !ws {
			return false
		}
	}
	switch r.SSL {
	case SSLNo:
		if tls {
			return false
		}
	case SSLYes:
		if !tls {
			return false
		}
	}
	return strings.HasPrefix(path, r.PathBeg)
}

// moreSpecificThan is Pushpin's isMoreSpecificMatch for a rule already
// known to match.
func (r *Route) moreSpecificThan(o *Route) bool {
	if o.Proto == ProtoAny && r.Proto != ProtoAny {
		return true
	}
	if o.Proto != ProtoAny && r.Proto == ProtoAny {
		return false
	}
	if len(r.PathBeg) > len(o.PathBeg) {
		return true
	}
	return o.SSL == SSLAny && r.SSL != SSLAny
}

// ZhttpRoutes returns the distinct custom ZHTTP targets of all routes, in
// order of first appearance: the proxy binds sockets for each. Targets
// with an empty spec are left out, as Pushpin does.
func (t *Table) ZhttpRoutes() []ZhttpRoute {
	var out []ZhttpRoute
	seen := make(map[ZhttpRoute]bool)
	for _, r := range t.all {
		for _, tg := range r.Targets {
			if tg.Type == TargetCustom && tg.Zhttp.BaseSpec != "" && !seen[tg.Zhttp] {
				seen[tg.Zhttp] = true
				out = append(out, tg.Zhttp)
			}
		}
	}
	return out
}
