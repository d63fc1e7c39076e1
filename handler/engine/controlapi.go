package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/protocol/publish"
)

// The HTTP control API (reference §6.1): POST /publish/ with {"items":[…]},
// POST /recover, GET / — with pushpin-handler's status codes and texts.
// Every response closes the connection, as Pushpin's SimpleHttpServer does.

func (e *Engine) setupHTTP() error {
	if e.cfg.HTTPPort > 0 {
		addr := net.JoinHostPort(e.cfg.HTTPAddr, strconv.Itoa(e.cfg.HTTPPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("control API: %w", err)
		}
		e.httpLn = ln
		e.Endpoints.HTTP = ln.Addr().String()
		e.httpSrv = &http.Server{
			Handler:           http.HandlerFunc(e.serveControl),
			MaxHeaderBytes:    e.cfg.HTTPMaxHeadersSize,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
		}
		e.httpSrv.SetKeepAlivesEnabled(false)
	}
	if e.cfg.PrometheusPort != "" {
		if err := e.setupPrometheus(); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) startHTTP() {
	for _, p := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{e.httpSrv, e.httpLn}, {e.promSrv, e.promLn}} {
		if p.srv == nil {
			continue
		}
		e.wg.Add(1)
		go func() { // owner: run; ends when stopHTTP closes the server
			defer e.wg.Done()
			if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.log.errorf("http server %s: %v", p.ln.Addr(), err)
			}
		}()
	}
}

func (e *Engine) stopHTTP() {
	for _, srv := range []*http.Server{e.httpSrv, e.promSrv} {
		if srv != nil {
			_ = srv.Close()
		}
	}
}

// responseFormat is the negotiated reply format.
type responseFormat uint8

const (
	formatText responseFormat = iota
	formatJSON
	formatNone
)

// negotiate picks the reply format from Accept: the last recognised media
// type wins; none recognised → 406.
func negotiate(r *http.Request) responseFormat {
	vals := r.Header.Values("Accept")
	if len(vals) == 0 {
		return formatText
	}
	f := formatNone
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			switch strings.TrimSpace(strings.ToLower(mt)) {
			case "text/plain", "text/*", "*/*", "*":
				f = formatText
			case "application/json", "application/*":
				f = formatJSON
			}
		}
	}
	return f
}

type controlReply struct {
	code  int
	body  string
	json  bool
	items int
}

func (e *Engine) serveControl(w http.ResponseWriter, r *http.Request) {
	rep, after := e.control(r)
	// Queue the items before replying: a publisher that waits for each
	// reply must see its items delivered in the order it sent them, as
	// Pushpin's single event loop guarantees.
	if after != nil && !after() {
		rep = controlReply{code: http.StatusServiceUnavailable, body: "Service shutting down.\n"}
	}
	h := w.Header()
	h.Set("Connection", "close")
	if rep.json {
		h.Set("Content-Type", "application/json")
	} else {
		h.Set("Content-Type", "text/plain")
	}
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	if rep.code == http.StatusMethodNotAllowed {
		h.Set("Allow", "POST")
	}
	w.WriteHeader(rep.code)
	_, _ = io.WriteString(w, rep.body)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	line := fmt.Sprintf("control: %s %s code=%d %d", r.Method, r.URL.RequestURI(), rep.code, len(rep.body))
	if rep.items > 0 {
		line += fmt.Sprintf(" items=%d", rep.items)
	}
	e.log.infof("%s", line)
}

func message(f responseFormat, text string) (string, bool) {
	if f == formatJSON {
		return `{"message":"` + text + `"}` + "\n", true
	}
	return text + "\n", false
}

func (e *Engine) control(r *http.Request) (controlReply, func() bool) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	f := negotiate(r)
	switch path {
	case "":
		return controlReply{code: 200, body: "Pushpin API\n"}, nil
	case "/publish", "/recover":
	default:
		return controlReply{code: 404, body: "Not Found\n"}, nil
	}
	if r.Method != http.MethodPost {
		return controlReply{code: 405, body: "Method not allowed: " + r.Method + ".\n"}, nil
	}
	if f == formatNone {
		return controlReply{code: 406, body: "Not Acceptable. Supported formats are text/plain and application/json.\n"}, nil
	}
	if len(r.TransferEncoding) > 0 || r.Header.Get("Content-Length") == "" {
		return controlReply{code: 411, body: "Request requires Content-Length.\n"}, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(e.cfg.HTTPMaxBodySize)+1))
	if err != nil {
		return controlReply{code: 400, body: "Failed to read request body.\n"}, nil
	}
	if len(body) > e.cfg.HTTPMaxBodySize {
		return controlReply{code: 413, body: "Request entity too large.\n"}, nil
	}

	if path == "/recover" {
		text, js := message(f, "Updated")
		return controlReply{code: 200, body: text, json: js}, func() bool { return e.post(e.ctx, e.st.recover) }
	}

	items, err := publish.DecodeBody(body)
	if err != nil {
		e.metrics.badPublish.Add(1)
		return controlReply{code: 400, body: publishErrorText(err) + "\n"}, nil
	}
	text, js := message(f, "Published")
	return controlReply{code: 200, body: text, json: js, items: len(items)}, func() bool { return e.publishItems(items) }
}

// publishErrorText is Pushpin's reply text plus, beyond Pushpin, the index
// of the offending item (and our explanation where Pushpin gives none), so
// a publisher can find the bad item in a batch.
func publishErrorText(err error) string {
	var pe *publish.Error
	if !errors.As(err, &pe) {
		return "Invalid format: " + err.Error()
	}
	text := pe.PushpinText()
	if pe.Index >= 0 {
		text += " (item " + strconv.Itoa(pe.Index)
		if pe.Detail == "" && pe.Hint != "" {
			text += ": " + pe.Hint
		}
		text += ")"
	}
	return text
}
