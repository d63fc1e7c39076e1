package zrpc

import (
	"github.com/pushpin-go/pushpin/protocol/tnetstring"
)

// Method names of the ZRPC services (reference §4.2, §4.3, §4.8).
const (
	MethodInspect    = "inspect"      // proxy → handler inspect socket
	MethodAccept     = "accept"       // proxy → handler accept socket
	MethodConncheck  = "conncheck"    // handler and proxy command sockets
	MethodGetZMQURIs = "get-zmq-uris" // handler command socket
	MethodRecover    = "recover"      // handler command socket
	MethodRefresh    = "refresh"      // handler and proxy command sockets
	MethodPublish    = "publish"      // handler command socket; args {"items": […]} (see protocol/publish)
	MethodReport     = "report"       // proxy command socket; args {"stats": {report}} (see protocol/stats)
)

// CondProxyRequestFailed is the handler's conncheck failure when its own
// conncheck call to the proxy failed.
const CondProxyRequestFailed = "proxy-request-failed"

// ConncheckArgs are the args of conncheck: connection ids "<sender>:<id>"
// (or WebSocket connection-id UUIDs). The value of the reply is the list of
// the ids that are alive (ConncheckResult).
type ConncheckArgs struct {
	IDs []string
}

// Value returns the args dict.
func (a ConncheckArgs) Value() tnetstring.Value {
	return tnetstring.D("ids", stringList(a.IDs))
}

// ParseConncheckArgs reads conncheck args. Like the handler, it requires
// "ids" to be a list of strings; on error the server replies bad-request.
func ParseConncheckArgs(args tnetstring.Value) (ConncheckArgs, error) {
	v, ok := args.Get("ids")
	if !ok {
		return ConncheckArgs{}, invalid("conncheck args have no ids")
	}
	ids, err := parseStringList("conncheck ids", v)
	if err != nil {
		return ConncheckArgs{}, err
	}
	return ConncheckArgs{IDs: ids}, nil
}

// ConncheckResult builds the value of a conncheck reply.
func ConncheckResult(alive []string) tnetstring.Value { return stringList(alive) }

// ParseConncheckResult reads the value of a conncheck reply.
func ParseConncheckResult(v tnetstring.Value) ([]string, error) {
	return parseStringList("conncheck result", v)
}

// RefreshArgs are the args of refresh: either one connection id (CID) or a
// channel whose WebSocket sessions are all refreshed. Exactly one is set; the
// handler checks cid first.
type RefreshArgs struct {
	CID     string
	Channel string
}

// Value returns the args dict.
func (a RefreshArgs) Value() tnetstring.Value {
	if a.CID != "" {
		return tnetstring.D("cid", tnetstring.S(a.CID))
	}
	return tnetstring.D("channel", tnetstring.S(a.Channel))
}

// ParseRefreshArgs reads refresh args: "cid" wins over "channel"; a missing
// or non-string value is an error (the handler replies bad-request).
func ParseRefreshArgs(args tnetstring.Value) (RefreshArgs, error) {
	if v, ok := args.Get("cid"); ok {
		if v.Kind != tnetstring.String {
			return RefreshArgs{}, invalid("refresh \"cid\" must be of type string, not %s", v.Kind)
		}
		return RefreshArgs{CID: string(v.Str)}, nil
	}
	if v, ok := args.Get("channel"); ok {
		if v.Kind != tnetstring.String {
			return RefreshArgs{}, invalid("refresh \"channel\" must be of type string, not %s", v.Kind)
		}
		return RefreshArgs{Channel: string(v.Str)}, nil
	}
	return RefreshArgs{}, invalid("refresh args have neither cid nor channel")
}

// ZMQURIs is the value of get-zmq-uris. Empty fields are omitted: the handler
// leaves out publish-sub when it connects its SUB socket
// (push_in_sub_connect) and any spec it does not have.
type ZMQURIs struct {
	Command     string
	PublishPull string
	PublishSub  string
}

// Value returns the reply value.
func (u ZMQURIs) Value() tnetstring.Value {
	d := tnetstring.Value{Kind: tnetstring.Dict}
	if u.Command != "" {
		d.Set("command", tnetstring.S(u.Command))
	}
	if u.PublishPull != "" {
		d.Set("publish-pull", tnetstring.S(u.PublishPull))
	}
	if u.PublishSub != "" {
		d.Set("publish-sub", tnetstring.S(u.PublishSub))
	}
	return d
}

// ParseZMQURIs reads the value of a get-zmq-uris reply.
func ParseZMQURIs(v tnetstring.Value) (ZMQURIs, error) {
	if v.Kind != tnetstring.Dict {
		return ZMQURIs{}, invalid("get-zmq-uris value is a %s, not a dict", v.Kind)
	}
	var u ZMQURIs
	var err error
	if u.Command, err = optString("get-zmq-uris value", v, "command"); err != nil {
		return ZMQURIs{}, err
	}
	if u.PublishPull, err = optString("get-zmq-uris value", v, "publish-pull"); err != nil {
		return ZMQURIs{}, err
	}
	if u.PublishSub, err = optString("get-zmq-uris value", v, "publish-sub"); err != nil {
		return ZMQURIs{}, err
	}
	return u, nil
}

func stringList(ss []string) tnetstring.Value {
	l := tnetstring.Value{Kind: tnetstring.List, List: make([]tnetstring.Value, 0, len(ss))}
	for _, s := range ss {
		l.List = append(l.List, tnetstring.S(s))
	}
	return l
}

func parseStringList(what string, v tnetstring.Value) ([]string, error) {
	if v.Kind != tnetstring.List {
		return nil, invalid("%s must be of type list, not %s", what, v.Kind)
	}
	out := make([]string, 0, len(v.List))
	for i, e := range v.List {
		if e.Kind != tnetstring.String {
			return nil, invalid("%s[%d] must be of type string, not %s", what, i, e.Kind)
		}
		out = append(out, string(e.Str))
	}
	return out, nil
}
