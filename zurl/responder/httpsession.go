package responder

import (
	"strconv"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/httpclient"
)

// httpState is the per-request state of an HTTP session.
type httpState struct {
	x         *httpclient.Exchange
	outStream bool // response body paced by credits, many packets
	maxSize   int  // -1: unlimited
	received  int
	sentHead  bool
	bodySent  bool   // the initiator finished sending the request body
	inbuf     []byte // non-stream mode: the whole body
}

func (s *session) runHTTP(p *zhttp.Packet) {
	srv := s.srv
	// Fire and forget: a stream request without an id or address.
	if s.mode == modeStream && (len(s.rid) == 0 || len(s.to) == 0) {
		s.quiet = true
	}
	if p.Method == "" {
		srv.log.Warnf("missing request method")
		s.respondError(zhttp.CondBadRequest)
		return
	}
	srv.log.Logf(s.infoLvl, "IN id=%s, %s %s", s.rid, p.Method, p.URI)
	if s.mode == modeStream && p.More && s.inSeq != 0 {
		srv.log.Warnf("streamed input must start with seq 0")
		s.respondError(zhttp.CondBadRequest)
		return
	}
	if s.mode == modeSingle && p.More {
		srv.log.Warnf("cannot use streamed input on router interface")
		s.respondError(zhttp.CondBadRequest)
		return
	}
	u, err := httpclient.ParseURI(p.URI, "http", "https")
	if err != nil {
		srv.log.Warnf("id=%s: bad uri: %v", s.rid, err)
		s.respondError(zhttp.CondBadRequest)
		return
	}
	if !s.allowed(p, u.Host) || (p.ConnectHost != "" && !s.allowed(p, p.ConnectHost)) {
		s.respondError(zhttp.CondPolicyViolation)
		return
	}

	st := &httpState{outStream: s.mode == modeStream && p.Stream, maxSize: -1, bodySent: !p.More}
	if p.Has&zhttp.HasMaxSize != 0 {
		st.maxSize = p.MaxSize
	}
	timeout := -1
	if p.Has&zhttp.HasTimeout != 0 {
		timeout = p.Timeout
	}
	if p.Has&zhttp.HasCredits != 0 {
		s.credits += p.Credits
	}
	headers := requestHeaders(p, u)
	if len(p.Body) > 0 && !p.More {
		if _, ok := p.Header("Content-Length"); !ok {
			headers = append(headers, zhttp.Header{Name: "Content-Length", Value: strconv.Itoa(len(p.Body))})
		}
	}
	req := httpclient.Request{
		Method: p.Method, URI: p.URI, Header: headers, Body: p.Body, More: p.More,
		ConnectHost: p.ConnectHost, IgnorePolicies: p.IgnorePolicies,
		TrustConnectHost: p.TrustConnectHost, IgnoreTLSErrors: p.IgnoreTLSErrors,
		MaxRedirects: -1,
	}
	if p.ConnectHost != "" && p.Has&zhttp.HasConnectPort != 0 {
		// zurl's HTTP path takes connect-port only with a connect-host
		// (its WebSocket path takes it alone too).
		req.ConnectPort = p.ConnectPort
	}
	if p.ConnectHost != "" && p.Has&zhttp.HasConnectPort == 0 {
		// zurl hands libcurl CURLOPT_CONNECT_TO "host:port:connect-host:-1"
		// when connect-port is absent; libcurl rejects the -1 ("No valid
		// port number in connect to host string", CURLE_SETOPT_OPTION_SYNTAX)
		// and zurl answers undefined-condition after its acknowledgement.
		// Pushpin always sends both fields; we fail the same way.
		srv.log.Debugf("id=%s: connect-host without connect-port", s.rid)
		if s.mode == modeStream {
			s.ack(p.More)
		}
		s.respondError(zhttp.CondUndefined)
		return
	}
	if p.FollowRedirects {
		req.MaxRedirects = 8
	}
	t := s.startTimers(timeout)
	defer t.stop()
	st.x = srv.client.Start(req)
	defer st.x.Close()

	if s.mode == modeStream {
		s.ack(p.More)
	}

	for {
		select {
		case <-s.inbox.ready:
			// Take whatever is queued before answering: credits often
			// arrive in bursts (pushpin-proxy relays condure's small
			// grants), and one update then sends one larger packet.
			batch := s.inbox.take(s.batch)
			update := false
			for _, m := range batch {
				cont, upd := s.httpPacket(st, m)
				if !cont {
					return
				}
				update = update || upd
			}
			s.batch = batch
			if update && !s.httpUpdate(st) {
				return
			}
		case <-st.x.Notify():
			if !s.httpUpdate(st) {
				return
			}
		case <-s.kick:
			s.respondCancel()
			return
		case <-t.C():
			switch t.fired() {
			case evActivity, evDeadline:
				s.respondError(zhttp.CondSessionTimeout)
				return
			case evExpire:
				srv.log.Debugf("id=%s: expired", s.rid)
				return
			case evKeepAlive:
				s.send(&zhttp.Packet{Type: zhttp.KeepAlive})
			}
		case <-srv.ctx.Done():
			return
		}
	}
}

