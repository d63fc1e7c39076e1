package http1

import "errors"

// ErrBodyFraming is a malformed chunked body (bad size line, missing CRLF
// after a chunk, oversized chunk-size or trailer section).
var ErrBodyFraming = errors.New("http1: malformed chunked body")

// Limits that keep a hostile chunked body from making the decoder buffer
// without bound: a chunk-size line (with extensions) and each trailer line
// must fit in these many bytes; the caller's read buffer holds them.
const (
	maxChunkLine   = 4096
	maxTrailerSize = 8192
)

type chunkState uint8

const (
	chunkSize chunkState = iota
	chunkData
	chunkDataCRLF
	chunkTrailer
	chunkDone
)

// ChunkedDecoder decodes a chunked request body (RFC 9112 §7.1)
// incrementally without copying: Next hands back slices of the input.
// Extensions are ignored; trailers are read and discarded.
type ChunkedDecoder struct {
	state     chunkState
	remaining int64 // bytes left in the current chunk
	trailer   int   // trailer bytes seen
}

// Done reports whether the terminating chunk and trailers were consumed.
func (d *ChunkedDecoder) Done() bool { return d.state == chunkDone }

// Next consumes framing from src and returns the next run of body bytes (a
// slice of src, possibly empty) and how many bytes of src it consumed. It
// returns as soon as it has data, needs more input (consumed may be less
// than len(src): keep the rest and call again with more appended), or the
// body is done. max bounds the data returned (the caller's credits); 0
// means decode framing only until data is reached.
func (d *ChunkedDecoder) Next(src []byte, max int) (data []byte, consumed int, err error) {
	pos := 0
	for {
		switch d.state {
		case chunkDone:
			return nil, pos, nil
		case chunkSize:
			line, next, ok, err := chunkLine(src, pos)
			if err != nil {
				return nil, pos, err
			}
			if !ok {
				return nil, pos, nil
			}
			n, err := parseChunkSize(line)
			if err != nil {
				return nil, pos, err
			}
			pos = next
			if n == 0 {
				d.state = chunkTrailer
			} else {
				d.remaining = n
				d.state = chunkData
			}
		case chunkData:
			avail := len(src) - pos
			if avail == 0 || max <= 0 {
				return nil, pos, nil
			}
			n := int64(avail)
			if n > d.remaining {
				n = d.remaining
			}
			if n > int64(max) {
				n = int64(max)
			}
			data = src[pos : pos+int(n)]
			pos += int(n)
			d.remaining -= n
			if d.remaining == 0 {
				d.state = chunkDataCRLF
			}
			return data, pos, nil
		case chunkDataCRLF:
			if pos >= len(src) {
				return nil, pos, nil
			}
			if src[pos] == '\n' {
				pos++
				d.state = chunkSize
				continue
			}
			if src[pos] != '\r' {
				return nil, pos, ErrBodyFraming
			}
			if pos+1 >= len(src) {
				return nil, pos, nil
			}
			if src[pos+1] != '\n' {
				return nil, pos, ErrBodyFraming
			}
			pos += 2
			d.state = chunkSize
		case chunkTrailer:
			line, next, ok, err := chunkLine(src, pos)
			if err != nil {
				return nil, pos, err
			}
			if !ok {
				return nil, pos, nil
			}
			d.trailer += next - pos
			if d.trailer > maxTrailerSize {
				return nil, pos, ErrBodyFraming
			}
			pos = next
			if len(line) == 0 {
				d.state = chunkDone
			}
		}
	}
}

// chunkLine returns the line at pos (without CRLF/LF) if complete.
func chunkLine(src []byte, pos int) (line []byte, next int, ok bool, err error) {
	end := len(src)
	if end-pos > maxChunkLine {
		end = pos + maxChunkLine
	}
	for i := pos; i < end; i++ {
		if src[i] == '\n' {
			line = src[pos:i]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, i + 1, true, nil
		}
	}
	if len(src)-pos >= maxChunkLine {
		return nil, 0, false, ErrBodyFraming
	}
	return nil, 0, false, nil
}

// parseChunkSize parses "hex[;ext]" allowing whitespace before extensions.
func parseChunkSize(line []byte) (int64, error) {
	var n int64
	digits := 0
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			goto rest
		}
		if digits >= 15 { // 2^60: far beyond any body we forward
			return 0, ErrBodyFraming
		}
		n = n<<4 | int64(v)
		digits++
	}
rest:
	if digits == 0 {
		return 0, ErrBodyFraming
	}
	for ; i < len(line); i++ {
		c := line[i]
		if c == ';' {
			return n, nil
		}
		if c != ' ' && c != '\t' {
			return 0, ErrBodyFraming
		}
	}
	return n, nil
}
