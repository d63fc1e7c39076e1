package engine

import (
	"strconv"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/protocol/grip"
	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/publish"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// sessionKey identifies a client session: condure's instance id and the
// session id it chose.
type sessionKey struct{ sender, id string }

type sessionPhase uint8

const (
	phaseActive  sessionPhase = iota
	phasePausing              // handoff-start sent, waiting for handoff-proceed to retry
	phaseGone
)

// httpSession is a held HTTP request owned by the handler: a response hold
// (long-poll) or a stream hold, or a no-hold request following next links.
// It speaks ZHTTP to condure as the responder, continuing the proxy's
// sequence numbers and credits (reference §2.4, §2.5, §4.3).
type httpSession struct {
	st     *state
	key    sessionKey
	addr   []byte // condure's id: the PUB topic of our packets
	id     []byte
	connID string // "<sender>:<id>" in stats and conncheck

	req  handoff.RequestState
	acc  *handoff.AcceptArgs
	in   Instruct
	mode HoldMode

	inSeq, outSeq int
	credits       int

	subs    []*subscription
	metaMap map[string]string

	phase    sessionPhase
	started  bool // status line and headers sent
	finished bool // last packet (no more) sent
	ending   bool // end after the queue drains
	queue    [][]byte
	queued   int

	holdTimer *timer // response timeout
	kaTimer   *timer // Grip-Keep-Alive
	linkTimer *timer // periodic next-link fetch

	lastRecv time.Time
	bucket   int

	link     string // current next link ("" = none)
	linkTO   int
	fetching *linkRequest
	lastIDs  map[string]string // for the retry being prepared
	retried  bool              // handed back to the proxy (retry sent)
}

// newHTTPSession takes over one request of an accept.
func (st *state) newHTTPSession(acc *handoff.AcceptArgs, req handoff.RequestState, in Instruct) *httpSession {
	hs := &httpSession{
		st:       st,
		key:      sessionKey{req.RID.Sender, req.RID.ID},
		addr:     []byte(req.RID.Sender),
		id:       []byte(req.RID.ID),
		connID:   req.RID.Sender + ":" + req.RID.ID,
		req:      req,
		acc:      acc,
		in:       in,
		mode:     in.Hold,
		inSeq:    req.InSeq,
		outSeq:   req.OutSeq,
		credits:  req.OutCredits,
		metaMap:  in.Meta,
		lastRecv: st.now,
		started:  acc.ResponseSent || req.ResponseCode != 0,
		link:     in.NextLink,
		linkTO:   in.NextLinkTimeout,
	}
	hs.holdTimer = newTimer(func(time.Time) { hs.timeout() })
	hs.kaTimer = newTimer(func(time.Time) { hs.keepAlive() })
	hs.linkTimer = newTimer(func(time.Time) { hs.linkTick() })
	st.sessions[hs.key] = hs
	hs.bucket = st.kaNext
	st.kaNext = (st.kaNext + 1) % kaBucketCount
	st.kaBuckets[hs.bucket][hs] = struct{}{}
	st.stats.connected(hs)
	return hs
}

// --- sessionView (filters) ---

func (hs *httpSession) meta() map[string]string { return hs.metaMap }

func (hs *httpSession) subscribed(channel string) bool {
	for _, s := range hs.subs {
		if s.ch.name == channel {
			return true
		}
	}
	return false
}

func (hs *httpSession) prevIDs() map[string]string {
	m := make(map[string]string, len(hs.subs))
	for _, s := range hs.subs {
		m[s.ch.name] = s.prevID
	}
	return m
}

func (sub *subscription) route() string {
	if sub.hs != nil {
		return sub.hs.acc.Route
	}
	return sub.ws.route
}

// --- ZHTTP output ---

// send writes a packet for this session with the next out-seq.
func (hs *httpSession) send(p *zhttp.Packet) {
	p.ID = hs.id
	p.SetSeq(hs.outSeq)
	hs.outSeq++
	hs.st.out.send(hs.addr, p)
}

// takeOver announces the new owner to condure: a keep-alive with ext.multi
// and our from, seq continuing the proxy's (reference §2.7, §2.8).
func (hs *httpSession) takeOver() {
	hs.send(&zhttp.Packet{Type: zhttp.KeepAlive, Multi: true})
}

// start sends the status line, headers and as much of body as credits
// allow; more says whether the response continues (stream) or ends after
// body.
func (hs *httpSession) start(code int, reason string, headers []zhttp.Header, body []byte, more bool) {
	p := &zhttp.Packet{Reason: reason, Headers: headers}
	p.SetCode(code)
	n := min(len(body), hs.credits)
	p.Body = body[:n:n]
	hs.credits -= n
	rest := body[n:]
	hs.started = true
	hs.st.stats.report.headerBytesSent += headerSize(code, reason, headers)
	hs.st.stats.report.contentBytesSent += n
	if !more && len(rest) == 0 {
		hs.send(p)
		hs.finish()
		return
	}
	p.More = true
	hs.send(p)
	if len(rest) > 0 {
		hs.enqueue(rest)
	}
	if !more {
		hs.ending = true
	}
	hs.flush()
}

// writeBody appends stream content, sending now what credits allow. It
// reports false if the session had to be closed for being too slow.
func (hs *httpSession) writeBody(b []byte) bool {
	if hs.finished || hs.phase != phaseActive {
		return false
	}
	if len(hs.queue) == 0 && hs.credits >= len(b) {
		hs.credits -= len(b)
		hs.st.stats.report.contentBytesSent += len(b)
		hs.send(&zhttp.Packet{Body: nonNil(b), More: true})
		hs.sent()
		return true
	}
	if !hs.enqueue(b) {
		return false
	}
	hs.flush()
	return true
}

// writeShared is writeBody for fan-out: a session that can take the
// item's content at once joins the delivery's list-form batch (see
// dataBatch); otherwise the content is queued for credits.
func (hs *httpSession) writeShared(d *delivery) bool {
	if hs.finished || hs.phase != phaseActive {
		return false
	}
	b := d.it.HTTPStream.Content
	if len(hs.queue) == 0 && hs.credits >= len(b) {
		hs.credits -= len(b)
		hs.st.stats.report.contentBytesSent += len(b)
		seq := hs.outSeq
		hs.outSeq++
		d.data.add(hs.st, hs.addr, hs.id, seq, b, d.bodyElem)
		hs.sent()
		return true
	}
	if !hs.enqueue(b) {
		return false
	}
	hs.flush()
	return true
}

// maxQueueItems bounds the number of chunks waiting for credits.
const maxQueueItems = 4096

// enqueue keeps b until condure grants credits. A session whose backlog
// passes the configured bound is closed: a slow client must not grow the
// handler's memory (our extension; Pushpin queues up to 100 items).
func (hs *httpSession) enqueue(b []byte) bool {
	if hs.queued+len(b) > hs.st.cfg.SessionQueueMax || len(hs.queue) >= maxQueueItems {
		hs.st.e.metrics.slowClosed.Add(1)
		hs.st.log.warnf("closing slow client %s: %d bytes waiting for credits", hs.connID, hs.queued+len(b))
		hs.cancel()
		return false
	}
	hs.queue = append(hs.queue, b)
	hs.queued += len(b)
	return true
}

// flush sends queued body as credits allow and the end when due.
func (hs *httpSession) flush() {
	for len(hs.queue) > 0 && hs.credits > 0 && !hs.finished {
		c := hs.queue[0]
		n := min(len(c), hs.credits)
		if n == len(c) {
			hs.queue[0] = nil
			hs.queue = hs.queue[1:]
		} else {
			hs.queue[0] = c[n:]
		}
		hs.queued -= n
		hs.credits -= n
		hs.st.stats.report.contentBytesSent += n
		last := hs.ending && len(hs.queue) == 0
		hs.send(&zhttp.Packet{Body: c[:n:n], More: !last})
		if last {
			hs.finish()
			return
		}
		hs.sent()
	}
	if len(hs.queue) == 0 {
		hs.queue = nil
	}
	if hs.ending && len(hs.queue) == 0 && !hs.finished {
		hs.send(&zhttp.Packet{Body: []byte{}})
		hs.finish()
	}
}

// end finishes the response after anything queued.
func (hs *httpSession) end() {
	if hs.finished {
		return
	}
	if !hs.started {
		hs.start(hs.in.Response.Code, hs.in.Response.Reason, hs.in.Response.Headers, nil, false)
		return
	}
	hs.ending = true
	hs.flush()
}

// sent re-arms the idle keep-alive after output.
func (hs *httpSession) sent() {
	if hs.mode == StreamHold && hs.in.HasKeepAlive && hs.in.KeepAliveMode == KeepAliveIdle {
		hs.armKeepAlive()
	}
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// finish ends the session after its last packet.
func (hs *httpSession) finish() {
	hs.finished = true
	hs.destroy()
}

// cancel aborts the client connection (condure closes it).
func (hs *httpSession) cancel() {
	if hs.phase == phaseGone {
		return
	}
	hs.send(&zhttp.Packet{Type: zhttp.Cancel})
	hs.destroy()
}

// destroy forgets the session: subscriptions, timers, keep-alive bucket.
func (hs *httpSession) destroy() {
	if hs.phase == phaseGone {
		return
	}
	hs.phase = phaseGone
	st := hs.st
	hs.unsubscribeAll()
	st.timers.stop(hs.holdTimer)
	st.timers.stop(hs.kaTimer)
	st.timers.stop(hs.linkTimer)
	delete(st.kaBuckets[hs.bucket], hs)
	if st.sessions[hs.key] == hs {
		delete(st.sessions, hs.key)
	}
	if hs.fetching != nil {
		hs.fetching.abandon()
		hs.fetching = nil
	}
	st.stats.disconnected(hs)
	hs.queue = nil
}

func (hs *httpSession) unsubscribeAll() {
	for _, s := range hs.subs {
		hs.st.unsubscribe(s)
	}
	hs.subs = nil
}

// --- holding ---

// subscribeAll subscribes the instruct's channels (with the route prefix)
// plus the route's implicit channels, up to connection_subscription_max.
func (hs *httpSession) subscribeAll() {
	st := hs.st
	kind := subStream
	if hs.mode == ResponseHold {
		kind = subResponse
	}
	add := func(c Channel) {
		if len(hs.subs) >= st.cfg.ConnectionSubscriptionMax {
			return
		}
		name := hs.acc.ChannelPrefix + c.Name
		if hs.subscribed(name) {
			return
		}
		sub := &subscription{ch: st.channel(name), kind: kind, hs: hs, filters: c.Filters, prevID: c.PrevID, hasPrev: c.HasPrev}
		hs.subs = append(hs.subs, sub)
		st.subscribe(sub)
		st.log.infof("subscribe %s channel=%s", hs.acc.OrigRequestData.URI, name)
	}
	for _, c := range hs.in.Channels {
		add(c)
	}
	for _, c := range hs.acc.Channels {
		add(Channel{Name: c})
	}
}

// hold starts holding per the instructions.
func (hs *httpSession) hold() {
	st := hs.st
	switch hs.mode {
	case ResponseHold:
		t := hs.in.Timeout // grip.Parse applied the default and minimum
		st.timers.set(hs.holdTimer, st.now.Add(time.Duration(t)*time.Second))
		hs.subscribeAll()
	case StreamHold:
		if !hs.started {
			hs.startStream()
		}
		if hs.phase != phaseActive {
			return
		}
		hs.subscribeAll()
		if hs.in.HasKeepAlive {
			hs.armKeepAlive()
		}
		hs.armLink()
	}
}

func (hs *httpSession) armKeepAlive() {
	d := jitter(time.Duration(hs.in.KeepAliveTimeout) * time.Second)
	if hs.in.KeepAliveMode == KeepAliveInterval && hs.kaTimer.armed() {
		return
	}
	hs.st.timers.set(hs.kaTimer, hs.st.now.Add(d))
}

func (hs *httpSession) keepAlive() {
	if hs.phase != phaseActive || hs.mode != StreamHold {
		return
	}
	if hs.in.KeepAliveMode == KeepAliveInterval {
		hs.st.timers.set(hs.kaTimer, hs.st.now.Add(jitter(time.Duration(hs.in.KeepAliveTimeout)*time.Second)))
	}
	// A keep-alive counts as activity (verified: pushpin-handler reports
	// one per keep-alive sent).
	if hs.writeBody(hs.in.KeepAlive) {
		hs.st.stats.addActivity(1)
	}
}

// timeout answers a response hold with the instruct response.
func (hs *httpSession) timeout() {
	if hs.phase != phaseActive || hs.mode != ResponseHold {
		return
	}
	hs.unsubscribeAll()
	r := hs.in.Response
	hs.st.stats.report.httpResponseSent++
	hs.respond(r.Code, r.Reason, r.Headers, nonNil(r.Body))
}

// startStream sends the instruct response's head and body and keeps the
// response open. With auto cross-origin it gets CORS headers; JSON-P does
// not apply to streams (verified against pushpin-handler 1.36).
func (hs *httpSession) startStream() {
	r := hs.in.Response
	headers := r.Headers
	if hs.req.AutoCrossOrigin {
		headers = corsHeaders(headers, hs.acc.OrigRequestData.Headers)
	}
	hs.start(r.Code, r.Reason, headers, nonNil(r.Body), true)
}

// respond answers a response hold: with auto cross-origin, a JSON-P
// request gets the response wrapped for its callback and others get CORS
// headers (reference §5.9); Content-Length is set last.
func (hs *httpSession) respond(code int, reason string, headers []zhttp.Header, body []byte) {
	switch {
	case hs.req.JSONPCallback != "":
		headers, body = jsonpResponse(hs.req.JSONPCallback, hs.req.JSONPExtendedResponse, code, reason, headers, body)
		code, reason = 200, "OK"
	case hs.req.AutoCrossOrigin:
		headers = corsHeaders(headers, hs.acc.OrigRequestData.Headers)
	}
	hs.start(code, reason, withContentLength(headers, len(body)), body, false)
}

func withContentLength(hs []zhttp.Header, n int) []zhttp.Header {
	out := make([]zhttp.Header, 0, len(hs)+1)
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Content-Length") {
			out = append(out, h)
		}
	}
	return append(out, zhttp.Header{Name: "Content-Length", Value: strconv.Itoa(n)})
}

