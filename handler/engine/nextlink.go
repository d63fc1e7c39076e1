package engine

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/grip"
	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// Next links ("GRIP Next", Grip-Link rel=next): the handler fetches the link
// through the proxy's internal request sockets (intreq, reference §4.6) as a
// ZHTTP initiator, streams the response body into the held stream as it
// arrives and then applies the response's own instructions (an
// application/grip-instruct body is read whole first).

const (
	// intreqCredits is what we grant the proxy for the response body
	// (Pushpin's IDEAL_CREDITS).
	intreqCredits = 200000
	// maxLinkBody bounds a next-link response held in memory.
	maxLinkBody = 1000000
	// linkExpire abandons a next-link request with no answer.
	linkExpire = 60 * time.Second
)

// linkRequest is one next-link fetch in flight.
type linkRequest struct {
	st      *state
	hs      *httpSession
	rid     string
	uri     string
	proxyID []byte
	outSeq  int
	inSeq   int
	started bool
	code    int
	reason  string
	headers []zhttp.Header
	body    []byte // buffered body of an application/grip-instruct response
	timer   *timer
	done    bool

	// streaming: the instructions came with the headers, so the body is
	// passed to the client as it arrives (as pushpin-handler does) and
	// the instructions are applied when it ends.
	streaming bool
	in        Instruct
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// armLink schedules the periodic next-link fetch.
func (hs *httpSession) armLink() {
	if hs.link == "" || hs.linkTO <= 0 {
		hs.st.timers.stop(hs.linkTimer)
		return
	}
	hs.st.timers.set(hs.linkTimer, hs.st.now.Add(time.Duration(hs.linkTO)*time.Second))
}

// linkTick fetches the link, unless every channel delivered a message since
// the last tick (then the session is deferred one period).
func (hs *httpSession) linkTick() {
	if hs.phase != phaseActive || hs.link == "" {
		return
	}
	all := len(hs.subs) > 0
	for _, s := range hs.subs {
		if !s.got {
			all = false
		}
		s.got = false
	}
	if all {
		hs.armLink()
		return
	}
	hs.fetchLink()
}

// fetchLink starts a next-link request unless one is in flight.
func (hs *httpSession) fetchLink() {
	st := hs.st
	if hs.phase != phaseActive || hs.link == "" || hs.fetching != nil {
		return
	}
	if st.e.intreqOut == nil {
		st.log.warnf("next link for %s: intreq sockets not configured", hs.connID)
		return
	}
	lr := &linkRequest{st: st, hs: hs, rid: randomID(), uri: hs.link}
	lr.timer = newTimer(func(time.Time) {
		st.log.warnf("next link %s: no response, giving up", lr.uri)
		lr.abandon()
		hs.fetching = nil
		hs.armLink()
	})
	st.timers.set(lr.timer, st.now.Add(linkExpire))

	var headers []zhttp.Header
	for _, s := range hs.subs {
		if s.hasPrev {
			name := strings.TrimPrefix(s.ch.name, hs.acc.ChannelPrefix)
			headers = append(headers, zhttp.Header{Name: "Grip-Last", Value: name + "; last-id=" + s.prevID})
		}
	}
	pt := handoff.Passthrough{Route: hs.acc.Route, PreferInternal: sameOrigin(hs.acc.OrigRequestData.URI, hs.link), Trusted: hs.acc.Trusted, AutoShare: true}
	p := &zhttp.Packet{
		From: []byte(st.cfg.InstanceID), ID: []byte(lr.rid), Method: "GET", URI: hs.link,
		Headers: headers, Stream: true, Multi: true, Passthrough: pt.Value(),
	}
	p.SetSeq(0)
	p.SetCredits(intreqCredits)
	lr.outSeq = 1
	msg := zhttp.AppendT(nil, p)
	if err := st.e.intreqOut.TrySend([][]byte{msg}); err != nil {
		st.log.warnf("next link %s: cannot send: %v", hs.link, err)
		st.timers.stop(lr.timer)
		return
	}
	hs.fetching = lr
	st.links[lr.rid] = lr
	st.timers.stop(hs.linkTimer)
}

// sameOrigin reports whether two URIs share scheme, host and port.
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}

// abandon forgets the request, cancelling it at the proxy if it answered.
func (lr *linkRequest) abandon() {
	if lr.done {
		return
	}
	lr.done = true
	lr.st.timers.stop(lr.timer)
	delete(lr.st.links, lr.rid)
	if lr.proxyID != nil {
		lr.sendStream(&zhttp.Packet{Type: zhttp.Cancel})
	}
}

// sendStream sends a later packet of the request via the intreq ROUTER.
func (lr *linkRequest) sendStream(p *zhttp.Packet) {
	p.From = []byte(lr.st.cfg.InstanceID)
	p.ID = []byte(lr.rid)
	p.SetSeq(lr.outSeq)
	lr.outSeq++
	msg := zhttp.AppendT(nil, p)
	if err := lr.st.e.intreqStream.TrySend(zhttp.RouterMessage(lr.proxyID, msg)); err != nil {
		lr.st.log.warnf("next link %s: cannot send to proxy: %v", lr.uri, err)
	}
}

// onIntreqIn receives the proxy's responses to next-link requests.
func (e *Engine) onIntreqIn(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		return
	}
	_, raw, err := zhttp.SplitPubMessage(msg[0])
	if err != nil {
		e.log.warnf("intreq: %v", err)
		return
	}
	p := new(zhttp.Packet)
	if _, err := zhttp.Decode(raw, p); err != nil {
		e.log.warnf("intreq: received invalid packet: %v", err)
		return
	}
	e.post(e.ctx, func() { e.st.handleIntreq(p) })
}

