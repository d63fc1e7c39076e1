// Command condure is a drop-in replacement for condure 1.9.1, Pushpin's
// client-facing connection manager: it takes the same options (Pushpin's
// runner passes --log-level, --listen, --zclient-stream, --buffer-size,
// --stream-maxconn and --tls-identities-dir) and serves until SIGINT or
// SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pushpin-go/pushpin/condure/connmgr"
	plog "github.com/pushpin-go/pushpin/pkg/log"
	"github.com/pushpin-go/pushpin/pkg/zmqx"
)

const version = "1.9.1"

func main() {
	app := &cli.App{
		Name:    "condure",
		Usage:   "HTTP/WebSocket connection manager",
		Version: version,
		// --listen values contain commas ("127.0.0.1:8000,stream"); they
		// must not be split into several values.
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "log-level", Value: 2, Usage: "Log level"},
			&cli.StringFlag{Name: "id", Value: connmgr.DefaultID, Usage: "Instance ID"},
			&cli.IntFlag{Name: "workers", Value: connmgr.DefaultWorkers, Usage: "Number of worker threads"},
			&cli.IntFlag{Name: "req-maxconn", Value: connmgr.DefaultReqMaxConn, Usage: "Maximum number of concurrent connections in req mode"},
			&cli.IntFlag{Name: "stream-maxconn", Value: connmgr.DefaultStreamMaxConn, Usage: "Maximum number of concurrent connections in stream mode"},
			&cli.IntFlag{Name: "buffer-size", Value: connmgr.DefaultBufferSize, Usage: "Connection buffer size (two buffers per connection)"},
			&cli.IntFlag{Name: "body-buffer-size", Value: connmgr.DefaultBodyBufferSize, Usage: "Body buffer size for connections in req mode"},
			&cli.IntFlag{Name: "messages-max", Value: connmgr.DefaultMessagesMax, Usage: "Maximum number of queued WebSocket messages per connection"},
			&cli.IntFlag{Name: "req-timeout", Value: 30, Usage: "Client timeout in req mode (seconds)"},
			&cli.IntFlag{Name: "stream-timeout", Value: 1800, Usage: "Client timeout in stream mode (seconds)"},
			&cli.StringSliceFlag{Name: "listen", Usage: "Port to listen on ([addr:]port[,params...])", Value: cli.NewStringSlice(connmgr.DefaultListen)},
			&cli.StringSliceFlag{Name: "zclient-req", Usage: "ZeroMQ client REQ spec", Value: cli.NewStringSlice(connmgr.DefaultZClientSpec)},
			&cli.StringSliceFlag{Name: "zclient-stream", Usage: "ZeroMQ client PUSH/ROUTER/SUB spec base", Value: cli.NewStringSlice(connmgr.DefaultZClientSpec)},
			&cli.BoolFlag{Name: "zclient-connect", Usage: "ZeroMQ client sockets should connect instead of bind"},
			&cli.StringFlag{Name: "ipc-file-mode", Usage: "Permissions for ZeroMQ IPC binds (octal)"},
			&cli.StringFlag{Name: "tls-identities-dir", Value: ".", Usage: "Directory containing certificates and private keys"},
			&cli.BoolFlag{Name: "compression", Usage: "Allow compression to be used"},
			&cli.BoolFlag{Name: "sizes", Usage: "Prints sizes of tasks and other objects"},
			&cli.IntFlag{Name: "head-timeout", Value: int(connmgr.DefaultHeadTimeout / time.Second), Usage: "Seconds a client may take to send a request head (not in condure 1.9.1)"},
		},
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	if c.Bool("sizes") {
		// condure prints its task sizes; ours are goroutines and pooled
		// buffers, whose sizes follow from --buffer-size.
		fmt.Printf("read buffer per active connection: %d bytes (pooled, released when idle)\n", c.Int("buffer-size"))
		return nil
	}
	level := c.Int("log-level")
	if level < 0 {
		return fmt.Errorf("log-level %d: must be >= 0", level)
	}
	logger := plog.New(os.Stdout, plog.FromNumber(level), "condure")

	cfg := connmgr.Config{
		ID:               c.String("id"),
		Workers:          c.Int("workers"),
		ReqMaxConn:       c.Int("req-maxconn"),
		StreamMaxConn:    c.Int("stream-maxconn"),
		BufferSize:       c.Int("buffer-size"),
		BodyBufferSize:   c.Int("body-buffer-size"),
		MessagesMax:      c.Int("messages-max"),
		ReqTimeout:       time.Duration(c.Int("req-timeout")) * time.Second,
		StreamTimeout:    time.Duration(c.Int("stream-timeout")) * time.Second,
		HeadTimeout:      time.Duration(c.Int("head-timeout")) * time.Second,
		ZClientReq:       c.StringSlice("zclient-req"),
		ZClientStream:    c.StringSlice("zclient-stream"),
		ZClientConnect:   c.Bool("zclient-connect"),
		TLSIdentitiesDir: c.String("tls-identities-dir"),
		Compression:      c.Bool("compression"),
		Log:              logger,
	}
	for _, s := range c.StringSlice("listen") {
		l, err := connmgr.ParseListen(s)
		if err != nil {
			return err
		}
		cfg.Listen = append(cfg.Listen, l)
	}
	if m := c.String("ipc-file-mode"); m != "" {
		mode, err := zmqx.ParseIPCMode(m)
		if err != nil {
			return fmt.Errorf("ipc-file-mode: %w", err)
		}
		cfg.IPCFileMode = mode
	}
	srv, err := connmgr.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Info("starting...")
	return srv.Run(ctx)
}
