// Package load is the side-by-side load tool behind `make bench` (issue 8):
// it starts Debian's Pushpin 1.36 and our stack with equivalent generated
// configurations, runs the same workloads against each on 127.0.0.1, and
// reports our figure, Pushpin's and the ratio, with the targets
// marked pass or fail.
//
// The workloads are: proxied small GETs through a keep-alive origin (and the
// bare origin as the ceiling); HTTP-streaming fan-out on one channel;
// many channels with one subscriber each, published in batches; WebSocket-
// over-HTTP fan-out; resident memory idle and with held streams; and the rate
// of new held streaming connections.
//
// Each workload runs against a freshly started stack (the runner and its
// children in a temp run dir, every listener on an ephemeral loopback port),
// so one workload's leftovers never colour the next one's figures and a
// daemon of ours that crashes fails only the workload it crashed in.
//
// The invariant a reader must know: every loop in this package is bounded
// both in count and in time, and every process, connection and goroutine a
// workload starts is stopped before the workload returns, whatever happened.
// Publish-to-delivery latency is measured against timestamps the tool writes
// into the payload (nanoseconds since the tool's monotonic epoch), so clock
// steps cannot distort it.
package load
