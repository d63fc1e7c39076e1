// Package harness starts Pushpin's processes — Debian's binaries or ours —
// for multi-process end-to-end and interop tests, and gives tests the
// clients, origins and ZeroMQ peers they need to talk to them.
//
// Every process runs with generated configuration in a per-test temp dir:
// pushpin.conf with rundir and logdir inside the temp dir, every TCP listener
// on a free loopback port (never Pushpin's defaults 5560–5563/7999), zurl.conf
// with its sockets in the run dir and an empty deny list, and a routes file.
// Readiness is detected by polling (socket files exist, ports accept, HTTP
// answers), always bounded by a timeout. Logs are written to files in the temp
// dir and printed when the test fails. Processes are stopped by their own pid
// (SIGTERM, then SIGKILL after a grace period) from t.Cleanup, and the harness
// checks that nothing it started is left running.
//
// The invariant a reader must know: everything a helper starts is owned by
// the testing.TB it was given and is torn down by that TB's cleanup, in the
// reverse order of starting; nothing outlives the test.
//
// Which binary runs is chosen per component with an Impl: Debian runs the
// installed Pushpin 1.36 binary (the test is skipped when it is missing), Ours
// runs the binary from $PUSHPIN_GO_BIN (default: the module's bin/ folder; the
// test fails when it is missing — run `make build`). Both are started with the
// same command line, the one Pushpin's runner builds (reference §1.2).
//
// A typical end-to-end test:
//
//	o := harness.NewOrigin(t)
//	o.Handle("/stream", harness.GripHold("stream", "news", "text/plain", "start\n"))
//	in := harness.Stack{
//		Condure: harness.Debian, Zurl: harness.Debian,
//		Proxy: harness.Debian, Handler: harness.Ours, // swap any component
//		Routes: []string{"* " + o.Target()},
//	}.Start(t)
//	s := harness.OpenStream(t, harness.NewRequest(t, "GET", in.HTTPURL()+"/stream", nil))
//	in.Stats.WaitSubscribed(t, "news", 5*time.Second)
//	harness.Publish(t, in.ControlURL(), harness.HTTPStreamItem("news", "hello\n"))
//	got, err := s.ReadUntil("hello\n", 5*time.Second)
//
// Protocol-level tests of one component use StartCondure or StartZurl (a
// standalone process with its ZHTTP sockets in a temp dir) with a ZPeer
// (NewZResponder behind condure, NewZInitiator in front of zurl).
package harness
