package harness

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// CondureOptions configures a standalone condure (no Pushpin around it),
// the arrangement of reference Appendix B.
type CondureOptions struct {
	// Impl is Debian or Ours.
	Impl Impl
	// ID is --id ("" = condure's default "condure").
	ID string
	// BufferSize is --buffer-size (0 = 8192, condure's default and the
	// runner's client_buffer_size).
	BufferSize int
	// LogLevel is --log-level (0 = 2, info).
	LogLevel int
	// Args are appended to the command line.
	Args []string
	// ReadyTimeout bounds the start (0 = DefaultReadyTimeout).
	ReadyTimeout time.Duration
}

// CondureServer is a running standalone condure with one stream listener on a
// free loopback port and its ZHTTP client sockets bound under a temp dir.
type CondureServer struct {
	Proc *Process
	// Addr is the HTTP listener, "127.0.0.1:port".
	Addr string
	// Base is --zclient-stream; Out, OutStream and In are the PUSH, ROUTER
	// and SUB condure binds from it (BASE-out, BASE-out-stream, BASE-in).
	Base, Out, OutStream, In string
	// ID is condure's instance id (the "from" of its packets).
	ID string
	// Dir holds the ipc files and condure.log.
	Dir string
}

// StartCondure starts condure --listen=127.0.0.1:<free>,stream
// --zclient-stream=ipc://<tmp>/client and waits until it listens and has
// bound its sockets.
func StartCondure(tb testing.TB, o CondureOptions) *CondureServer {
	tb.Helper()
	bin := Binary(tb, Condure, o.Impl)
	dir := RunDir(tb)
	c := &CondureServer{Dir: dir, Addr: "127.0.0.1:" + strconv.Itoa(FreePort(tb)), ID: o.ID}
	if c.ID == "" {
		c.ID = "condure"
	}
	c.Base = "ipc://" + filepath.Join(dir, "client")
	c.Out, c.OutStream, c.In = c.Base+"-out", c.Base+"-out-stream", c.Base+"-in"
	bs, level := o.BufferSize, o.LogLevel
	if bs == 0 {
		bs = 8192
	}
	if level == 0 {
		level = 2
	}
	args := []string{
		"--log-level=" + strconv.Itoa(level),
		"--listen=" + c.Addr + ",stream",
		"--zclient-stream=" + c.Base,
		"--buffer-size=" + strconv.Itoa(bs),
		"--stream-maxconn=1000",
	}
	if o.ID != "" {
		args = append(args, "--id="+o.ID)
	}
	args = append(args, o.Args...)
	logPath := filepath.Join(dir, "condure.log")
	dumpLogsOnFailureFiles(tb, logPath)
	c.Proc = StartProcess(tb, ProcessSpec{Name: "condure", Path: bin, Args: args, Dir: dir, Output: logPath})
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = DefaultReadyTimeout
	}
	if err := waitProc(c.Proc, timeout, func() error {
		if err := WaitIPC(0, c.Out, c.OutStream, c.In); err != nil {
			return err
		}
		return WaitTCP(0, c.Addr)
	}); err != nil {
		tb.Fatalf("harness: condure not ready: %v", err)
	}
	return c
}

// ResponderSpecs are the sockets a ZHTTP responder connects to.
func (c *CondureServer) ResponderSpecs() ZResponderSpecs {
	return ZResponderSpecs{In: c.Out, InStream: c.OutStream, Out: c.In}
}

// URL is the listener's base URL ("http://127.0.0.1:port").
func (c *CondureServer) URL() string { return "http://" + c.Addr }

// ZurlOptions configures a standalone zurl.
type ZurlOptions struct {
	// Impl is Debian or Ours.
	Impl Impl
	// InstanceID is instance_id ("" = "zurl-test").
	InstanceID string
	// BufferSize is buffer_size (0 = 200000).
	BufferSize int
	// Timeout is the inactivity timeout in seconds (0 = 600).
	Timeout int
	// Deny is the deny list (default empty, so 127.0.0.1 origins work).
	Deny string
	// Req also binds the req interface (in_req_spec, ROUTER).
	Req bool
	// Verbose starts zurl with --verbose (debug), else --loglevel=2.
	Verbose bool
	// ReadyTimeout bounds the start (0 = DefaultReadyTimeout).
	ReadyTimeout time.Duration
}

