package engine

import (
	"errors"
	"net/url"
	"strings"

	"github.com/pushpin-go/pushpin/protocol/grip"
	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// HoldMode is what a GRIP response asks the handler to do with the request.
type HoldMode = grip.HoldMode

// Hold modes (Grip-Hold).
const (
	NoHold       = grip.NoHold
	ResponseHold = grip.HoldResponse
	StreamHold   = grip.HoldStream
)

// KeepAliveMode says when stream keep-alives are sent (Grip-Keep-Alive mode).
type KeepAliveMode = grip.KeepAliveMode

// Keep-alive modes.
const (
	KeepAliveIdle     = grip.KeepAliveIdle
	KeepAliveInterval = grip.KeepAliveInterval
)

// Channel is one subscription requested by the origin.
type Channel struct {
	Name    string
	PrevID  string
	HasPrev bool
	Filters []string
}

// Instruct is the handler's view of parsed GRIP instructions (from
// protocol/grip): what a session needs while it holds.
type Instruct struct {
	Hold     HoldMode
	Channels []Channel
	Timeout  int // response hold timeout, seconds (default and minimum applied)

	KeepAlive        []byte
	HasKeepAlive     bool
	KeepAliveTimeout int
	KeepAliveMode    KeepAliveMode

	Meta map[string]string

	NextLink        string // absolute URI; "" = none
	NextLinkTimeout int

	// Response is the instruct response: stream start, timeout answer,
	// or the whole answer of a non-holding instruct.
	Response handoff.ResponseData
}

// errInstruct wraps instruction errors; the accept reply carries the message
// with condition bad-format.
var errInstruct = errors.New("invalid instruct")

func instructErr(msg string) error { return &grip.Error{Msg: msg} }

// instructMessage is the text Pushpin puts in the bad-format value.
func instructMessage(err error) string {
	var ge *grip.Error
	if errors.As(err, &ge) {
		return ge.Error()
	}
	return err.Error()
}

// ParseInstruct reads the instructions of an origin response; requestURI is
// what a relative Grip-Link is resolved against.
func ParseInstruct(resp handoff.ResponseData, requestURI string, subMax int) (Instruct, error) {
	var base *url.URL
	if requestURI != "" {
		if u, err := url.Parse(requestURI); err == nil {
			base = u
		}
	}
	g, err := grip.Parse(grip.Response{Code: resp.Code, Reason: resp.Reason, Headers: resp.Headers, Body: resp.Body},
		grip.Options{RequestURI: base, SubscriptionMax: subMax})
	if err != nil {
		return Instruct{}, err
	}
	in := Instruct{
		Hold:    g.Hold,
		Timeout: g.Timeout,
		Meta:    g.Meta,
		Response: handoff.ResponseData{
			Code:    g.Response.Code,
			Reason:  g.Response.Reason,
			Headers: withoutContentLength(g.Response.Headers),
			Body:    g.Response.Body,
		},
	}
	// Pushpin's session merges repeated channel names, later entries
	// overriding prev-id and filters.
	for _, c := range g.Channels {
		ch := Channel{Name: c.Name, PrevID: c.PrevID, HasPrev: c.PrevID != "", Filters: c.Filters}
		replaced := false
		for i := range in.Channels {
			if in.Channels[i].Name == c.Name {
				in.Channels[i] = ch
				replaced = true
			}
		}
		if !replaced {
			in.Channels = append(in.Channels, ch)
		}
	}
	if ka := g.KeepAlive; ka != nil {
		in.KeepAlive, in.HasKeepAlive = ka.Data, len(ka.Data) > 0
		in.KeepAliveTimeout, in.KeepAliveMode = ka.Timeout, ka.Mode
	}
	if nl := g.NextLink; nl != nil {
		in.NextLink, in.NextLinkTimeout = nl.URI.String(), nl.Timeout
	}
	return in, nil
}

func withoutContentLength(hs []zhttp.Header) []zhttp.Header {
	out := hs[:0:0]
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Content-Length") {
			out = append(out, h)
		}
	}
	return out
}

// exposed reports whether name is in a Grip-Expose-Headers list.
func exposed(list []string, name string) bool {
	for _, e := range list {
		if strings.EqualFold(e, name) {
			return true
		}
	}
	return false
}
