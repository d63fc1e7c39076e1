package engine

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pushpin-go/pushpin/pkg/routes"
	"github.com/pushpin-go/pushpin/protocol/grip"
	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
	"github.com/pushpin-go/pushpin/proxy/sig"
)

// sigCache reuses a signed Grip-Sig for a short while: tokens are valid for
// an hour, so re-signing every request (costly for EC/RSA keys) buys nothing.
type sigCache struct {
	mu sync.Mutex
	m  map[string]sigEntry
}

type sigEntry struct {
	tok  string
	made time.Time
}

const sigReuse = 10 * time.Second

var tokens = sigCache{m: make(map[string]sigEntry)}

// gripSig returns the Grip-Sig for a route: the route's sig_iss/sig_key when
// it sets both, else the global ones; "" when there is no key.
func (e *Engine) gripSig(r *routes.Route) string {
	iss, key := e.cfg.SigIss, e.cfg.SigKey
	cacheKey := "global"
	if r != nil && r.SigIss != "" && len(r.SigKey) > 0 {
		iss, key = r.SigIss, sig.Secret(r.SigKey)
		cacheKey = "route\x00" + r.SigIss + "\x00" + string(r.SigKey)
	}
	if key == nil || !key.CanSign() {
		return ""
	}
	now := time.Now()
	tokens.mu.Lock()
	ent, ok := tokens.m[cacheKey]
	tokens.mu.Unlock()
	if ok && now.Sub(ent.made) < sigReuse && ent.tok != "" && cacheKey != "" && iss != "" {
		return ent.tok
	}
	tok, err := key.Sign(iss, now)
	if err != nil {
		e.log.Error(fmt.Sprintf("grip-sig: %v", err))
		return ""
	}
	tokens.mu.Lock()
	if len(tokens.m) > 1000 {
		tokens.m = make(map[string]sigEntry)
	}
	tokens.m[cacheKey] = sigEntry{tok: tok, made: now}
	tokens.mu.Unlock()
	return tok
}

// handleGrip collects a GRIP response and hands the request to the handler.
func (h *httpSession) handleGrip(resp *originResponse) error {
	for resp.more && len(resp.body) <= maxAcceptResponseBody {
		from, p, err := h.p.next(0)
		if err != nil {
			return err
		}
		if from == fromClient && p.Type == zhttp.Data {
			resp.body = append(resp.body, p.Body...)
			resp.more = p.More
			if c := h.p.cli; c != nil && len(p.Body) > 0 && resp.more {
				cp := &zhttp.Packet{Type: zhttp.Credit}
				cp.SetCredits(len(p.Body))
				if err := c.send(h.ctx, cp); err != nil {
					return err
				}
			}
		}
	}
	if len(resp.body) > maxAcceptResponseBody {
		if streamableHold(resp) {
			return h.streamThenAccept(resp)
		}
		h.logResult = "code"
		return h.respondProxyError(textOriginRespLarge)
	}
	if !h.bodyDone || len(h.body) > maxAcceptRequestBody {
		h.logResult = "code"
		return h.respond(413, "Request Entity Too Large", fmt.Sprintf(textBodyTooLarge, maxAcceptRequestBody))
	}
	if h.p.cli != nil {
		h.p.cli.close()
	}
	return h.acceptRequest(resp, false)
}

// streamableHold reports whether a too-large GRIP response may be streamed
// to the client before the handoff: a stream hold (or a next link without
// hold) without the build-id filter, which would need the body (§5.2).
func streamableHold(resp *originResponse) bool {
	hold, _ := grip.First(resp.headers, "Grip-Hold")
	if hold != "stream" {
		if hold != "" {
			return false
		}
		hasNext := false
		for _, l := range grip.Values(resp.headers, "Grip-Link") {
			if containsFold(l, "rel=next") {
				hasNext = true
			}
		}
		if !hasNext {
			return false
		}
	}
	for _, c := range grip.ParseChannels(resp.headers) {
		for _, f := range c.Filters {
			if f == "build-id" {
				return false
			}
		}
	}
	return true
}

// streamThenAccept sends a stream hold's initial response itself (its body
// is too large for the accept call) and hands the request off afterwards
// with response-sent.
func (h *httpSession) streamThenAccept(resp *originResponse) error {
	code, reason := resp.code, resp.reason
	if st, ok := grip.First(resp.headers, "Grip-Status"); ok {
		if c, r, err := grip.ParseStatus(st); err == nil {
			code = c
			if r != "" {
				reason = r
			} else {
				reason = statusText(c)
			}
		}
	}
	headers := grip.ClientHeaders(resp.headers, nil)
	headers = removeFold(headers, "Content-Length")
	if err := h.stream(code, reason, headers, resp.body, resp.more, true, true); err != nil {
		return err
	}
	if !h.bodyDone || len(h.body) > maxAcceptRequestBody {
		// The response is under way; end it rather than hand it off.
		return h.srv.send(h.ctx, &zhttp.Packet{Body: []byte{}})
	}
	sent := &originResponse{code: resp.code, reason: resp.reason, headers: resp.headers, body: []byte{}}
	return h.acceptRequest(sent, true)
}

