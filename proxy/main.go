// Command proxy is our drop-in replacement for pushpin-proxy 1.36: it takes
// the same command line from Pushpin's runner (or ours) and serves the same
// sockets. See package proxy/engine.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/urfave/cli/v2"

	plog "github.com/pushpin-go/pushpin/pkg/log"
	"github.com/pushpin-go/pushpin/proxy/engine"
)

const version = "0.1.0 (compatible with pushpin-proxy 1.36.0)"

// defaultConfig is Pushpin's <CONFIGDIR>/pushpin.conf on Debian.
const defaultConfig = "/etc/pushpin/pushpin.conf"

// defaultLibDir is Pushpin's LIBDIR on Debian; when it holds no
// internal.conf, pkg/config uses its built-in copy.
const defaultLibDir = "/usr/lib/pushpin"

func main() {
	app := &cli.App{
		Name:    "pushpin-proxy",
		Usage:   "Pushpin proxy component.",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "config file", Value: defaultConfig},
			&cli.StringFlag{Name: "logfile", Usage: "file to log to"},
			&cli.StringFlag{Name: "loglevel", Usage: "log level (default: 2)", Value: "2"},
			&cli.BoolFlag{Name: "verbose", Usage: "verbose output, same as --loglevel=3"},
			&cli.StringFlag{Name: "ipc-prefix", Usage: "override ipc_prefix config option"},
			&cli.StringSliceFlag{Name: "route", Usage: "add route (overrides routes file); repeatable"},
			&cli.BoolFlag{Name: "quiet-check", Usage: "log update checks in zurl as debug level (accepted for compatibility)"},
			&cli.StringSliceFlag{Name: "set", Usage: "override a config key: section.key=value; repeatable"},
			&cli.StringFlag{Name: "libdir", Usage: "where internal.conf is looked for", Value: defaultLibDir},
		},
		// --route lines and --set values contain commas.
		DisableSliceFlagSeparator: true,
		Action:                    run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	level, err := strconv.Atoi(c.String("loglevel"))
	if err != nil || level < 0 {
		return fmt.Errorf("bad --loglevel %q", c.String("loglevel"))
	}
	if c.Bool("verbose") {
		level = 3
	}
	out, err := plog.NewOutput(c.String("logfile"))
	if err != nil {
		return err
	}
	defer out.Close()
	logger := plog.New(out, plog.FromNumber(level), "")

	cfg, err := engine.LoadConfig(engine.LoadOptions{
		ConfigFile: c.String("config"),
		IPCPrefix:  c.String("ipc-prefix"),
		LibDir:     c.String("libdir"),
		RouteLines: c.StringSlice("route"),
		Set:        c.StringSlice("set"),
		Log:        logger,
	})
	if err != nil {
		logger.Error(err.Error())
		return err
	}
	e, err := engine.New(cfg)
	if err != nil {
		logger.Error(err.Error())
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// Owner: run; exits when ctx is cancelled.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGHUP {
					if err := out.Reopen(); err != nil {
						logger.Error("reopen log file: " + err.Error())
					}
					e.Reload()
					continue
				}
				cancel()
				return
			}
		}
	}()
	if err := e.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error(err.Error())
		return err
	}
	return nil
}
