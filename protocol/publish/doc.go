// Package publish is the model of GRIP publish items: what a publisher sends
// to the handler to be delivered to the connections subscribed to a channel
// (reference §6.1–§6.6).
//
// An Item names a channel and carries up to three formats, one per kind of
// subscriber: HTTPResponse (long-poll holds), HTTPStream (stream holds) and
// WSMessage (WebSocket sessions). Items arrive in four encodings, all decoded
// into the same typed Item by one set of rules, so a field means the same
// thing whichever way it came:
//
//   - JSON: the HTTP control API body {"items":[…]} (DecodeBody) and single
//     items on the ZeroMQ PULL/SUB inputs prefixed with 'J' (DecodeMessage).
//     Fields ending in "-bin" carry base64, decoded as leniently as Qt does
//     (characters outside the alphabet, padding included, are skipped).
//   - tnetstring: single items on the ZeroMQ inputs prefixed with 'T' or bare
//     (first byte a digit), and the handler command socket's publish args
//     (DecodeCommandArgs). Strings are bytes. As in Pushpin, http-response
//     reads only "body" and http-stream only "content" here, while
//     ws-message "content-bin" holds raw bytes (default type binary).
//   - msgpack (our extension; Pushpin has no equivalent): single items on the
//     ZeroMQ inputs prefixed with 'M'. The field names are the JSON ones;
//     str and bin are both accepted wherever bytes are expected, "-bin"
//     fields hold raw bytes (not base64), ints and floats are numbers, and
//     nil is treated as an absent optional field (as tnetstring null is).
//
// Validation mirrors pushpin-handler 1.36 (src/handler/publishitem.cpp,
// publishformat.cpp): the same fields are checked in the same order and the
// first problem is reported with Pushpin's exact text (Error.Detail), so the
// HTTP API can answer byte-for-byte like Pushpin, while Error.Error adds the
// item's index in the batch and, where Pushpin says nothing (an unknown
// action), what was actually wrong. A batch with one bad item is rejected
// whole, as in Pushpin.
//
// The invariant a reader must keep in mind: byte fields of an Item decoded
// from tnetstring or msgpack (Body, Content) may alias the decoded message;
// do not modify or reuse the message buffer while the Item is alive. Items
// decoded from JSON own their bytes.
//
// Encoding back (Item.AppendJSON, AppendTnet, AppendMsgpack, AppendBodyJSON,
// CommandArgs) produces what the decoders accept, so publishing tools and
// tests can round-trip; ApplyPatch implements the RFC 6902 JSON Patch used by
// "body-patch".
package publish
