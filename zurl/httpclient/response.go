package httpclient

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
)

// respHead is a parsed response head plus what framing needs.
type respHead struct {
	head            Head
	proto11         bool
	close           bool // Connection: close, or HTTP/1.0 without keep-alive
	chunked         bool
	contentLength   int64 // -1 unknown
	contentEncoding string
	location        string // set only for a redirect to follow
}

var errHeadTooLarge = errors.New("response head too large")

// readHead reads a response head, skipping interim 1xx blocks other than
// 101. n is the number of bytes consumed (0 means the connection was found
// closed before anything arrived). With followRedirects, a 3xx carrying
// Location is reported through location.
func readHead(br *bufio.Reader, followRedirects bool) (*respHead, int, error) {
	total := 0
	for {
		h, n, err := readOneHead(br, &total)
		if err != nil {
			return nil, total, err
		}
		_ = n
		if h.head.Code >= 100 && h.head.Code < 200 && h.head.Code != 101 {
			continue
		}
		if followRedirects && h.head.Code >= 300 && h.head.Code < 400 {
			for _, hd := range h.head.Header {
				if strings.EqualFold(hd.Name, "Location") {
					h.location = strings.TrimSpace(hd.Value)
				}
			}
		}
		return h, total, nil
	}
}

func readLine(br *bufio.Reader, total *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*total += len(line)
	if err == bufio.ErrBufferFull || *total > maxHeaderBytes {
		return nil, errHeadTooLarge
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
	return line, nil
}

// readOneHead parses one status line and header block. Header names and
// values keep their case and order; the reason phrase is everything after
// the code, as zurl passes it on.
func readOneHead(br *bufio.Reader, total *int) (*respHead, int, error) {
	line, err := readLine(br, total)
	if err != nil {
		return nil, 0, err
	}
	h, err := parseStatusLine(string(line))
	if err != nil {
		return nil, 0, err
	}
	for {
		line, err := readLine(br, total)
		if err != nil {
			return nil, 0, err
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obsolete folding: continue the previous value
			if n := len(h.head.Header); n > 0 {
				h.head.Header[n-1].Value += " " + strings.TrimSpace(string(line))
			}
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return nil, 0, fmt.Errorf("malformed header line %q", truncate(line))
		}
		name := string(line[:i])
		value := strings.TrimLeft(string(line[i+1:]), " \t")
		h.head.Header = append(h.head.Header, zhttp.Header{Name: name, Value: value})
		h.noteHeader(name, value)
	}
	return h, *total, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func parseStatusLine(line string) (*respHead, error) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	codeStr, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || code < 100 || code > 999 {
		return nil, fmt.Errorf("malformed status code in %q", line)
	}
	h := &respHead{head: Head{Code: code, Reason: reason}, contentLength: -1}
	h.proto11 = proto != "HTTP/1.0" && proto != "HTTP/0.9"
	h.close = !h.proto11
	return h, nil
}

func (h *respHead) noteHeader(name, value string) {
	switch strings.ToLower(name) {
	case "connection":
		for _, tok := range strings.Split(value, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "close":
				h.close = true
			case "keep-alive":
				if !h.proto11 {
					h.close = false
				}
			}
		}
	case "transfer-encoding":
		toks := strings.Split(value, ",")
		h.chunked = strings.EqualFold(strings.TrimSpace(toks[len(toks)-1]), "chunked")
	case "content-length":
		if n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64); err == nil && n >= 0 {
			h.contentLength = n
		}
	case "content-encoding":
		h.contentEncoding = strings.TrimSpace(value)
	}
}

// bodyReader frames the body that follows a head and says whether the
// connection can carry another request once the body has been read.
func bodyReader(br *bufio.Reader, method string, h *respHead) (io.Reader, bool) {
	code := h.head.Code
	if method == "HEAD" || code == 204 || code == 304 || (code >= 100 && code < 200) {
		return eofReader{}, !h.close
	}
	if h.chunked {
		return httputil.NewChunkedReader(br), !h.close
	}
	if h.contentLength >= 0 {
		return &lengthReader{r: br, n: h.contentLength}, !h.close
	}
	// Delimited by the connection closing.
	return br, false
}

// lengthReader reads a body of a stated Content-Length. Unlike
// io.LimitReader it reports a connection that ends early as
// io.ErrUnexpectedEOF: libcurl fails such a transfer (CURLE_PARTIAL_FILE)
// and zurl answers undefined-condition instead of a short body.
type lengthReader struct {
	r io.Reader
	n int64 // bytes still expected
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err == io.EOF {
		if l.n > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// newDecoder undoes a Content-Encoding as libcurl does for zurl
// (CURLOPT_HTTP_CONTENT_DECODING). Codings are applied in the order
// listed, so they are removed in reverse. An encoding it does not know is
// passed through undecoded (d == nil).
func newDecoder(enc string, r io.Reader) (d io.Reader, c io.Closer, err error) {
	toks := strings.Split(enc, ",")
	var closers multiCloser
	cur := r
	decoded := false
	for i := len(toks) - 1; i >= 0; i-- {
		switch strings.ToLower(strings.TrimSpace(toks[i])) {
		case "identity", "":
			continue
		case "gzip", "x-gzip":
			cur = &lazyReader{open: func(src io.Reader) (io.Reader, error) {
				z, err := gzip.NewReader(src)
				if err == nil {
					z.Multistream(true)
				}
				return z, err
			}, src: cur}
		case "deflate":
			cur = &lazyReader{open: openDeflate, src: cur}
		case "br":
			cur = brotli.NewReader(cur)
		case "zstd":
			z, err := zstd.NewReader(cur, zstd.WithDecoderConcurrency(1))
			if err != nil {
				return nil, nil, err
			}
			closers = append(closers, closerFunc(func() error { z.Close(); return nil }))
			cur = z
		default:
			if !decoded {
				return nil, nil, nil
			}
			return nil, nil, fmt.Errorf("unsupported content-encoding %q", toks[i])
		}
		decoded = true
	}
	if !decoded {
		return nil, nil, nil
	}
	return cur, closers, nil
}

// openDeflate reads "deflate" as zlib-wrapped, falling back to a raw
// deflate stream, which some servers send (libcurl accepts both).
func openDeflate(src io.Reader) (io.Reader, error) {
	br := bufio.NewReader(src)
	hdr, err := br.Peek(2)
	if err != nil && len(hdr) < 2 {
		if err == io.EOF {
			return eofReader{}, nil
		}
		return nil, err
	}
	if (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 && hdr[0]&0x0f == 8 {
		return zlib.NewReader(br)
	}
	return flate.NewReader(br), nil
}

// lazyReader opens its decoder on first Read, so building the pipeline
// never blocks on the origin.
type lazyReader struct {
	open func(io.Reader) (io.Reader, error)
	src  io.Reader
	r    io.Reader
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil {
		r, err := l.open(l.src)
		if err != nil {
			// io.EOF here is an empty body, which decodes to nothing.
			return 0, err
		}
		l.r = r
	}
	return l.r.Read(p)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	for _, c := range m {
		c.Close()
	}
	return nil
}

// ParseHead parses a complete response head (status line, headers and the
// blank line), keeping header case and order and the reason phrase as
// sent. The WebSocket client uses it on the handshake response it records.
func ParseHead(b []byte) (*Head, error) {
	total := 0
	h, _, err := readOneHead(bufio.NewReader(bytes.NewReader(b)), &total)
	if err != nil {
		return nil, err
	}
	return &h.head, nil
}
