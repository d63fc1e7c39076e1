package engine

import (
	"fmt"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
	"github.com/pushpin-go/pushpin/protocol/zrpc"
)

// commandHandler serves the proxy's ZRPC command socket (reference §4.8):
// conncheck, refresh and report. It runs on the ROUTER's owner goroutine,
// so every method answers without blocking.
func (e *Engine) commandHandler(a *zmqx.Actor, msg [][]byte) {
	env, b, err := zrpc.ParseServerMessage(msg)
	if err != nil {
		e.log.Warn(fmt.Sprintf("zrpc server: %v", err))
		return
	}
	req, err := zrpc.DecodeRequest(b)
	if err != nil {
		e.log.Warn(fmt.Sprintf("zrpc server: received message with invalid format: %v", err))
		return
	}
	e.log.Debug("zrpc server: IN " + dumpTnet(b))
	resp := e.command1(req)
	out := resp.Encode()
	e.log.Debug("zrpc server: OUT " + dumpTnet(out))
	if err := a.TrySend(env.Reply(out)); err != nil {
		e.log.Warn(fmt.Sprintf("zrpc server: cannot reply: %v", err))
	}
}

func (e *Engine) command1(req zrpc.Request) zrpc.Response {
	switch req.Method {
	case zrpc.MethodConncheck:
		args, err := zrpc.ParseConncheckArgs(req.Args)
		if err != nil {
			return zrpc.Failure(req.ID, zrpc.CondBadRequest, tnetstring.Value{})
		}
		return zrpc.Success(req.ID, zrpc.ConncheckResult(e.stats.alive(args.IDs)))
	case zrpc.MethodRefresh:
		args, err := zrpc.ParseRefreshArgs(req.Args)
		if err != nil || args.CID == "" {
			return zrpc.Failure(req.ID, zrpc.CondBadRequest, tnetstring.Value{})
		}
		if !e.wsctl.refresh(args.CID) {
			return zrpc.Failure(req.ID, zrpc.CondItemNotFound, tnetstring.Value{})
		}
		return zrpc.Success(req.ID, tnetstring.N())
	case zrpc.MethodReport:
		// The report only feeds Pushpin's update checker, which we never
		// run; Pushpin with updates_check off answers the same (verified),
		// whatever the args.
		return zrpc.Failure(req.ID, zrpc.CondServiceUnavailable, tnetstring.Value{})
	}
	return zrpc.Failure(req.ID, zrpc.CondMethodNotFound, tnetstring.Value{})
}