// httpPacket handles a later packet from the initiator. cont false ends
// the session; update asks for an httpUpdate (new credits).
func (s *session) httpPacket(st *httpState, m inMsg) (cont, update bool) {
	if !s.checkSeq(m) {
		return false, false
	}
	p := m.p
	if p.Type == zhttp.Data {
		if st.bodySent {
			s.respondError(zhttp.CondBadRequest)
			return false, false
		}
		s.refreshActivity()
		st.x.WriteBody(p.Body)
		if !p.More {
			st.bodySent = true
			st.x.EndBody()
		}
	}
	return true, p.Has&zhttp.HasCredits != 0
}

// httpUpdate moves what the exchange has to the initiator; false ends the
// session.
func (s *session) httpUpdate(st *httpState) bool {
	x := st.x
	// Request body bytes written to the origin are granted back while the
	// initiator is still sending (zurl stops once it has the last part).
	if n := x.TakeWritten(); n > 0 && !st.bodySent {
		c := &zhttp.Packet{Type: zhttp.Credit}
		c.SetCredits(n)
		s.send(c)
	}
	if e := x.Err(); e != nil {
		s.srv.log.Debugf("id=%s: %v", s.rid, e)
		// What is still buffered is dropped, as zurl does when libcurl
		// reports the failure in the same update as the last bytes.
		s.respondError(e.Condition)
		return false
	}
	head := x.Head()
	if head == nil {
		return true
	}
	s.refreshActivity()

	if !st.outStream {
		if buf := x.Read(-1); len(buf) > 0 {
			if st.maxSize >= 0 && st.received+len(buf) > st.maxSize {
				s.respondError(zhttp.CondMaxSizeExceeded)
				return false
			}
			st.inbuf = append(st.inbuf, buf...)
			st.received += len(buf)
		}
		if buffered, done := x.Pending(); !done || buffered > 0 {
			return true
		}
		p := s.headPacket(head)
		if len(st.inbuf) > 0 {
			p.Body = st.inbuf
		}
		s.send(p)
		return false
	}

	for {
		buffered, done := x.Pending()
		if st.sentHead && buffered == 0 && !done {
			return true
		}
		if !s.quiet && s.credits < 1 {
			return true
		}
		limit := s.credits
		if s.quiet {
			limit = -1
		}
		var sent int
		var more, tooBig bool
		// Encode straight from the exchange's buffer (one copy per byte).
		x.Consume(limit, func(b []byte, m bool) bool {
			if len(b) > 0 && st.maxSize >= 0 && st.received+len(b) > st.maxSize {
				tooBig = true
				return false
			}
			var p *zhttp.Packet
			if !st.sentHead {
				p = s.headPacket(head)
				st.sentHead = true
			} else {
				p = &zhttp.Packet{}
			}
			if len(b) > 0 {
				p.Body = b
			}
			p.More = m
			s.send(p)
			sent, more = len(b), m
			return true
		})
		if tooBig {
			s.respondError(zhttp.CondMaxSizeExceeded)
			return false
		}
		st.received += sent
		if !s.quiet {
			s.credits -= sent
		}
		if !more {
			return false
		}
		if sent == 0 {
			return true
		}
	}
}

func (s *session) headPacket(h *httpclient.Head) *zhttp.Packet {
	p := &zhttp.Packet{Reason: h.Reason, Headers: h.Header}
	p.SetCode(h.Code)
	return p
}