func (st *state) handleIntreq(p *zhttp.Packet) {
	lr := st.links[string(p.ID)]
	if lr == nil {
		return
	}
	if lr.proxyID == nil && len(p.From) > 0 {
		lr.proxyID = append([]byte(nil), p.From...)
	}
	if p.Has&zhttp.HasSeq != 0 {
		if p.Seq != lr.inSeq {
			lr.fail("bad seq from proxy")
			return
		}
		lr.inSeq++
	}
	switch p.Type {
	case zhttp.Error, zhttp.Cancel:
		lr.fail("next link request failed: " + p.Condition)
		return
	case zhttp.KeepAlive, zhttp.Credit:
		return
	case zhttp.Data:
	default:
		return
	}
	hs := lr.hs
	if !lr.started {
		lr.started = true
		lr.code, lr.reason, lr.headers = p.Code, p.Reason, p.Headers
		if !lr.begin() {
			return
		}
	}
	if lr.streaming {
		// The session's own output queue bounds what waits for the
		// client; a client too slow for it is closed (writeBody).
		if len(p.Body) > 0 && !hs.writeBody(p.Body) {
			lr.abandon()
			hs.fetching = nil
			return
		}
	} else {
		lr.body = append(lr.body, p.Body...)
		if len(lr.body) > maxLinkBody {
			lr.fail("next link response too large")
			return
		}
	}
	if len(p.Body) > 0 && p.More {
		lr.sendStream(&zhttp.Packet{Type: zhttp.Credit, Credits: len(p.Body), Has: zhttp.HasCredits})
	}
	if p.More {
		return
	}
	lr.done = true
	st.timers.stop(lr.timer)
	delete(st.links, lr.rid)
	hs.fetching = nil
	if lr.streaming {
		hs.applyLink(lr.in)
		return
	}
	hs.linkResponse(lr)
}

// begin looks at the response head. A failed status or bad instructions
// end the client's stream at once; otherwise, unless the instructions are
// in an application/grip-instruct body (buffered until complete), the
// response is streamed. It reports whether to go on reading.
func (lr *linkRequest) begin() bool {
	hs := lr.hs
	if ct, _, _ := strings.Cut(firstHeader(lr.headers, "Content-Type"), ";"); ct == grip.InstructContentType {
		return true
	}
	if lr.code < 200 || lr.code >= 300 {
		lr.st.log.warnf("next link %s: returned code %d", lr.uri, lr.code)
		lr.abandon()
		hs.fetching = nil
		hs.end()
		return false
	}
	in, err := lr.parse(nil)
	if err != nil {
		lr.st.log.warnf("next link %s: %s", lr.uri, instructMessage(err))
		lr.abandon()
		hs.fetching = nil
		hs.end()
		return false
	}
	lr.streaming, lr.in = true, in
	return true
}

// parse reads the response's instructions; a response hold is refused
// (only stream holds and no-hold responses may follow a link).
func (lr *linkRequest) parse(body []byte) (Instruct, error) {
	in, err := ParseInstruct(handoff.ResponseData{Code: lr.code, Reason: lr.reason, Headers: lr.headers, Body: body},
		lr.uri, lr.st.cfg.ConnectionSubscriptionMax)
	if err == nil && in.Hold == ResponseHold {
		err = instructErr("Next link returned non-stream hold.")
	}
	return in, err
}

func (lr *linkRequest) fail(why string) {
	lr.st.log.warnf("next link %s: %s", lr.uri, why)
	lr.abandon()
	hs := lr.hs
	hs.fetching = nil
	if hs.phase == phaseActive {
		hs.armLink()
	}
}

// linkResponse applies a complete next-link response to the session.
func (hs *httpSession) linkResponse(lr *linkRequest) {
	if hs.phase != phaseActive {
		return
	}
	st := hs.st
	if lr.code < 200 || lr.code >= 300 {
		st.log.warnf("next link %s: returned code %d", lr.uri, lr.code)
		hs.end()
		return
	}
	in, err := lr.parse(lr.body)
	if err != nil {
		st.log.warnf("next link %s: %s", lr.uri, instructMessage(err))
		hs.end()
		return
	}
	if len(in.Response.Body) > 0 && !hs.writeBody(in.Response.Body) {
		return
	}
	hs.applyLink(in)
}

// applyLink follows a next-link response's instructions once its body has
// been passed on: a stream hold re-subscribes, another link is followed,
// otherwise the stream ends.
func (hs *httpSession) applyLink(in Instruct) {
	if hs.phase != phaseActive {
		return
	}
	st := hs.st
	hs.link, hs.linkTO = in.NextLink, in.NextLinkTimeout
	if in.Hold == StreamHold {
		// Re-subscribe per the new instructions.
		hs.unsubscribeAll()
		keepResp := hs.in.Response
		hs.in = in
		hs.in.Response = keepResp
		if in.Meta != nil {
			hs.metaMap = in.Meta
		}
		hs.mode = StreamHold
		hs.subscribeAll()
		st.timers.stop(hs.kaTimer)
		if in.HasKeepAlive {
			hs.armKeepAlive()
		}
		hs.armLink()
		return
	}
	if hs.link == "" {
		hs.end()
		return
	}
	// No hold and another link: keep following, at most 10 fetches a
	// second per session (Pushpin rate-limits next-link updates).
	hs.st.timers.set(hs.linkTimer, st.now.Add(100*time.Millisecond))
}
