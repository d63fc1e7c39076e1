// Command runner is our drop-in for Pushpin's `pushpin` command: it reads
// pushpin.conf, starts condure, zurl, the proxy and the handler with the
// argv Pushpin's runner builds, and supervises them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/pushpin-go/pushpin/pkg/config"
	plog "github.com/pushpin-go/pushpin/pkg/log"
	"github.com/pushpin-go/pushpin/runner/stack"
)

// version is what --version prints; the Pushpin release we mirror follows.
const version = "0.1.0 (compatible with pushpin 1.36.0)"

func main() {
	// "pushpin 1.36.0" is what Pushpin prints: NAME VERSION on one line,
	// which scripts parse.
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintf(c.App.Writer, "%s %s\n", c.App.Name, c.App.Version)
	}
	app := &cli.App{
		HideHelpCommand: true,
		Name:            "pushpin",
		Usage:           "start and supervise the realtime proxy's services",
		Version:         version,
		// --route lines and the like contain commas; never split them.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "config file (default: searched as Pushpin does, then deploy/pushpin.conf)"},
			&cli.StringFlag{Name: "logfile", Usage: "file to log to (default stdout)"},
			&cli.StringFlag{Name: "loglevel", Usage: "log level: N, or N,service:N,... (default 2)"},
			&cli.BoolFlag{Name: "verbose", Usage: "verbose output (log level 3)"},
			&cli.BoolFlag{Name: "merge-output", Aliases: []string{"m"}, Usage: "merge the services' output into the runner's log"},
			&cli.StringFlag{Name: "port", Usage: "[addr:]port: one plain HTTP listener instead of the configured ports"},
			&cli.IntFlag{Name: "id", Value: -1, Usage: "instance id N (ipc prefix and file prefix pN-, handler port offset N*10)"},
			&cli.StringSliceFlag{Name: "route", Usage: "route line for the proxy (repeatable; the routes file is then ignored)"},
			&cli.IntFlag{Name: "condure-instances", Usage: "number of condure processes sharing the ports (overrides [runner] condure_instances)"},
		},
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	exeDir := filepath.Dir(exe)
	opts := stack.Options{
		ConfigFile:       c.String("config"),
		ID:               c.Int("id"),
		Port:             c.String("port"),
		Routes:           c.StringSlice("route"),
		Merge:            c.Bool("merge-output"),
		CondureInstances: c.Int("condure-instances"),
		ExeDir:           exeDir,
	}
	if opts.ConfigFile == "" {
		opts.ConfigFile = findConfig(exeDir)
		if opts.ConfigFile == "" {
			return errors.New("no config file found; pass --config")
		}
	}
	if s := c.String("loglevel"); s != "" {
		lv, err := config.ParseLogLevels(s)
		if err != nil {
			return err
		}
		opts.LogLevels = &lv
	}
	if c.Bool("verbose") {
		opts.LogLevels = &config.LogLevels{Default: 3}
	}

	plan, err := stack.NewPlan(opts)
	if err != nil {
		return err
	}
	out, err := plog.NewOutput(c.String("logfile"))
	if err != nil {
		return err
	}
	defer out.Close()
	logger := plog.New(out, plog.FromNumber(plan.Level.Level("runner")), "")
	logger.Info("starting...")
	logger.Info("using config: " + plan.Config.File)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hup := make(chan struct{}, 1)
	kill := make(chan struct{})
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// Owner: run; exits when the stack has stopped (stopped is closed).
	stopped := make(chan struct{})
	go func() {
		stopping := false
		for {
			select {
			case sig := <-sigs:
				switch {
				case sig == syscall.SIGHUP:
					if err := out.Reopen(); err != nil {
						logger.Error("reopen log file: " + err.Error())
					}
					select {
					case hup <- struct{}{}:
					default:
					}
				case !stopping:
					stopping = true
					cancel()
				default:
					// A second SIGINT/SIGTERM kills the children at once.
					close(kill)
					return
				}
			case <-stopped:
				return
			}
		}
	}()
	err = stack.New(plan, logger, out).Run(ctx, hup, kill)
	close(stopped)
	return err
}

// findConfig searches where Pushpin's runner looks, then our deploy default
// next to the binary (bin/../deploy/pushpin.conf).
func findConfig(exeDir string) string {
	candidates := []string{
		"config/pushpin.conf",
		"pushpin.conf",
		"examples/config/pushpin.conf",
		"/etc/pushpin/pushpin.conf",
		filepath.Join(exeDir, "..", "deploy", "pushpin.conf"),
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}
