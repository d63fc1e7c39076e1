package publish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ApplyPatch applies a JSON Patch (RFC 6902: add, remove, replace, move,
// copy, test) to doc and returns the result re-serialised compactly, the way
// Pushpin answers a response hold with an http-response "body-patch" (§5.9,
// src/handler/httpsession.cpp applyBodyPatch):
//
//   - doc (the instruct response body) must be a JSON object or array;
//   - the operations apply in order and the first failure fails the patch;
//   - the output is compact with object keys sorted (Qt's QJsonObject keeps
//     keys sorted, so Pushpin's output is too);
//   - a trailing "\r\n" or "\n" on doc is appended to the output.
//
// Where we differ from Pushpin, on purpose: numbers keep their original
// text (Qt round-trips them through doubles, so 1.0 becomes 1 and integers
// beyond 2^53 lose precision), and a failure is returned as an error; Pushpin
// logs it and responds with an empty body, which the caller may still do.
func ApplyPatch(doc, patch []byte) ([]byte, error) {
	root, err := decodeJSONDoc(doc)
	if err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	switch root.(type) {
	case map[string]any, []any:
	default:
		return nil, errors.New("body is not a JSON object or array")
	}
	pv, err := decodeJSONDoc(patch)
	if err != nil {
		return nil, fmt.Errorf("patch is not JSON: %w", err)
	}
	ops, ok := pv.([]any)
	if !ok {
		return nil, errors.New("patch is not a JSON array")
	}
	for i, op := range ops {
		if root, err = applyOp(root, op); err != nil {
			return nil, fmt.Errorf("patch op %d: %w", i, err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding patched body: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	switch {
	case bytes.HasSuffix(doc, []byte("\r\n")):
		out = append(out, '\r', '\n')
	case bytes.HasSuffix(doc, []byte("\n")):
		out = append(out, '\n')
	}
	return out, nil
}

func decodeJSONDoc(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after value")
	}
	return v, nil
}

// errNoLocation mirrors Pushpin's message for a path that does not resolve.
var errNoLocation = errors.New("location does not exist")

func opString(op map[string]any, key string) (string, error) {
	v, ok := op[key]
	if !ok {
		return "", fmt.Errorf("op does not contain '%s'", key)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("op contains '%s' with wrong type", key)
	}
	return s, nil
}

func applyOp(root, raw any) (any, error) {
	op, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("invalid op")
	}
	name, err := opString(op, "op")
	if err != nil {
		return nil, err
	}
	ps, err := opString(op, "path")
	if err != nil {
		return nil, err
	}
	path, err := parsePointer(ps)
	if err != nil {
		return nil, err
	}
	value, haveValue := op["value"]
	needValue := func() error {
		if !haveValue {
			return errors.New("op does not contain 'value'")
		}
		return nil
	}

	switch name {
	case "add":
		if err := needValue(); err != nil {
			return nil, err
		}
		return addAt(root, path, value)
	case "remove":
		root, _, err := removeAt(root, path)
		return root, err
	case "replace":
		if err := needValue(); err != nil {
			return nil, err
		}
		return replaceAt(root, path, value)
	case "move":
		fs, err := opString(op, "from")
		if err != nil {
			return nil, err
		}
		from, err := parsePointer(fs)
		if err != nil {
			return nil, err
		}
		if isProperPrefix(from, path) {
			return nil, errors.New("cannot move location into itself")
		}
		root, v, err := removeAt(root, from)
		if err != nil {
			return nil, err
		}
		return addAt(root, path, v)
	case "copy":
		fs, err := opString(op, "from")
		if err != nil {
			return nil, err
		}
		from, err := parsePointer(fs)
		if err != nil {
			return nil, err
		}
		v, err := getAt(root, from)
		if err != nil {
			return nil, err
		}
		return addAt(root, path, deepCopy(v))
	case "test":
		if err := needValue(); err != nil {
			return nil, err
		}
		v, err := getAt(root, path)
		if err != nil {
			return nil, err
		}
		if !jsonEqual(v, value) {
			return nil, errors.New("tested values are not equal")
		}
		return root, nil
	}
	return nil, fmt.Errorf("unsupported op: %s", name)
}

// parsePointer splits an RFC 6901 JSON Pointer into unescaped tokens; ""
// is the whole document.
func parsePointer(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("invalid pointer %q: must be empty or start with '/'", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		if !strings.Contains(p, "~") {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			if p[j] != '~' {
				b.WriteByte(p[j])
				continue
			}
			if j+1 == len(p) || (p[j+1] != '0' && p[j+1] != '1') {
				return nil, fmt.Errorf("invalid pointer %q: '~' must be followed by 0 or 1", s)
			}
			if p[j+1] == '0' {
				b.WriteByte('~')
			} else {
				b.WriteByte('/')
			}
			j++
		}
		parts[i] = b.String()
	}
	return parts, nil
}

func isProperPrefix(prefix, path []string) bool {
	if len(prefix) >= len(path) {
		return false
	}
	for i := range prefix {
		if prefix[i] != path[i] {
			return false
		}
	}
	return true
}

// arrayIndex parses an array index token: "0" or digits without a leading
// zero, below limit (len for existing elements, len+1 to insert).
func arrayIndex(tok string, limit int) (int, error) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, fmt.Errorf("invalid array index %q", tok)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, fmt.Errorf("invalid array index %q", tok)
		}
	}
	n, err := strconv.Atoi(tok)
	if err != nil || n >= limit {
		return 0, errNoLocation
	}
	return n, nil
}

