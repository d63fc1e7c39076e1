// Command handler is a drop-in replacement for pushpin-handler 1.36: it
// accepts the argv Pushpin's runner builds (--config, --ipc-prefix,
// --logfile, --loglevel, --verbose, --port-offset) and runs the handler
// engine until SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/pushpin-go/pushpin/handler/engine"
	"github.com/pushpin-go/pushpin/pkg/config"
	plog "github.com/pushpin-go/pushpin/pkg/log"
)

// Pushpin's compiled locations (Debian): the config used without --config,
// and the lib dir holding internal.conf. When internal.conf is not there,
// pkg/config uses its built-in copy.
const (
	defaultConfig = "/etc/pushpin/pushpin.conf"
	defaultLibDir = "/usr/lib/pushpin"
)

func main() {
	app := &cli.App{
		Name:  "pushpin-handler",
		Usage: "Pushpin handler component.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "Config file.", Value: defaultConfig},
			&cli.StringFlag{Name: "logfile", Usage: "File to log to."},
			&cli.StringFlag{Name: "loglevel", Usage: "Log level (default: 2).", Value: "2"},
			&cli.BoolFlag{Name: "verbose", Usage: "Verbose output. Same as --loglevel=3."},
			&cli.StringFlag{Name: "ipc-prefix", Usage: "Override ipc_prefix config option."},
			&cli.IntFlag{Name: "port-offset", Usage: "Override port_offset config option."},
		},
		HideHelpCommand: true,
		Action:          run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	level, err := plog.ParseLevel(c.String("loglevel"))
	if err != nil {
		return err
	}
	if c.Bool("verbose") {
		level = plog.LevelDebug
	}
	out, err := plog.NewOutput(c.String("logfile"))
	if err != nil {
		return err
	}
	defer out.Close()
	logger := plog.New(out, level, "")

	opts := config.Options{LibDir: defaultLibDir, IPCPrefix: c.String("ipc-prefix")}
	if c.IsSet("port-offset") {
		n := c.Int("port-offset")
		opts.PortOffset = &n
	}
	conf, err := config.Load(c.String("config"), opts)
	if err != nil {
		return err
	}
	for _, w := range conf.Warnings {
		logger.Warn(w.String())
	}
	cfg, err := engine.FromFile(conf)
	if err != nil {
		return fmt.Errorf("%s: %w", conf.File, err)
	}
	cfg.Logger = logger

	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// SIGHUP reopens the log file (rotation), as Pushpin does.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() { // owner: run; exits with ctx
		for {
			select {
			case <-hup:
				_ = out.Reopen()
			case <-ctx.Done():
				return
			}
		}
	}()
	return e.Run(ctx)
}
