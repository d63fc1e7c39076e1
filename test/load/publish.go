package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// warmUp publishes warm-up messages to every channel whose connected
// subscribers have not all received one, in batches of 100 items, every interval, until
// every connected subscriber is warm or the timeout passes. It then waits until no
// warm-up message has arrived for quiet (at most 5 s), so stragglers do not
// overlap the measured messages. It returns how many subscribers are warm.
func warmUp(ctx context.Context, pub *Publisher, sink *Sink, interval, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for round := 0; round < 100000 && time.Now().Before(deadline) && ctx.Err() == nil; round++ {
		chans := sink.unwarmedChannels()
		if len(chans) == 0 {
			break
		}
		for i := 0; i < len(chans); i += 100 {
			batch := make([]Msg, 0, 100)
			for _, ch := range chans[i:min(i+100, len(chans))] {
				batch = append(batch, Msg{Channel: ch, Content: warmPayload})
			}
			if err := pub.Publish(ctx, batch); err != nil {
				lastErr = err
			}
		}
		waitUntil(ctx, time.Now().Add(interval), func() bool { return sink.Warmed() >= sink.NumConnected() })
	}
	// Quiet period: no warm-up message for 300 ms, bounded at 5 s.
	quietEnd := time.Now().Add(5 * time.Second)
	last := sink.warmRecv.Load()
	for time.Now().Before(quietEnd) && ctx.Err() == nil {
		time.Sleep(300 * time.Millisecond)
		cur := sink.warmRecv.Load()
		if cur == last {
			break
		}
		last = cur
	}
	w, c := sink.Warmed(), sink.NumConnected()
	if w < c {
		if lastErr != nil {
			return w, fmt.Errorf("only %d of %d connected subscribers received a warm-up message within %v (last publish error: %v)", w, c, timeout, lastErr)
		}
		return w, fmt.Errorf("only %d of %d connected subscribers received a warm-up message within %v", w, c, timeout)
	}
	return w, nil
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
