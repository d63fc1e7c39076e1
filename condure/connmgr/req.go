package connmgr

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/pebbe/zmq4"

	"github.com/pushpin-go/pushpin/condure/http1"
	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// reqClient owns the req-mode DEALER (--zclient-req): each request goes out
// whole as ["", T{...}] with no "from" or "seq", and the single complete
// response comes back on the same socket (reference §1.5, verified).
type reqClient struct {
	log    *slog.Logger
	ctx    context.Context
	dealer *zmqx.Actor

	mu      sync.Mutex
	pending map[string]chan *zhttp.Packet
}

func newReqClient(ctx context.Context, zc *zmqx.Context, cfg *Config) (*reqClient, error) {
	z := &reqClient{log: cfg.Log, ctx: ctx, pending: make(map[string]chan *zhttp.Packet)}
	hwm := max((cfg.ReqMaxConn+cfg.StreamMaxConn)/20, 1)
	var err error
	z.dealer, err = newActor(ctx, zc, cfg, zmqx.Config{
		Name: "zhttp-req", Type: zmq4.DEALER,
		Options: []zmqx.SocketOption{zmqx.HWM(hwm)},
		Handler: z.onMessage,
	}, cfg.ZClientReq)
	if err != nil {
		return nil, err
	}
	return z, nil
}

func (z *reqClient) onMessage(_ *zmqx.Actor, msg [][]byte) {
	raw, err := zhttp.ParseDealerMessage(msg)
	if err != nil {
		z.log.Debug("zhttp req: dropping message", "err", err)
		return
	}
	p := new(zhttp.Packet)
	if _, err := zhttp.Decode(raw, p); err != nil {
		z.log.Warn("zhttp req: received invalid packet", "err", err)
		return
	}
	z.mu.Lock()
	ch := z.pending[string(p.ID)]
	delete(z.pending, string(p.ID))
	z.mu.Unlock()
	if ch == nil {
		z.log.Debug("zhttp req: response for unknown request", "id", string(p.ID))
		return
	}
	ch <- p // capacity 1, one response per request
}

