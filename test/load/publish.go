package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Format is the publish format a workload's subscribers consume.
type Format int

// The formats used by the workloads.
const (
	HTTPStream Format = iota // http-stream: a line per message
	WSMessage                // ws-message: a text message per message
)

// Publisher posts items to the handler's HTTP control API (reference §6.1),
// which answers each POST and closes the connection.
type Publisher struct {
	URL    string
	Format Format
	client *http.Client
}

// NewPublisher publishes to url (…/publish/).
func NewPublisher(url string, f Format) *Publisher {
	return &Publisher{URL: url, Format: f, client: &http.Client{Timeout: 30 * time.Second}}
}

type pubItem struct {
	Channel string         `json:"channel"`
	Formats map[string]any `json:"formats"`
}

type pubContent struct {
	Content string `json:"content"`
}

// Msg is one item: content to a channel.
type Msg struct{ Channel, Content string }

// Publish sends msgs in one POST. For http-stream each content gets the
// newline the subscribers split lines on.
func (p *Publisher) Publish(ctx context.Context, msgs []Msg) error {
	items := make([]pubItem, len(msgs))
	for i, m := range msgs {
		var f map[string]any
		switch p.Format {
		case HTTPStream:
			f = map[string]any{"http-stream": pubContent{Content: m.Content + "\n"}}
		case WSMessage:
			f = map[string]any{"ws-message": pubContent{Content: m.Content}}
		}
		items[i] = pubItem{Channel: m.Channel, Formats: f}
	}
	body, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		return fmt.Errorf("publish: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("publish: status %d: %q", resp.StatusCode, rb)
	}
	return nil
}

// warmUp makes sure every connected subscriber is subscribed before the
// measured messages go out: it publishes a warm-up message to every channel
// that has a connected subscriber without one, waits until that burst has
// been delivered (no warm-up message arrived for settle), and repeats. It
// stops when every connected subscriber is warm, when a round brought no
// new warm subscriber for stallRounds rounds in a row (a subscriber the
// stack lost), or at the timeout. Waiting for each burst to land before the
// next keeps a slow stack from being flooded with warm-up messages that
// would still be queued when the measurement starts.
func warmUp(ctx context.Context, pub *Publisher, sink *Sink, settle, timeout time.Duration) (int64, error) {
	const stallRounds = 3
	deadline := time.Now().Add(timeout)
	var lastErr error
	stalled := 0
	for round := 0; round < 1000 && time.Now().Before(deadline) && ctx.Err() == nil; round++ {
		chans := sink.unwarmedChannels()
		if len(chans) == 0 {
			break
		}
		before := sink.Warmed()
		for i := 0; i < len(chans); i += 100 {
			batch := make([]Msg, 0, 100)
			for _, ch := range chans[i:min(i+100, len(chans))] {
				batch = append(batch, Msg{Channel: ch, Content: warmPayload})
			}
			if err := pub.Publish(ctx, batch); err != nil {
				lastErr = err
			}
		}
		waitQuiet(ctx, &sink.warmRecv, settle, deadline)
		if sink.Warmed() > before {
			stalled = 0
		} else if stalled++; stalled >= stallRounds {
			break
		}
	}
	w, c := sink.Warmed(), sink.NumConnected()
	if w < c {
		msg := fmt.Sprintf("%d of %d connected subscribers never received a warm-up message (lost by the stack)", c-w, c)
		if lastErr != nil {
			msg += fmt.Sprintf("; last publish error: %v", lastErr)
		}
		return w, errors.New(msg)
	}
	return w, nil
}

// waitQuiet waits until counter has first moved and then not moved for
// settle, or until settle×20 passed without it moving at all, bounded by
// deadline.
func waitQuiet(ctx context.Context, counter *atomic.Int64, settle time.Duration, deadline time.Time) {
	start := counter.Load()
	last, lastChange := start, time.Now()
	firstWait := time.Now().Add(20 * settle)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(settle / 10)
		cur := counter.Load()
		switch {
		case cur != last:
			last, lastChange = cur, time.Now()
		case cur == start && time.Now().After(firstWait):
			return
		case cur != start && time.Since(lastChange) >= settle:
			return
		}
	}
}

// waitUntil polls cond every 10 ms until it holds, the deadline passes or
// ctx ends. It reports whether cond held.
func waitUntil(ctx context.Context, deadline time.Time, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitDeliveries waits until every expected delivery has arrived, or no
// new one arrived for idle, or the hard deadline passes.
func waitDeliveries(ctx context.Context, sink *Sink, idle time.Duration, deadline time.Time) {
	last := sink.Delivered()
	lastChange := time.Now()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		cur := sink.Delivered()
		if cur >= sink.Expected() {
			return
		}
		if cur != last {
			last, lastChange = cur, time.Now()
		} else if time.Since(lastChange) > idle {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
