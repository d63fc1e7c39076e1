// Package grip reads GRIP instructions: what an origin's response tells
// Pushpin to do with the request (reference §5.2–§5.6).
//
// The proxy uses IsInstruct to decide whether a response is handed to the
// handler, and ClientHeaders / ParseStatus when it streams an initial
// response itself. The handler uses Parse to turn the origin response (and
// the request URI) into an Instruct: hold mode, channels with prev-ids and
// filters, timeouts, keep-alive, subscription meta, next link, and the
// instruct response the client sees on timeout or first on a stream.
//
// Everything mirrors pushpin-handler 1.36 (src/handler/instruct.cpp and the
// header parser of Pushpin's common library), including its quirks, because
// origins written against Pushpin rely on them: header names are
// case-insensitive; Grip-Channel, Grip-Link, Grip-Set-Meta and
// Grip-Expose-Headers are read from every occurrence and split on commas
// outside double quotes; Grip-Hold, Grip-Timeout, Grip-Status and
// Grip-Keep-Alive are read from the first occurrence only and not split;
// parameters are ";"-separated with optional quoted values; elements whose
// quoting is broken are silently skipped; numbers parse like Qt's toInt.
// Errors carry Pushpin's exact messages (Error.Msg), checked in Pushpin's
// order.
//
// The invariant a reader must keep in mind: Parse never fails on a response
// that is merely not GRIP; it returns an Instruct with NoHold and the
// cleaned response. Whether the response needed the handler at all is
// IsInstruct's question, asked by the proxy first.
package grip