// do sends p and waits for its response until ctx ends.
func (z *reqClient) do(ctx context.Context, p *zhttp.Packet) (*zhttp.Packet, error) {
	id := string(p.ID)
	ch := make(chan *zhttp.Packet, 1)
	z.mu.Lock()
	z.pending[id] = ch
	z.mu.Unlock()
	defer func() {
		z.mu.Lock()
		delete(z.pending, id)
		z.mu.Unlock()
	}()
	msg := zhttp.AppendT(nil, p)
	if err := z.dealer.Send(ctx, [][]byte{nil, msg}); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

const wsReqModeBody = "WebSockets not supported on req mode interface.\n"

// serveReq serves a req-mode connection: each request, body included, is
// read whole (body at most --body-buffer-size) within --req-timeout, sent
// as one packet, and answered from one response packet.
func (c *conn) serveReq(ctx context.Context) error {
	var req http1.Request
	for {
		n, err := c.readHead(ctx, &req, c.srv.cfg.ReqTimeout)
		if err != nil {
			return err
		}
		if isWebSocketUpgrade(&req) {
			c.sendSimple(req.Minor, 400, wsReqModeBody)
			return nil
		}
		persistent, err := c.serveReqOne(ctx, &req, n)
		if err != nil || !persistent {
			return err
		}
	}
}

func (c *conn) serveReqOne(ctx context.Context, req *http1.Request, headLen int) (bool, error) {
	cfg := &c.srv.cfg
	chunked, length, err := bodyFraming(req)
	if err != nil {
		return false, c.rejectHead(err)
	}
	if length > int64(cfg.BodyBufferSize) {
		c.sendSimple(req.Minor, 413, "Request body too large\n")
		return false, nil
	}
	info := newReqInfo(req)
	id := strconv.FormatUint(uint64(c.worker), 16) + "-" + strconv.FormatUint(c.slot, 16) + "-" +
		strconv.FormatUint(c.srv.nextReqID(c.worker), 16)
	p := &zhttp.Packet{ID: []byte(id), Multi: true}
	c.requestPacket(p, req, false)
	c.consume(headLen)

	rctx, cancel := context.WithTimeout(ctx, cfg.ReqTimeout)
	defer cancel()
	// The read deadline bounds reading the body; rctx bounds the wait
	// for the handler.
	c.setReadDeadline(time.Now().Add(cfg.ReqTimeout))
	body := make([]byte, 0, min(length, int64(cfg.BodyBufferSize)))
	var dec http1.ChunkedDecoder
	for {
		d := c.data()
		if chunked {
			data, used, err := dec.Next(d, cfg.BodyBufferSize+1)
			if err != nil {
				c.sendSimple(req.Minor, 400, "Bad chunked request body\n")
				return false, err
			}
			body = append(body, data...)
			c.consume(used)
			if len(body) > cfg.BodyBufferSize {
				c.sendSimple(req.Minor, 413, "Request body too large\n")
				return false, nil
			}
			if dec.Done() {
				break
			}
			if used > 0 || len(data) > 0 {
				continue
			}
		} else {
			n := min(int64(len(d)), length-int64(len(body)))
			body = append(body, d[:n]...)
			c.consume(int(n))
			if int64(len(body)) == length {
				break
			}
		}
		if c.rdErr != nil {
			return false, errClientGone
		}
		c.armRead()
		if _, _, _, err := c.waitEvent(rctx, nil); err != nil {
			return false, err
		}
	}
	p.Body = body

	// Watch the client while waiting, so a vanished client does not hold
	// a req slot until the timeout.
	type result struct {
		p   *zhttp.Packet
		err error
	}
	done := make(chan result, 1)
	// Owner: serveReqOne; it waits on done (do returns when rctx ends).
	go func() {
		r, err := c.srv.zr.do(rctx, p)
		done <- result{r, err}
		c.wake()
	}()
	var resp result
	for waiting := true; waiting; {
		select {
		case resp = <-done:
			waiting = false
			continue
		default:
		}
		if c.rdErr != nil && c.r == c.w {
			cancel()
			<-done
			return false, errClientGone
		}
		if c.rdErr != nil || (c.buf != nil && c.w-c.r >= len(c.buf)) {
			// The client finished or pipelined bytes filled the buffer:
			// stop watching it.
			resp = <-done
			break
		}
		c.armRead()
		// ctx is not rctx: the handler's answer (or its timeout) ends
		// the wait through wake.
		if _, _, _, err := c.waitEvent(ctx, nil); err != nil {
			cancel()
			<-done
			return false, err
		}
	}
	if resp.err != nil {
		if errors.Is(resp.err, context.DeadlineExceeded) {
			c.sendSimple(req.Minor, 504, "Timed out waiting for the handler\n")
		}
		return false, resp.err
	}
	r := resp.p
	if r.Type != zhttp.Data || r.Has&zhttp.HasCode == 0 {
		c.srv.log.Debug("zhttp req: error response", "id", id, "type", r.Type.String(), "condition", r.Condition)
		c.sendSimple(req.Minor, 502, "Bad response from the handler\n")
		return false, nil
	}
	hs := toResponseHeaders(r.Headers)
	plan := http1.Plan(info.minor, info.head, r.Code, hs, len(r.Body), false, info.wantPersistent)
	out := http1.AppendResponseHead(c.srv.outs.get()[:0], info.minor, r.Code, r.Reason, hs, nil, nil, plan)
	if !info.head && plan.Framing == http1.FramingLength {
		b := r.Body
		if int64(len(b)) > plan.Length {
			b = b[:plan.Length]
		}
		out = append(out, b...)
		if int64(len(b)) < plan.Length {
			plan.Persistent = false
		}
	}
	err = c.write(out)
	c.srv.outs.put(out)
	if err != nil {
		return false, err
	}
	return plan.Persistent, nil
}
