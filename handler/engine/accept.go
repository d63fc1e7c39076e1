package engine

import (
	"net/url"
	"sort"
	"strings"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/handoff"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

// zrpcCall is a decoded ZRPC request with the envelope to answer it on.
type zrpcCall struct {
	env zrpc.Envelope
	req zrpc.Request
}

// parseCall decodes a ZRPC server message. The envelope is copied: the
// actor reuses the outer frame slice.
func parseCall(msg [][]byte) (zrpcCall, error) {
	env, raw, err := zrpc.ParseServerMessage(msg)
	if err != nil {
		return zrpcCall{}, err
	}
	req, err := zrpc.DecodeRequest(raw)
	if err != nil {
		return zrpcCall{}, err
	}
	return zrpcCall{env: append(zrpc.Envelope(nil), env...), req: req}, nil
}

// reply answers a ZRPC call. The reply actors have queues deep enough for
// every call the proxy can have outstanding (replyQueueSize); if one is
// full all the same the reply is dropped and logged, and the proxy's call
// times out, rather than the loop blocking.
func (e *Engine) reply(a *zmqx.Actor, env zrpc.Envelope, resp zrpc.Response) {
	if err := a.TrySend(env.Reply(resp.Encode())); err != nil {
		e.metrics.replyDropped.Add(1)
		e.log.warnf("%s: cannot send reply: %v", a.Name(), err)
	}
}

// onInspect answers inspect on the actor goroutine: it needs no engine
// state. Pushpin 1.36 always lets the request through (no-proxy false) and
// gives a sharing key to next-link requests and, with share_all, to all
// (reference §4.2).
func (e *Engine) onInspect(a *zmqx.Actor, msg [][]byte) {
	call, err := parseCall(msg)
	if err != nil {
		e.log.warnf("inspect: received invalid request: %v", err)
		return
	}
	if call.req.Method != zrpc.MethodInspect {
		e.reply(a, call.env, zrpc.Failure(call.req.ID, zrpc.CondMethodNotFound, tnetstring.Value{}))
		return
	}
	args, err := handoff.ParseInspectArgs(call.req.Args)
	if err != nil {
		e.reply(a, call.env, zrpc.Failure(call.req.ID, zrpc.CondBadRequest, tnetstring.Value{}))
		return
	}
	d := handoff.InspectData{}
	switch {
	case args.AutoShare && args.Method == "GET":
		d.SharingKey = autoSharingKey(args)
	case e.cfg.ShareAll:
		d.SharingKey = args.Method + "|" + args.URI
	}
	e.reply(a, call.env, zrpc.Success(call.req.ID, d.Value()))
}

// autoSharingKey is "auto|<uri without query>|<sorted Grip-Last values>".
func autoSharingKey(args handoff.InspectArgs) string {
	u := args.URI
	if p, err := url.Parse(u); err == nil {
		p.RawQuery = ""
		p.ForceQuery = false
		u = p.String()
	}
	var last []string
	for _, h := range args.Headers {
		if strings.EqualFold(h.Name, "Grip-Last") {
			last = append(last, h.Value)
		}
	}
	sort.Strings(last)
	return "auto|" + u + "|" + strings.Join(last, "|")
}

// onAccept hands accept calls to the loop.
func (e *Engine) onAccept(a *zmqx.Actor, msg [][]byte) {
	call, err := parseCall(msg)
	if err != nil {
		e.log.warnf("accept: received invalid request: %v", err)
		return
	}
	fn := func() { e.st.accept(call) }
	select {
	case e.accepts <- fn:
	case <-e.ctx.Done():
	}
}

// accept takes requests over from the proxy (reference §4.3).
func (st *state) accept(call zrpcCall) {
	a := st.e.acceptSock
	id := call.req.ID
	if call.req.Method != zrpc.MethodAccept {
		st.e.reply(a, call.env, zrpc.Failure(id, zrpc.CondMethodNotFound, tnetstring.Value{}))
		return
	}
	args, err := handoff.ParseAcceptArgs(call.req.Args)
	if err != nil {
		st.log.warnf("accept: bad args: %v", err)
		st.e.reply(a, call.env, zrpc.Failure(id, zrpc.CondBadRequest, tnetstring.Value{}))
		return
	}
	in, err := ParseInstruct(args.Response, args.OrigRequestData.URI, st.cfg.ConnectionSubscriptionMax)
	if err != nil {
		msg := instructMessage(err)
		st.log.warnf("accept: failed to parse accept instructions: %s", msg)
		st.e.reply(a, call.env, zrpc.FailureText(id, zrpc.CondBadFormat, msg))
		return
	}
	if in.Hold == NoHold && in.NextLink == "" {
		// Nothing to hold: the proxy answers the client itself.
		if args.ResponseSent {
			st.e.reply(a, call.env, zrpc.Success(id, handoff.AcceptResult{}.Value()))
			return
		}
		r := in.Response
		r.Body = nonNil(r.Body)
		st.e.reply(a, call.env, zrpc.Success(id, handoff.AcceptResult{Response: &r}.Value()))
		return
	}
	if in.Hold == StreamHold || in.Hold == NoHold {
		for _, c := range in.Channels {
			if c.HasPrev && in.NextLink == "" && in.Hold == StreamHold {
				msg := "channel '" + c.Name + "' specifies prev-id, but no next link found"
				st.e.reply(a, call.env, zrpc.FailureText(id, zrpc.CondBadFormat, msg))
				return
			}
		}
	}
	st.e.reply(a, call.env, zrpc.Success(id, handoff.AcceptResult{Accepted: true}.Value()))

	acc := &args
	// A response hold whose prev-id is behind what we published is
	// retried at once so the origin can answer with Grip-Last knowledge.
	gap := false
	if in.Hold == ResponseHold {
		for _, c := range in.Channels {
			if !c.HasPrev {
				continue
			}
			if last, ok := st.lastIDs[acc.ChannelPrefix+c.Name]; ok && last != c.PrevID {
				gap = true
			}
		}
	}
	for _, r := range args.Requests {
		if old := st.sessions[sessionKey{r.RID.Sender, r.RID.ID}]; old != nil {
			old.destroy()
		}
		hs := st.newHTTPSession(acc, r, in)
		hs.takeOver()
		if gap {
			hs.retry()
			continue
		}
		switch in.Hold {
		case NoHold:
			// Follow the next link: start the response and fetch.
			if !hs.started {
				hs.startStream()
			}
			if hs.phase == phaseActive {
				hs.fetchLink()
			}
		default:
			hs.hold()
		}
	}
}
