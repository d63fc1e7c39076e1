// Package httpclient is zurl's outbound HTTP/1.1 client: it reproduces what
// an origin and a ZHTTP initiator observe when Debian's zurl (libcurl 7.88)
// makes a request, and paces response bodies the way zurl does.
//
// Why not net/http's Transport: zurl passes response headers through with
// their original case and order and the status line's reason phrase
// verbatim, and libcurl writes request headers in a fixed order (Host,
// Accept, Accept-Encoding, the caller's headers, then Content-Length or
// Transfer-Encoding). net/http canonicalises and reorders both, adds its
// own User-Agent and only decodes gzip. It also reads bodies eagerly into
// its own buffers, while zurl holds at most 200000 bytes per request and
// stops reading from the origin until the initiator's credits drain them.
// A small client of our own keeps all of that exact; net/http/httputil's
// chunked reader/writer and the standard TLS stack do the framing work.
//
// Behaviour mirrored from zurl 1.11.1 + libcurl (verified against Debian's
// zurl with a raw TCP origin, see test/zurl):
//   - Request: "Host" first (the caller's value), "Accept: */*" unless the
//     caller sent Accept, "Accept-Encoding: deflate, gzip, br, zstd", then
//     the caller's headers in order (Connection, Keep-Alive,
//     Accept-Encoding, Content-Encoding, Transfer-Encoding, Expect and
//     Content-Length are dropped; headers with an empty value are not sent,
//     as libcurl treats "Name:" as a removal), then "Content-Length" when the
//     length is known and the method carries a body, or
//     "Transfer-Encoding: chunked" when a body of unknown length follows.
//     POST, PUT and unknown methods without a body send "Content-Length: 0".
//   - The request target is sent exactly as written in the URI
//     (CURLOPT_PATH_AS_IS), without the fragment.
//   - Response bodies in gzip, deflate, br or zstd are decoded; the
//     Content-Encoding header is kept and Content-Length is removed.
//   - A body shorter than its Content-Length, or a broken chunked body,
//     fails the exchange (libcurl's CURLE_PARTIAL_FILE; zurl answers
//     undefined-condition); bytes still buffered when the failure is seen
//     are not delivered.
//   - 100 Continue blocks are skipped; with redirects enabled, 3xx
//     responses carrying Location are followed (method and body kept, as
//     with CURLOPT_POSTREDIR=ALL) up to the limit, then too-many-redirects.
//   - Every address a name resolves to is checked against the access
//     policy; denied addresses are skipped, and when all were denied the
//     request fails with policy-violation. IPv6 addresses are used only when
//     allowed.
//   - TLS certificates are verified against the URI host (and the
//     connect-host when trust-connect-host is set), unless
//     ignore-tls-errors; only HTTP/1.1 is offered (Debian's libcurl would
//     negotiate HTTP/2 with TLS origins that offer it).
package httpclient
