package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/pushpin-go/pushpin/protocol/wsevents"
)

// HelloBody is what the origin answers to GET /hello: the small response of
// workload 1.
const HelloBody = "hello world\n"

// streamPreamble is the initial body of a held stream. Clients ignore lines
// that are not messages; it makes the response's first body bytes visible.
const streamPreamble = "open\n"

// Origin is the in-process backend every workload talks to through the
// stack:
//
//	GET /hello           200 text/plain HelloBody (keep-alive)
//	GET /stream/{ch}     Grip-Hold: stream on channel ch
//	POST /ws/{ch}        WebSocket-over-HTTP: OPEN is answered with OPEN and a
//	                     GRIP subscribe control message for ch
type Origin struct {
	ln  net.Listener
	srv *http.Server
	// done is closed when Serve returns.
	done chan struct{}
}

// StartOrigin listens on an ephemeral loopback port and serves until Close.
func StartOrigin() (*Origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("origin: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", serveHello)
	mux.HandleFunc("GET /stream/{ch}", serveStream)
	mux.HandleFunc("POST /ws/{ch}", serveWebSocketEvents)
	o := &Origin{
		ln: ln,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          nil,
		},
		done: make(chan struct{}),
	}
	// Owner: the Origin; Close shuts the server down and waits for it.
	go func() {
		defer close(o.done)
		_ = o.srv.Serve(ln)
	}()
	return o, nil
}

// Addr is the origin's host:port.
func (o *Origin) Addr() string { return o.ln.Addr().String() }

// Close stops the origin, waiting at most a few seconds for requests in
// flight.
func (o *Origin) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := o.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = o.srv.Close()
	}
	<-o.done
	return err
}

var helloBytes = []byte(HelloBody)

func serveHello(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{fmt.Sprint(len(helloBytes))}
	_, _ = w.Write(helloBytes)
}

func serveStream(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Grip-Hold", "stream")
	h.Set("Grip-Channel", r.PathValue("ch"))
	_, _ = io.WriteString(w, streamPreamble)
}

// serveWebSocketEvents speaks the origin side of WebSocket-over-HTTP
// (reference §5.8): GRIP control messages are honoured only when the
// response carries "Sec-WebSocket-Extensions: grip", and a CLOSE from the
// proxy must be answered with CLOSE in the same response or Pushpin treats
// the connection as uncleanly closed.
// subscribeControl is the GRIP control message an origin sends as a
// "c:"-prefixed TEXT event to subscribe the connection (reference §5.7).
type subscribeControl struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
}

func serveWebSocketEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	evs, err := wsevents.Decode(body)
	if err != nil {
		http.Error(w, "bad websocket-events body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var out []byte
	for _, ev := range evs {
		switch ev.Type {
		case wsevents.Open:
			sub, _ := json.Marshal(subscribeControl{Type: "subscribe", Channel: r.PathValue("ch")})
			out = wsevents.AppendOpen(out)
			out = wsevents.AppendText(out, append([]byte("c:"), sub...))
		case wsevents.Close:
			code, _, ok := wsevents.ParseClose(ev.Content)
			if !ok {
				code = 1000
			}
			out = wsevents.AppendClose(out, code, nil)
		}
	}
	h := w.Header()
	h.Set("Content-Type", wsevents.ContentType)
	h.Set("Sec-WebSocket-Extensions", "grip")
	_, _ = w.Write(out)
}