// --- deliveries ---

func (hs *httpSession) deliverResponse(sub *subscription, d *delivery) bool {
	if hs.phase != phaseActive || hs.mode != ResponseHold {
		return false
	}
	it, f := d.it, d.it.HTTPResponse
	switch f.Action {
	case publish.ActionHint:
		hs.retry()
		return true
	case publish.ActionClose:
		return false
	}
	if sub.hasPrev && it.PrevID != "" && it.PrevID != sub.prevID {
		// A gap: the origin must be asked again with Grip-Last.
		hs.retry()
		return true
	}
	body := f.Body
	if f.BodyPatch != nil {
		b, err := publish.ApplyPatch(hs.in.Response.Body, f.BodyPatch)
		if err != nil {
			hs.st.log.warnf("failed to apply body-patch for %s: %v", hs.connID, err)
			b = []byte{}
		}
		body = b
	}
	body, err := filterContent(sub, f.ContentFilters, body)
	if err != nil {
		if err == errContentFilters {
			hs.fail(contentFilterMismatch(sub, f.ContentFilters))
			return true
		}
		hs.st.log.debugf("filter error for %s: %v", hs.connID, err)
		return false
	}
	body = nonNil(body)
	headers := mergeHeaders(hs.in.Response.Headers, f.Headers)
	hs.unsubscribeAll()
	hs.st.timers.stop(hs.holdTimer)
	hs.st.stats.report.sent++
	hs.st.stats.report.httpResponseSent++
	hs.st.e.metrics.sent.Add(1)
	hs.respond(f.Code, f.Reason, headers, body)
	return true
}