// ZurlServer is a running standalone zurl with its sockets bound under a temp
// dir.
type ZurlServer struct {
	Proc *Process
	// Config is the zurl.conf it runs with; ConfigPath where it is.
	Config     ZurlConfig
	ConfigPath string
	// Dir holds the ipc files, zurl.conf and zurl.log.
	Dir string
}

// StartZurl writes a zurl.conf with instance_id and in_spec,
// in_stream_spec, out_spec (and in_req_spec) under a temp dir, starts zurl
// --config=… and waits until its sockets are bound.
func StartZurl(tb testing.TB, o ZurlOptions) *ZurlServer {
	tb.Helper()
	bin := Binary(tb, Zurl, o.Impl)
	dir := RunDir(tb)
	id := o.InstanceID
	if id == "" {
		id = "zurl-test"
	}
	z := &ZurlServer{Dir: dir, ConfigPath: filepath.Join(dir, "zurl.conf")}
	z.Config = ZurlConfig{
		InstanceID:   id,
		InSpec:       "ipc://" + filepath.Join(dir, "zurl-in"),
		InStreamSpec: "ipc://" + filepath.Join(dir, "zurl-in-stream"),
		OutSpec:      "ipc://" + filepath.Join(dir, "zurl-out"),
		Deny:         o.Deny,
		BufferSize:   o.BufferSize,
		Timeout:      o.Timeout,
	}
	if o.Req {
		z.Config.InReqSpec = "ipc://" + filepath.Join(dir, "zurl-req")
	}
	if err := os.WriteFile(z.ConfigPath, []byte(z.Config.Render()), 0o644); err != nil {
		tb.Fatalf("harness: %v", err)
	}
	logPath := filepath.Join(dir, "zurl.log")
	args := []string{"--config=" + z.ConfigPath, "--logfile=" + logPath}
	if o.Verbose {
		args = append(args, "--verbose")
	} else {
		args = append(args, "--loglevel=2")
	}
	outPath := filepath.Join(dir, "zurl.out")
	dumpLogsOnFailureFiles(tb, logPath, outPath)
	z.Proc = StartProcess(tb, ProcessSpec{Name: "zurl", Path: bin, Args: args, Dir: dir, Output: outPath})
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = DefaultReadyTimeout
	}
	specs := []string{z.Config.InSpec, z.Config.InStreamSpec, z.Config.OutSpec}
	if o.Req {
		specs = append(specs, z.Config.InReqSpec)
	}
	if err := waitProc(z.Proc, timeout, func() error { return WaitIPC(0, specs...) }); err != nil {
		tb.Fatalf("harness: zurl not ready: %v", err)
	}
	return z
}

// ID is zurl's instance id (the "from" of its packets and its DEALER
// identity).
func (z *ZurlServer) ID() string { return z.Config.InstanceID }

// InitiatorSpecs are the sockets a ZHTTP initiator connects to.
func (z *ZurlServer) InitiatorSpecs() ZInitiatorSpecs {
	return ZInitiatorSpecs{Out: z.Config.InSpec, OutStream: z.Config.InStreamSpec, In: z.Config.OutSpec}
}

// waitProc polls ready until it succeeds, the process exits, or timeout.
func waitProc(p *Process, timeout time.Duration, ready func() error) error {
	return Poll(timeout, p.Spec.Name+" readiness", func() (bool, error) {
		if done, err := p.Exited(); done {
			return false, &exitedError{name: p.Spec.Name, err: err, output: p.Spec.Output}
		}
		err := ready()
		return err == nil, err
	})
}

type exitedError struct {
	name, output string
	err          error
}

func (e *exitedError) Error() string {
	return e.name + " exited during start-up (" + errString(e.err) + "); see " + e.output
}

// Unwrap makes the error end a Poll at once.
func (e *exitedError) Unwrap() error { return ErrGiveUp }

func errString(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// dumpLogsOnFailureFiles is dumpLogsOnFailure for individual files.
func dumpLogsOnFailureFiles(tb testing.TB, paths ...string) {
	tb.Cleanup(func() {
		if !tb.Failed() {
			return
		}
		for _, p := range paths {
			tail, size, err := tailFile(p, maxDump)
			if err != nil {
				continue
			}
			tb.Logf("==== %s (%d bytes) ====\n%s", p, size, tail)
		}
	})
}
