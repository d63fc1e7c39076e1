package engine

import (
	"errors"

	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/protocol/publish"
)

// The ZeroMQ publish inputs (reference §6.4). Both decode on their actor
// goroutine and hand finished items to the loop, blocking while the loop's
// queue is full so that backpressure reaches the socket's HWM.

// onPull handles the PULL input: one frame, one item (J/T/bare/M).
func (e *Engine) onPull(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 1 {
		e.log.warnf("IN pull: received message with %d frames, skipping", len(msg))
		return
	}
	if e.log.enabled(LevelDebug) {
		e.log.debugf("IN pull: %s", trimForLog(msg[0]))
	}
	it, err := publish.DecodeMessage(msg[0], "")
	if err != nil {
		e.publishError("IN pull", err)
		return
	}
	e.publishItems([]publish.Item{it})
}

// onSub handles the SUB input: [channel, item].
func (e *Engine) onSub(_ *zmqx.Actor, msg [][]byte) {
	if len(msg) != 2 {
		e.log.warnf("IN sub: received message with %d frames, skipping", len(msg))
		return
	}
	if e.log.enabled(LevelDebug) {
		e.log.debugf("IN sub: %s %s", msg[0], trimForLog(msg[1]))
	}
	it, err := publish.DecodeMessage(msg[1], string(msg[0]))
	if err != nil {
		e.publishError("IN sub", err)
		return
	}
	e.publishItems([]publish.Item{it})
}

func (e *Engine) publishError(where string, err error) {
	e.metrics.badPublish.Add(1)
	var pe *publish.Error
	if errors.As(err, &pe) {
		e.log.warnf("%s: %s", where, pe.LogText())
		return
	}
	e.log.warnf("%s: %v", where, err)
}

// publishItems queues a decoded batch for the loop, in order.
func (e *Engine) publishItems(items []publish.Item) bool {
	return e.post(e.ctx, func() {
		for i := range items {
			e.st.receive(&items[i])
		}
	})
}
