// Package zmqx holds the ZeroMQ plumbing shared by every daemon: parsing
// Pushpin-style endpoint spec lists, binding and connecting them the way
// Pushpin does, the socket options and high-water marks Pushpin uses, and
// the single-owner socket Actor through which all daemon code talks to a
// socket.
//
// The invariant a reader must know: a zmq4.Socket is not goroutine-safe, so
// every socket belongs to exactly one goroutine for its whole life. Daemon
// code never touches a socket directly; it hands multipart messages
// ([][]byte) to an Actor's bounded outbound queue and receives inbound
// messages through a handler called on the owner goroutine. Socket options
// that change at run time (SUB subscriptions) also go through the owner
// (Actor.Subscribe, Actor.Do).
//
// Spec lists mirror Pushpin's zutil: when a component binds a list of specs
// only the first one is bound; when it connects, every spec is connected.
// After binding an ipc:// endpoint the socket file can be chmod'ed to a
// configured octal mode (ipc_file_mode).
//
// One Context is shared per process (or per component); Context.Close stops
// every actor started on it, waits for them, and terminates the libzmq
// context. Every socket is closed with linger 0 so shutdown never blocks on
// undelivered messages.
package zmqx