// mergeHeaders applies published headers over the instruct response's:
// same-named headers are replaced, Grip-* dropped, and names listed in a
// published Grip-Expose-Headers removed (Pushpin's literal behaviour,
// reference §5.5, §10.7).
func mergeHeaders(base, pub []zhttp.Header) []zhttp.Header {
	out := make([]zhttp.Header, 0, len(base)+len(pub))
	for _, h := range base {
		if !hasHeader(pub, h.Name) {
			out = append(out, h)
		}
	}
	expose := grip.Values(pub, "Grip-Expose-Headers")
	for _, h := range pub {
		if strings.HasPrefix(strings.ToLower(h.Name), "grip-") {
			continue
		}
		out = append(out, h)
	}
	if len(expose) > 0 {
		kept := out[:0]
		for _, h := range out {
			if !exposed(expose, h.Name) {
				kept = append(kept, h)
			}
		}
		out = kept
	}
	return out
}

func hasHeader(hs []zhttp.Header, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

func (hs *httpSession) deliverStream(sub *subscription, d *delivery) bool {
	if hs.phase != phaseActive || hs.mode != StreamHold {
		return false
	}
	it, f := d.it, d.it.HTTPStream
	switch f.Action {
	case publish.ActionHint:
		hs.fetchLink()
		return true
	case publish.ActionClose:
		hs.end()
		return true
	}
	if sub.hasPrev && hs.link != "" && it.PrevID != "" && it.PrevID != sub.prevID {
		// Out of sequence for this stream: drop and fetch the next link.
		hs.fetchLink()
		return false
	}
	if sub.hasPrev && it.ID != "" {
		sub.prevID = it.ID
	}
	hs.st.stats.report.sent++
	hs.st.e.metrics.sent.Add(1)
	if len(sub.filters) == 0 && f.ContentFilters == nil {
		return hs.writeShared(d)
	}
	content, err := filterContent(sub, f.ContentFilters, f.Content)
	if err != nil {
		if err == errContentFilters {
			hs.fail(contentFilterMismatch(sub, f.ContentFilters))
			return true
		}
		hs.st.log.debugf("filter error for %s: %v", hs.connID, err)
		return false
	}
	return hs.writeBody(content)
}

// contentFilterMismatch is pushpin-handler's error text for an item whose
// content-filters differ from the subscription's (verified against 1.36).
func contentFilterMismatch(sub *subscription, want []string) string {
	return "content filter mismatch: subscription=" + strings.Join(contentFilterNames(sub.filters), ",") +
		" message=" + strings.Join(want, ",")
}

// errorBody is what the client gets when a held session fails: the error
// text in debug mode, Pushpin's generic proxy error otherwise.
const errorBody = "Error while proxying to origin.\n"

// fail ends the session with an error, as pushpin-handler's HttpSession
// does: a response hold not yet answered gets 502 Bad Gateway (body: the
// error in debug mode), a started response (stream) ends, with the error
// text appended in debug mode (reference §5.5, verified).
func (hs *httpSession) fail(msg string) {
	if hs.phase != phaseActive || hs.finished {
		return
	}
	hs.st.log.debugf("session %s: %s", hs.connID, msg)
	if !hs.started {
		hs.unsubscribeAll()
		hs.st.timers.stop(hs.holdTimer)
		body := []byte(errorBody)
		if hs.req.Debug {
			body = []byte(msg + "\n")
		}
		headers := []zhttp.Header{{Name: "Content-Type", Value: "text/plain"}}
		hs.start(502, "Bad Gateway", withContentLength(headers, len(body)), body, false)
		return
	}
	if hs.req.Debug {
		if !hs.writeBody([]byte("\n\n" + msg + "\n")) {
			return
		}
	}
	hs.end()
}

// --- retry ---

// retry sends the request back to the proxy to ask the origin again
// (reference §4.4): pause condure with handoff-start, then on
// handoff-proceed push the retry packet.
func (hs *httpSession) retry() {
	if hs.phase != phaseActive {
		return
	}
	// Grip-Last carries the session's own prev-ids: the last id the
	// origin told the client about (verified against pushpin-handler).
	ids := map[string]string{}
	for _, c := range hs.channelPrevIDs() {
		ids[c[0]] = c[1]
	}
	hs.lastIDs = ids
	hs.unsubscribeAll()
	hs.st.timers.stop(hs.holdTimer)
	hs.phase = phasePausing
	hs.send(&zhttp.Packet{Type: zhttp.HandoffStart})
}

// channelPrevIDs lists (channel without prefix, prev-id) for the session's
// channels that have a prev-id: from its subscriptions (prev-ids advance
// with deliveries), or the instructed ones when it has not subscribed.
func (hs *httpSession) channelPrevIDs() [][2]string {
	var out [][2]string
	if len(hs.subs) > 0 {
		for _, s := range hs.subs {
			if s.hasPrev {
				out = append(out, [2]string{strings.TrimPrefix(s.ch.name, hs.acc.ChannelPrefix), s.prevID})
			}
		}
		return out
	}
	for _, c := range hs.in.Channels {
		if c.HasPrev {
			out = append(out, [2]string{c.Name, c.PrevID})
		}
	}
	return out
}

// update is Pushpin's session "update": response holds are retried, stream
// holds with a next link refetch it.
func (hs *httpSession) update() {
	switch {
	case hs.phase != phaseActive:
	case hs.mode == ResponseHold:
		hs.retry()
	case hs.link != "":
		hs.fetchLink()
	}
}

func (hs *httpSession) sendRetry() {
	st := hs.st
	r := hs.req.Retry()
	r.InSeq, r.OutSeq, r.OutCredits = hs.inSeq, hs.outSeq, hs.credits
	pkt := handoff.RetryPacket{
		Requests:    []handoff.RetryRequest{r},
		RequestData: hs.acc.OrigRequestData,
		Route:       hs.acc.Route,
	}
	if hs.acc.Inspect != nil || len(hs.lastIDs) > 0 {
		var in handoff.InspectData
		if hs.acc.Inspect != nil {
			in = *hs.acc.Inspect
		}
		if len(hs.lastIDs) > 0 {
			in.LastIDs = hs.lastIDs
		}
		pkt.Inspect = &in
	}
	msg := pkt.Encode()
	if st.log.enabled(LevelDebug) {
		st.log.debugf("retry: OUT %s", trimForLog(msg))
	}
	if err := st.e.retrySock.TrySend([][]byte{msg}); err != nil {
		st.log.warnf("retry: cannot send for %s: %v", hs.connID, err)
		hs.phase = phaseActive
		hs.cancel()
		return
	}
	// The proxy owns the session again; the connection is not gone.
	hs.retried = true
	hs.destroy()
}

// --- input from condure ---

// handle processes one packet addressed to this session (seq already
// extracted for list-form ids).
func (hs *httpSession) handle(p *zhttp.Packet, seq int, hasSeq bool) {
	st := hs.st
	if hasSeq {
		if seq != hs.inSeq {
			st.log.warnf("zhttp server: %s: bad seq (expected %d, got %d), canceling", hs.connID, hs.inSeq, seq)
			if p.Type != zhttp.Cancel && p.Type != zhttp.Error {
				hs.cancel()
			} else {
				hs.destroy()
			}
			return
		}
		hs.inSeq++
	}
	hs.lastRecv = st.now
	switch p.Type {
	case zhttp.Cancel, zhttp.Error:
		hs.destroy()
	case zhttp.Credit:
		hs.credits += p.Credits
		hs.flush()
	case zhttp.Data:
		if p.Has&zhttp.HasCredits != 0 {
			hs.credits += p.Credits
			hs.flush()
		}
	case zhttp.HandoffProceed:
		if hs.phase == phasePausing {
			hs.sendRetry()
		}
	case zhttp.KeepAlive:
		if p.Has&zhttp.HasCredits != 0 {
			hs.credits += p.Credits
			hs.flush()
		}
	}
}

// headerSize estimates header bytes as Pushpin's report does: status code,
// reason, and header names and values.
func headerSize(code int, reason string, hs []zhttp.Header) int {
	n := len(strconv.Itoa(code)) + len(reason)
	for _, h := range hs {
		n += len(h.Name) + len(h.Value)
	}
	return n
}
