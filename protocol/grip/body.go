package grip

import (
	"errors"

	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// parseBody applies an application/grip-instruct JSON body (§5.4) on top of
// what the headers said, with Pushpin's rules (src/handler/instruct.cpp):
//
//   - "hold" sets the mode (default response), appends its channels to the
//     header channels, overrides the timeout, merges meta, and replaces the
//     keep-alive data and timeout (timeout 55 when not given). The body has
//     no keep-alive mode: one set by Grip-Keep-Alive is kept, otherwise the
//     keep-alive behaves as interval mode, since Pushpin leaves the mode
//     unset and only idle mode restarts the timer on output (verified with
//     pushpin 1.36: keep-alives keep coming while content is published).
//   - the instruct response loses the origin's headers and body and takes
//     only what "response" gives; a "code" without "reason" gets the
//     standard phrase.
//
// JSON null is a value of the wrong type, as in Qt 5.
func parseBody(in *Instruct, resp *Response, body []byte) error {
	doc, err := tnetstring.FromJSON(body)
	if err != nil || (doc.Kind != tnetstring.Dict && doc.Kind != tnetstring.List) {
		// Qt refuses scalars at the top level as a parse error.
		return errorf("failed to parse application/grip-instruct content as JSON")
	}
	if doc.Kind != tnetstring.Dict {
		return errorf("instruct must be an object")
	}

	if hold, ok := doc.Get("hold"); ok {
		if hold.Kind != tnetstring.Dict {
			return errorf("instruct contains 'hold' with wrong type")
		}
		if err := parseHold(in, hold); err != nil {
			return err
		}
	}

	resp.Headers = nil
	resp.Body = nil
	r, ok := doc.Get("response")
	if !ok {
		return nil
	}
	if r.Kind != tnetstring.Dict {
		// Pushpin fails here without setting a message.
		return &Error{Hint: "instruct contains 'response' with wrong type"}
	}
	const pn = "response"
	if cv, ok := r.Get("code"); ok {
		n, err := publish.ToInt(cv)
		if errors.Is(err, publish.ErrWrongType) {
			return errorf("%s contains 'code' with wrong type", pn)
		}
		if err != nil || n < 0 || n > 999 {
			return errorf("%s contains 'code' with invalid value", pn)
		}
		resp.Code = n
		resp.Reason = ""
	}
	reason, _, err := optString(r, pn, "reason")
	if err != nil {
		return err
	}
	if reason != "" {
		resp.Reason = reason
	}
	if hv, ok := r.Get("headers"); ok {
		h, err := publish.ParseHeaders(hv, pn)
		if err != nil {
			var pe *publish.Error
			errors.As(err, &pe)
			return &Error{Msg: pe.Detail}
		}
		resp.Headers = h
	}
	if bv, ok := r.Get("body-bin"); ok {
		if bv.Kind != tnetstring.String {
			return errorf("%s contains 'body-bin' with wrong type", pn)
		}
		resp.Body = publish.DecodeBase64(bv.Str)
	} else if bv, ok := r.Get("body"); ok {
		if bv.Kind != tnetstring.String {
			return errorf("%s contains 'body' with wrong type", pn)
		}
		resp.Body = bv.Str
	}
	return nil
}

func parseHold(in *Instruct, hold tnetstring.Value) error {
	const pn = "hold"
	mode, haveMode, err := optString(hold, pn, "mode")
	if err != nil {
		return err
	}
	switch {
	case !haveMode || mode == "response":
		in.Hold = HoldResponse
	case mode == "stream":
		in.Hold = HoldStream
	default:
		return errorf("hold 'mode' must be set to either 'response' or 'stream'")
	}

	chans, ok := hold.Get("channels")
	if !ok {
		return errorf("%s does not contain 'channels'", pn)
	}
	if chans.Kind != tnetstring.List {
		return errorf("%s contains 'channels' with wrong type", pn)
	}
	for _, cv := range chans.List {
		const cpn = "channel"
		if cv.Kind != tnetstring.Dict {
			return errorf("%s is not an object", cpn)
		}
		nv, ok := cv.Get("name")
		if !ok {
			return errorf("%s does not contain 'name'", cpn)
		}
		if nv.Kind != tnetstring.String {
			return errorf("%s contains 'name' with wrong type", cpn)
		}
		c := Channel{Name: string(nv.Str)}
		if c.PrevID, _, err = optString(cv, cpn, "prev-id"); err != nil {
			return err
		}
		if fv, ok := cv.Get("filters"); ok {
			if fv.Kind != tnetstring.List {
				return errorf("%s contains 'filters' with wrong type", cpn)
			}
			for _, f := range fv.List {
				if f.Kind != tnetstring.String {
					return errorf("filters contains value with wrong type")
				}
				c.Filters = append(c.Filters, string(f.Str))
			}
		}
		in.Channels = append(in.Channels, c)
	}

	if tv, ok := hold.Get("timeout"); ok {
		n, err := publish.ToInt(tv)
		if errors.Is(err, publish.ErrWrongType) {
			return errorf("%s contains 'timeout' with wrong type", pn)
		}
		if err != nil || n < 0 {
			return errorf("%s contains 'timeout' with invalid value", pn)
		}
		in.Timeout = n
	}

	if ka, ok := hold.Get("keep-alive"); ok {
		if ka.Kind != tnetstring.Dict {
			return errorf("%s contains 'keep-alive' with wrong type", pn)
		}
		if err := parseKeepAliveObject(in, ka); err != nil {
			return err
		}
	}

	if mv, ok := hold.Get("meta"); ok {
		if mv.Kind != tnetstring.Dict {
			return errorf("%s contains 'meta' with wrong type", pn)
		}
		for _, kv := range mv.Dict {
			if kv.Value.Kind != tnetstring.String {
				// Only the last occurrence of a key counts.
				if last, _ := mv.Get(string(kv.Key)); last.Kind != tnetstring.String {
					return errorf("'meta' contains '%s' with wrong type", kv.Key)
				}
				continue
			}
			if in.Meta == nil {
				in.Meta = make(map[string]string)
			}
			in.Meta[string(kv.Key)] = string(kv.Value.Str)
		}
	}
	return nil
}

func parseKeepAliveObject(in *Instruct, ka tnetstring.Value) error {
	const pn = "keep-alive"
	k := in.KeepAlive
	if k == nil {
		k = &KeepAlive{Mode: KeepAliveInterval}
	}
	if cv, ok := ka.Get("content-bin"); ok {
		if cv.Kind != tnetstring.String {
			return errorf("%s contains 'content-bin' with wrong type", pn)
		}
		k.Data = publish.DecodeBase64(cv.Str)
	} else if cv, ok := ka.Get("content"); ok {
		if cv.Kind != tnetstring.String {
			return errorf("%s contains 'content' with wrong type", pn)
		}
		k.Data = cv.Str
	}
	k.Timeout = DefaultKeepAliveTimeout
	if tv, ok := ka.Get("timeout"); ok {
		n, err := publish.ToInt(tv)
		if errors.Is(err, publish.ErrWrongType) {
			return errorf("%s contains 'timeout' with wrong type", pn)
		}
		if err != nil || n < 0 {
			return errorf("%s contains 'timeout' with invalid value", pn)
		}
		k.Timeout = n
	}
	in.KeepAlive = k
	return nil
}

func optString(obj tnetstring.Value, parent, key string) (string, bool, error) {
	v, ok := obj.Get(key)
	if !ok {
		return "", false, nil
	}
	if v.Kind != tnetstring.String {
		return "", false, errorf("%s contains '%s' with wrong type", parent, key)
	}
	return string(v.Str), true, nil
}
