package engine

import (
	"fmt"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// retryHandler receives retry packets (reference §4.4): the handler gives
// back requests it held so that they are proxied to the origin again. Each
// request's server session is recreated from the state in the packet.
func (e *Engine) retryHandler(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		e.log.Warn("retry: received message with wrong number of parts")
		return
	}
	pkt, err := handoff.DecodeRetry(msg[0])
	if err != nil {
		e.log.Warn(fmt.Sprintf("retry: received message with invalid format: %v", err))
		return
	}
	for _, rq := range pkt.Requests {
		rq := rq
		info := &retryInfo{route: pkt.Route, inspect: pkt.Inspect, https: rq.HTTPS, peer: rq.PeerAddress,
			debug: rq.Debug, aco: rq.AutoCrossOrigin, jsonpCB: rq.JSONPCallback, jsonpEx: rq.JSONPExtendedResponse}
		rd := pkt.RequestData
		req := &zhttp.Packet{From: []byte(rq.RID.Sender), ID: []byte(rq.RID.ID), Method: rd.Method, URI: rd.URI,
			Headers: rd.Headers, Body: rd.Body, PeerAddress: rq.PeerAddress}
		e.wg.Add(1)
		// Owner: Run (e.wg); exits when the retried request is done.
		go func() {
			defer e.wg.Done()
			e.serveRetry(rq, req, info)
		}()
	}
}

func (e *Engine) serveRetry(rq handoff.RetryRequest, req *zhttp.Packet, info *retryInfo) {
	ctx := e.ctx
	s, err := e.newServerSession(e.condure, rq.RID.Sender, rq.RID.ID)
	if err != nil {
		e.log.Warn("retry: " + err.Error())
		return
	}
	defer s.close()
	// Continue the counters the handler had (it continued ours).
	s.inSeq, s.outSeq, s.credits = rq.InSeq, rq.OutSeq, rq.OutCredits
	s.peerMulti = true
	e.serveHTTP(ctx, s, req, info)
}
