package publish

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

func seedMessages() [][]byte {
	var seeds [][]byte
	for i := range roundTripItems {
		it := &roundTripItems[i]
		seeds = append(seeds,
			append([]byte("J"), it.AppendJSON(nil)...),
			append([]byte("T"), it.AppendTnet(nil)...),
			it.AppendTnet(nil),
			append([]byte("M"), it.AppendMsgpack(nil)...))
	}
	return append(seeds, []byte("J{"), []byte("T5:ab"), []byte("M\x81"), nil)
}

func FuzzDecodeBody(f *testing.F) {
	f.Add(AppendBodyJSON(nil, roundTripItems))
	f.Add([]byte(body(`{"channel":"a","http-response":{"code":"201","headers":[["a","b"]],"body-patch":[{"op":"add","path":"/x","value":1}]}}`)))
	f.Add([]byte(body(`{"channel":"a","ws-message":{"action":"close","code":4000}}`, `{"channel":"b","formats":{}}`)))
	f.Add([]byte(`{"items":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := DecodeBody(data)
		if err != nil {
			var pe *Error
			if !asError(err, &pe) || pe.Error() == "" || pe.PushpinText() == "" {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		for i := range items {
			checkRoundTrip(t, &items[i])
		}
		if allClean(items) && allHaveFormats(items) {
			again, err := DecodeBody(AppendBodyJSON(nil, items))
			if err != nil || !reflect.DeepEqual(normItems(again), normItems(items)) {
				t.Fatalf("body round trip failed: %v", err)
			}
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range seedMessages() {
		f.Add(s, "")
	}
	f.Add([]byte(`J{"http-stream":{"content":"x"}}`), "topic")
	f.Fuzz(func(t *testing.T, msg []byte, channel string) {
		it, err := DecodeMessage(msg, channel)
		if err != nil {
			var pe *Error
			if !asError(err, &pe) || pe.LogText() == "" {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if channel != "" && it.Channel != channel {
			t.Fatalf("channel %q, topic %q", it.Channel, channel)
		}
		checkRoundTrip(t, &it)
	})
}

func FuzzDecodeMsgpack(f *testing.F) {
	for i := range roundTripItems {
		f.Add(roundTripItems[i].AppendMsgpack(nil))
	}
	f.Add([]byte("\xdf\xff\xff\xff\xff"))
	f.Add([]byte("\x81\xa1a\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := DecodeMessage(append([]byte("M"), data...), "")
		if err != nil {
			return
		}
		checkRoundTrip(t, &it)
	})
}

func FuzzApplyPatch(f *testing.F) {
	f.Add([]byte(`{"foo":["bar","baz"]}`), []byte(`[{"op":"add","path":"/foo/1","value":"qux"}]`))
	f.Add([]byte("{\"a\":{\"b\":1}}\r\n"), []byte(`[{"op":"move","from":"/a/b","path":"/c"},{"op":"copy","from":"/c","path":"/a/-"}]`))
	f.Add([]byte(`[1,2,3]`), []byte(`[{"op":"test","path":"/1","value":2.0},{"op":"remove","path":"/0"}]`))
	f.Fuzz(func(t *testing.T, doc, patch []byte) {
		out, err := ApplyPatch(doc, patch)
		if err != nil {
			return
		}
		trimmed := bytes.TrimSuffix(bytes.TrimSuffix(out, []byte("\n")), []byte("\r"))
		if !json.Valid(trimmed) {
			t.Fatalf("patched output is not JSON: %q", out)
		}
		// Re-applying an empty patch to the output is the identity.
		again, err := ApplyPatch(out, []byte(`[]`))
		if err == nil && !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
	})
}

// checkRoundTrip re-encodes a decoded item in every encoding and expects the
// same item back.
func checkRoundTrip(t *testing.T, it *Item) {
	t.Helper()
	if it.HTTPResponse == nil && it.HTTPStream == nil && it.WSMessage == nil {
		// Accepted ("formats" with only unknown keys) but not encodable in
		// a form that decodes: every decoder wants at least one format.
		return
	}
	encs := map[string][]byte{
		"T": append([]byte("T"), it.AppendTnet(nil)...),
		"M": append([]byte("M"), it.AppendMsgpack(nil)...),
	}
	if allClean([]Item{*it}) {
		encs["J"] = append([]byte("J"), it.AppendJSON(nil)...)
	}
	for name, msg := range encs {
		got, err := DecodeMessage(msg, "")
		if err != nil {
			t.Fatalf("%s re-decode of %q: %v", name, msg, err)
		}
		if !reflect.DeepEqual(normItem(got), normItem(*it)) {
			t.Fatalf("%s round trip:\n got  %s\n want %s", name, dump([]Item{got}), dump([]Item{*it}))
		}
	}
}

// allClean reports whether every text field is valid UTF-8, so the JSON
// encoding (which cannot carry invalid UTF-8 outside "-bin" fields) is
// lossless.
func allClean(items []Item) bool {
	ok := func(ss ...string) bool {
		for _, s := range ss {
			if !utf8.ValidString(s) {
				return false
			}
		}
		return true
	}
	for _, it := range items {
		if !ok(it.Channel, it.ID, it.PrevID) {
			return false
		}
		for k, v := range it.Meta {
			if !ok(k, v) {
				return false
			}
		}
		var filters []string
		if f := it.HTTPResponse; f != nil {
			if !ok(f.Reason) {
				return false
			}
			for _, h := range f.Headers {
				if !ok(h.Name, h.Value) {
					return false
				}
			}
			filters = append(filters, f.ContentFilters...)
		}
		if f := it.HTTPStream; f != nil {
			filters = append(filters, f.ContentFilters...)
		}
		if f := it.WSMessage; f != nil {
			if !ok(f.Reason) {
				return false
			}
			filters = append(filters, f.ContentFilters...)
		}
		if !ok(filters...) {
			return false
		}
	}
	return true
}

func asError(err error, pe **Error) bool {
	e, ok := err.(*Error)
	*pe = e
	return ok
}

func allHaveFormats(items []Item) bool {
	for _, it := range items {
		if it.HTTPResponse == nil && it.HTTPStream == nil && it.WSMessage == nil {
			return false
		}
	}
	return true
}
