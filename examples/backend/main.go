// Command backend is the example origin that `make run` starts behind the
// stack. It answers ordinary short HTTP requests with GRIP instructions, so
// the proxy holds the client connections and the handler pushes what is
// published:
//
//	GET  /stream  HTTP streaming on channel "news"
//	GET  /sse     Server-Sent Events on channel "news", with keep-alives
//	GET  /poll    long-poll on channel "poll" (30 s, then "no news")
//	WS   /chat    WebSocket-over-HTTP chat: every message a client sends is
//	              published to the whole room (channel "room")
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	plog "github.com/pushpin-go/pushpin/pkg/log"
	"github.com/pushpin-go/pushpin/protocol/wsevents"
)

func main() {
	app := &cli.App{
		Name:  "backend",
		Usage: "example GRIP origin for the quick start",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:7900", Usage: "listen address"},
			&cli.StringFlag{Name: "publish-url", Value: "http://127.0.0.1:5561/publish/", Usage: "the handler's HTTP publish endpoint"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			b := &backend{
				publishURL: c.String("publish-url"),
				log:        plog.New(os.Stdout, plog.FromNumber(2), "backend"),
				// A publish that hangs would hold the chat request (and the
				// sender's WebSocket) with it: bound it.
				client: http.Client{Timeout: 10 * time.Second},
			}
			srv := &http.Server{Addr: c.String("addr"), Handler: b.routes(), ReadHeaderTimeout: 10 * time.Second}
			go func() { <-ctx.Done(); srv.Close() }() // owner: Action; ends with the context
			b.log.Info("listening on " + srv.Addr)
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

type backend struct {
	publishURL string
	log        *slog.Logger
	client     http.Client
}

func (b *backend) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Example backend: try /stream, /sse, /poll and ws://.../chat\n")
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Grip-Hold", "stream")
		w.Header().Set("Grip-Channel", "news")
		io.WriteString(w, "[stream open]\n")
	})
	mux.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Grip-Hold", "stream")
		w.Header().Set("Grip-Channel", "news")
		w.Header().Set("Grip-Keep-Alive", `:\n\n; format=cstring; timeout=20`)
		io.WriteString(w, ": stream open\n\n")
	})
	mux.HandleFunc("GET /poll", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Grip-Hold", "response")
		w.Header().Set("Grip-Channel", "poll")
		w.Header().Set("Grip-Timeout", "30")
		io.WriteString(w, "no news\n")
	})
	mux.HandleFunc("POST /chat", b.chat)
	return mux
}

// chat speaks WebSocket-over-HTTP: it subscribes each connection to the room
// and publishes every text message it receives to everyone in it. Published
// messages reach clients as is; only messages in this response body carry the
// grip "m:" prefix (control messages use "c:").
func (b *backend) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	events, err := wsevents.Decode(body)
	if err != nil {
		http.Error(w, "bad websocket-events body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var out []byte
	for _, ev := range events {
		switch ev.Type {
		case wsevents.Open:
			out = wsevents.AppendOpen(out)
			out = wsevents.AppendText(out, []byte(`c:{"type": "subscribe", "channel": "room"}`))
		case wsevents.Text:
			if err := b.publish("room", ev.Content); err != nil {
				b.log.Error("publish: " + err.Error())
				out = wsevents.AppendText(out, []byte("m:error: message not published"))
			}
		case wsevents.Close:
			out = wsevents.AppendClose(out, 1000, nil)
		}
	}
	w.Header().Set("Content-Type", wsevents.ContentType)
	w.Header().Set("Sec-WebSocket-Extensions", "grip")
	w.Write(out)
}

func (b *backend) publish(channel string, msg []byte) error {
	item := map[string]any{
		"channel": channel,
		"formats": map[string]any{"ws-message": map[string]string{"content": string(msg)}},
	}
	body, err := json.Marshal(map[string]any{"items": []any{item}})
	if err != nil {
		return err
	}
	resp, err := b.client.Post(b.publishURL, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
