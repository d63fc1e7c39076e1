package engine

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pushpin-go/pushpin/protocol/publish"
)

// Filters (reference §5.6; source handler/filter.cpp). Delivery filters
// decide whether a subscriber gets an item; content filters rewrite the
// content for that subscriber.

// sessionView is what filters need from a session.
type sessionView interface {
	meta() map[string]string
	subscribed(channel string) bool
	prevIDs() map[string]string
}

func (st *state) allowed(sub *subscription, it *publish.Item) bool {
	if len(sub.filters) == 0 {
		return true
	}
	sv := sub.view()
	for _, f := range sub.filters {
		if !deliveryFilter(f, sv, it.Meta) {
			return false
		}
	}
	return true
}

func (sub *subscription) view() sessionView {
	if sub.hs != nil {
		return sub.hs
	}
	return sub.ws
}

// deliveryFilter applies one delivery filter; unknown names and content
// filters pass.
func deliveryFilter(name string, sv sessionView, pubMeta map[string]string) bool {
	switch name {
	case publish.FilterSkipSelf:
		user := sv.meta()["user"]
		return user == "" || user != pubMeta["sender"]
	case publish.FilterSkipUsers:
		user := sv.meta()["user"]
		if user == "" {
			return true
		}
		for _, u := range strings.Split(pubMeta["skip_users"], ",") {
			if strings.TrimSpace(u) == user {
				return false
			}
		}
		return true
	case publish.FilterRequireSub:
		req := pubMeta["require_sub"]
		return req == "" || sv.subscribed(req)
	}
	return true
}

// contentFilterNames returns the content filters among a subscription's
// filters, in order (compared with a format's content-filters).
func contentFilterNames(filters []string) []string {
	var out []string
	for _, f := range filters {
		if f == publish.FilterBuildID || f == publish.FilterVarSubst {
			out = append(out, f)
		}
	}
	return out
}

// errContentFilters: the item's content-filters do not match the
// subscription's.
var errContentFilters = errors.New("content filters mismatch")

// filterContent applies the subscription's content filters to data. want
// is the format's content-filters (nil = no check).
func filterContent(sub *subscription, want []string, data []byte) ([]byte, error) {
	have := contentFilterNames(sub.filters)
	if want != nil && !slices.Equal(want, have) {
		return nil, errContentFilters
	}
	if len(have) == 0 {
		return data, nil
	}
	sv := sub.view()
	var err error
	for _, f := range have {
		switch f {
		case publish.FilterBuildID:
			data, err = buildID(sv, data)
		case publish.FilterVarSubst:
			data, err = varSubst(sv.meta(), data)
		}
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

// varSubst replaces %(name)s with the subscription meta value; an unknown
// name is an error, as in Pushpin.
func varSubst(meta map[string]string, data []byte) ([]byte, error) {
	if !bytes.Contains(data, []byte("%(")) {
		return data, nil
	}
	var out []byte
	for i := 0; i < len(data); i++ {
		if data[i] == '%' && i+1 < len(data) && data[i+1] == '(' {
			end := bytes.Index(data[i+2:], []byte(")s"))
			if end < 0 {
				return nil, fmt.Errorf("var-subst: unterminated variable")
			}
			name := string(data[i+2 : i+2+end])
			v, ok := meta[name]
			if !ok {
				return nil, fmt.Errorf("var-subst: no such variable %q", name)
			}
			out = append(out, v...)
			i += 2 + end + 1
			continue
		}
		out = append(out, data[i])
	}
	return out, nil
}

// buildID renders the build-id content directives: %I is the default id
// (from the subscription meta id_format with %(channel)s bound to each
// channel's prev-id, hex-encoded if id_encoding=hex), %(X)I renders the
// literal X with the same encoding, %% is a literal %.
func buildID(sv sessionView, data []byte) ([]byte, error) {
	meta := sv.meta()
	hexEnc := meta["id_encoding"] == "hex"
	enc := func(s string) []byte {
		if hexEnc {
			return []byte(hex.EncodeToString([]byte(s)))
		}
		return []byte(s)
	}
	defID := ""
	if f, ok := meta["id_format"]; ok {
		r, err := varSubst(sv.prevIDs(), []byte(f))
		if err != nil {
			return nil, fmt.Errorf("build-id: %w", err)
		}
		defID = string(r)
	}
	var out []byte
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '%' || i+1 >= len(data) {
			out = append(out, c)
			continue
		}
		switch data[i+1] {
		case '%':
			out = append(out, '%')
			i++
		case 'I':
			out = append(out, enc(defID)...)
			i++
		case '(':
			end := bytes.Index(data[i+2:], []byte(")I"))
			if end < 0 {
				return nil, fmt.Errorf("build-id: unterminated directive")
			}
			out = append(out, enc(string(data[i+2:i+2+end]))...)
			i += 2 + end + 1
		default:
			return nil, fmt.Errorf("build-id: unknown directive %%%c", data[i+1])
		}
	}
	return out, nil
}