// acceptRequest pauses the client session (handoff) and calls accept.
func (h *httpSession) acceptRequest(resp *originResponse, responseSent bool) error {
	e := h.e
	if !e.accept.available(h.ctx) {
		h.logResult = "code"
		return h.respond(500, "Internal Server Error", textAcceptUnavail)
	}
	if err := h.srv.send(h.ctx, &zhttp.Packet{Type: zhttp.HandoffStart}); err != nil {
		return err
	}
	for {
		from, p, err := h.p.next(0)
		if err != nil {
			return err
		}
		if from == fromServer && p.Type == zhttp.HandoffProceed {
			break
		}
	}

	t := h.currentTarget()
	or := h.buildOriginRequest(t, false)
	args := handoff.AcceptArgs{
		Requests: []handoff.RequestState{{
			RID:                handoff.RID{Sender: h.srv.peer, ID: h.srv.id},
			HTTPS:              h.scheme == "https",
			PeerAddress:        h.peerAddr,
			LogicalPeerAddress: h.logicalAddr,
			Debug:              h.debug,
			IsRetry:            h.retry != nil,
			AutoCrossOrigin:    h.aco,
			InSeq:              h.srv.inSeq,
			OutSeq:             h.srv.outSeq,
			OutCredits:         h.srv.credits,
		}},
		RequestData:     handoff.RequestData{Method: h.method, URI: or.uri, Headers: or.headers, Body: nonNil(h.body)},
		OrigRequestData: handoff.RequestData{Method: h.method, URI: h.uri, Headers: h.headers, Body: nonNil(h.body)},
		Inspect:         h.inspect,
		Response:        handoff.ResponseData{Code: resp.code, Reason: resp.reason, Headers: resp.headers, Body: nonNil(resp.body)},
		Route:           h.route.ID,
		SeparateStats:   h.route.ExplicitID,
		ChannelPrefix:   h.route.Prefix,
		Channels:        t.Subscriptions,
		Trusted:         t.Trusted,
		UseSession:      h.route.Session,
		ResponseSent:    responseSent,
	}
	if h.retry != nil {
		args.Requests[0].JSONPCallback = h.retry.jsonpCB
		args.Requests[0].JSONPExtendedResponse = h.retry.jsonpEx
	}
	if h.started {
		args.Requests[0].ResponseCode = h.respCode
	}
	v, err := e.accept.call(h.ctx, "accept", args.Value(), e.cfg.AcceptTimeout)
	if err != nil {
		h.logResult = "code"
		var ce *zrpc.ConditionError
		if errors.As(err, &ce) && ce.Condition == zrpc.CondBadFormat {
			msg := valueText(ce.Value)
			e.log.Debug("accept: bad format: " + msg)
			return h.respondProxyError(fmt.Sprintf(textAcceptParseFmt, msg))
		}
		e.log.Warn(fmt.Sprintf("accept failed: %v", err))
		return h.respond(500, "Internal Server Error", textAcceptUnavail)
	}
	res, err := handoff.ParseAcceptResult(v)
	if err != nil {
		h.logResult = "code"
		e.log.Warn(fmt.Sprintf("accept: bad result: %v", err))
		return h.respond(500, "Internal Server Error", textAcceptUnavail)
	}
	switch {
	case res.Accepted:
		h.logResult = "accept"
		h.p.srvOwned = false
		h.srv.close()
		e.stats.handedOff(h.srv)
		return nil
	case res.Response != nil:
		h.logResult = "code"
		r := res.Response
		return h.respondHeaders(r.Code, r.Reason, r.Headers, nonNil(r.Body))
	}
	h.logResult = "code"
	return nil
}

// currentTarget is the target the response came from (by log label).
func (h *httpSession) currentTarget() *routes.Target {
	for i := range h.route.Targets {
		if targetLabel(&h.route.Targets[i]) == h.logTarget {
			return &h.route.Targets[i]
		}
	}
	return &h.route.Targets[0]
}

func valueText(v tnetstring.Value) string {
	if v.Kind == tnetstring.String {
		return string(v.Str)
	}
	if v.IsZero() {
		return ""
	}
	return v.String()
}

func removeFold(headers []zhttp.Header, name string) []zhttp.Header {
	out := headers[:0:0]
	for _, h := range headers {
		if !equalFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}