func child(node any, tok string) (any, error) {
	switch n := node.(type) {
	case map[string]any:
		v, ok := n[tok]
		if !ok {
			return nil, errNoLocation
		}
		return v, nil
	case []any:
		i, err := arrayIndex(tok, len(n))
		if err != nil {
			return nil, err
		}
		return n[i], nil
	}
	return nil, errNoLocation
}

func getAt(node any, path []string) (any, error) {
	for _, tok := range path {
		var err error
		if node, err = child(node, tok); err != nil {
			return nil, err
		}
	}
	return node, nil
}

// update rewrites the child at tok of node with f's result, returning node
// (a slice header may be replaced by f, so the parent stores it back).
func update(node any, path []string, f func(parent any, tok string) (any, error)) (any, error) {
	if len(path) == 1 {
		return f(node, path[0])
	}
	c, err := child(node, path[0])
	if err != nil {
		return nil, err
	}
	nc, err := update(c, path[1:], f)
	if err != nil {
		return nil, err
	}
	switch n := node.(type) {
	case map[string]any:
		n[path[0]] = nc
	case []any:
		i, _ := arrayIndex(path[0], len(n))
		n[i] = nc
	}
	return node, nil
}

func addAt(root any, path []string, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	return update(root, path, func(parent any, tok string) (any, error) {
		switch n := parent.(type) {
		case map[string]any:
			n[tok] = v
			return n, nil
		case []any:
			i := len(n)
			if tok != "-" {
				var err error
				if i, err = arrayIndex(tok, len(n)+1); err != nil {
					return nil, err
				}
			}
			n = append(n, nil)
			copy(n[i+1:], n[i:])
			n[i] = v
			return n, nil
		}
		return nil, errNoLocation
	})
}

func removeAt(root any, path []string) (any, any, error) {
	if len(path) == 0 {
		return nil, nil, errors.New("cannot remove the whole document")
	}
	var removed any
	root, err := update(root, path, func(parent any, tok string) (any, error) {
		switch n := parent.(type) {
		case map[string]any:
			v, ok := n[tok]
			if !ok {
				return nil, errNoLocation
			}
			removed = v
			delete(n, tok)
			return n, nil
		case []any:
			i, err := arrayIndex(tok, len(n))
			if err != nil {
				return nil, err
			}
			removed = n[i]
			return append(n[:i], n[i+1:]...), nil
		}
		return nil, errNoLocation
	})
	return root, removed, err
}

func replaceAt(root any, path []string, v any) (any, error) {
	if len(path) == 0 {
		return v, nil
	}
	return update(root, path, func(parent any, tok string) (any, error) {
		switch n := parent.(type) {
		case map[string]any:
			if _, ok := n[tok]; !ok {
				return nil, errNoLocation
			}
			n[tok] = v
			return n, nil
		case []any:
			i, err := arrayIndex(tok, len(n))
			if err != nil {
				return nil, err
			}
			n[i] = v
			return n, nil
		}
		return nil, errNoLocation
	})
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// jsonEqual is RFC 6902 "test" equality: same type and value, objects
// regardless of key order, numbers by numeric value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !jsonEqual(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if i, err := x.Int64(); err == nil {
			if j, err := y.Int64(); err == nil {
				return i == j
			}
		}
		f, err1 := x.Float64()
		g, err2 := y.Float64()
		return err1 == nil && err2 == nil && f == g
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}
