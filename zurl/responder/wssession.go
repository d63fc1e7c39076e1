package responder

import (
	"strconv"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/httpclient"
)

// WebSocket session states (zurl worker.cpp).
const (
	wsStarted     = iota
	wsClosing     // we sent the initiator's close; waiting for the origin's
	wsPeerClosing // the origin closed; waiting for the initiator's close
	wsCloseWait   // both closes seen; waiting for ours to be written
)

type wsState struct {
	w         *wsClient
	state     int
	connected bool
	wsClosed  bool // the initiator sent close
	sending   bool // a fragmented message from the initiator is open
}

func (s *session) runWS(p *zhttp.Packet) {
	srv := s.srv
	srv.log.Logf(s.infoLvl, "IN id=%s, %s", s.rid, p.URI)
	if s.inSeq != 0 {
		srv.log.Warnf("websocket input must start with seq 0")
		s.respondError(zhttp.CondBadRequest)
		return
	}
	if len(s.to) == 0 {
		srv.log.Warnf("websocket input must provide from address")
		s.respondError(zhttp.CondBadRequest)
		return
	}
	u, err := httpclient.ParseURI(p.URI, "ws", "wss")
	if err != nil {
		srv.log.Warnf("id=%s: bad uri: %v", s.rid, err)
		s.respondError(zhttp.CondBadRequest)
		return
	}
	if !s.allowed(p, u.Host) || (p.ConnectHost != "" && !s.allowed(p, p.ConnectHost)) {
		s.respondError(zhttp.CondPolicyViolation)
		return
	}
	if p.Has&zhttp.HasCredits != 0 {
		s.credits += p.Credits
	}
	t := &httpclient.Target{Host: u.Host, Port: u.Port, ConnectHost: p.ConnectHost,
		IgnorePolicies: p.IgnorePolicies, TrustConnectHost: p.TrustConnectHost, IgnoreTLSErrors: p.IgnoreTLSErrors}
	if p.Has&zhttp.HasConnectPort != 0 {
		t.ConnectPort = p.ConnectPort
	}
	// gorilla derives the address from the URI; the dialer ignores it and
	// connects to the target, so only the scheme and path matter here.
	dialURI := u.Scheme + "://" + u.HostHeader + u.Target
	if u.Port != defaultPort(u.Scheme) {
		dialURI = u.Scheme + "://" + hostPort(u.Host, u.Port) + u.Target
	}
	hdr := requestHeaders(p, u)

	timers := s.startTimers(-1)
	defer timers.stop()
	st := &wsState{w: dialWS(srv, dialURI, hdr, t, srv.cfg.BufferSize)}
	defer st.w.close()

	for {
		select {
		case <-s.inbox.ready:
			batch := s.inbox.take(s.batch)
			for _, m := range batch {
				if !s.wsPacket(st, m) {
					return
				}
			}
			s.batch = batch
		case <-st.w.notify:
			if !s.wsUpdate(st) {
				return
			}
		case <-s.kick:
			s.respondCancel()
			return
		case <-timers.C():
			switch timers.fired() {
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

func defaultPort(scheme string) int {
	if scheme == "wss" || scheme == "https" {
		return 443
	}
	return 80
}

func hostPort(h string, port int) string {
	for i := 0; i < len(h); i++ {
		if h[i] == ':' {
			return "[" + h + "]:" + strconv.Itoa(port)
		}
	}
	return h + ":" + strconv.Itoa(port)
}

func (s *session) wsPacket(st *wsState, m inMsg) bool {
	if !s.checkSeq(m) {
		return false
	}
	p := m.p
	switch p.Type {
	case zhttp.Data, zhttp.Close, zhttp.Ping, zhttp.Pong:
		if st.wsClosed {
			s.respondError(zhttp.CondBadRequest)
			return false
		}
		if !st.connected {
			// zurl would write into a socket that is not open yet; the
			// initiator may not send before our accept packet.
			s.respondError(zhttp.CondBadRequest)
			return false
		}
	}
	switch p.Type {
	case zhttp.Data:
		s.refreshActivity()
		binary := p.ContentType == zhttp.ContentBinary
		st.w.enqueue(wsOp{kind: zhttp.Data, data: p.Body, binary: binary, more: p.More})
		st.sending = p.More
	case zhttp.Ping, zhttp.Pong:
		s.refreshActivity()
		st.w.enqueue(wsOp{kind: p.Type})
	case zhttp.Close:
		code := -1
		if p.Has&zhttp.HasCode != 0 {
			code = p.Code
		}
		st.w.enqueue(wsOp{kind: zhttp.Close, code: code, data: p.Body})
		st.wsClosed = true
		if st.state == wsStarted {
			st.state = wsClosing
		} else {
			st.state = wsCloseWait
		}
	}
	if p.Has&zhttp.HasCredits != 0 {
		return s.wsUpdate(st)
	}
	return true
}

func (s *session) wsUpdate(st *wsState) bool {
	w := st.w
	w.mu.Lock()
	head, rej, cond := w.head, w.rejected, w.err
	written := w.written
	w.written = nil
	closeSent := w.closeSent
	w.mu.Unlock()

	if rej != nil {
		// Debian's zurl 1.11.1 reports a rejection with the status code and
		// body only: reason and headers come back empty (verified against
		// the binary), and we match it.
		p := &zhttp.Packet{Type: zhttp.Error, Condition: zhttp.CondRejected, Body: rej.body}
		p.SetCode(rej.head.Code)
		if p.Body == nil {
			p.Body = []byte{}
		}
		s.send(p)
		return false
	}
	if !st.connected && head != nil {
		st.connected = true
		s.refreshActivity()
		p := &zhttp.Packet{Reason: head.Reason, Headers: head.Header, Multi: s.multi}
		p.SetCode(head.Code)
		p.SetCredits(s.srv.cfg.BufferSize)
		s.send(p)
	}
	if len(written) > 0 {
		// Writes completed together are granted together, as zurl sums
		// the frames of one framesWritten signal (ping/pong count 0).
		sum := 0
		for _, n := range written {
			sum += n
		}
		c := &zhttp.Packet{Type: zhttp.Credit}
		c.SetCredits(sum)
		s.send(c)
	}
	if !s.deliverFrames(st) {
		return false
	}
	if cond != "" {
		s.respondError(cond)
		return false
	}
	if st.state == wsCloseWait && closeSent {
		return false
	}
	return true
}

// deliverFrames passes queued origin frames to the initiator in order, data
// only when the credits cover it (ping and pong cost nothing).
func (s *session) deliverFrames(st *wsState) bool {
	w := st.w
	for {
		w.mu.Lock()
		if len(w.in) == 0 {
			w.mu.Unlock()
			return true
		}
		// Like zurl, a frame goes out whole, once the credits cover it.
		if it := &w.in[0]; it.kind == zhttp.Data && s.credits < len(it.data) {
			w.mu.Unlock()
			return true
		}
		item := w.in[0]
		w.in = w.in[1:]
		w.inBytes -= len(item.data)
		w.mu.Unlock()
		wake(w.space)

		switch item.kind {
		case zhttp.Data:
			s.credits -= len(item.data)
			p := &zhttp.Packet{Body: item.data, More: item.more}
			if item.binary {
				p.ContentType = zhttp.ContentBinary
			}
			s.refreshActivity()
			s.send(p)
		case zhttp.Ping, zhttp.Pong:
			s.send(&zhttp.Packet{Type: item.kind})
		case zhttp.Close:
			// An empty reason is left out, as Debian's zurl does.
			p := &zhttp.Packet{Type: zhttp.Close}
			if len(item.data) > 0 {
				p.Body = item.data
			}
			if item.code >= 0 {
				p.SetCode(item.code)
			}
			s.send(p)
			if st.state == wsClosing {
				return false
			}
			st.state = wsPeerClosing
		}
	}
}
