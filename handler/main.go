// Command handler is a drop-in replacement for pushpin-handler 1.36: it
// accepts the argv Pushpin's runner builds (--config, --ipc-prefix,
// --logfile, --loglevel, --verbose, --port-offset), plus our runner's
// repeated --set section.key=value overrides, and runs the handler engine
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
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
	if err := newApp(run).Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

// newApp builds the command line; action runs with the parsed flags (a
// parameter so tests can check what the flags resolve to without starting
// the engine).
func newApp(action cli.ActionFunc) *cli.App {
	return &cli.App{
		Name:  "pushpin-handler",
		Usage: "Pushpin handler component.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "Config file.", Value: defaultConfig},
			&cli.StringFlag{Name: "logfile", Usage: "File to log to."},
			&cli.StringFlag{Name: "loglevel", Usage: "Log level (default: 2).", Value: "2"},
			&cli.BoolFlag{Name: "verbose", Usage: "Verbose output. Same as --loglevel=3."},
			&cli.StringFlag{Name: "ipc-prefix", Usage: "Override ipc_prefix config option."},
			&cli.IntFlag{Name: "port-offset", Usage: "Override port_offset config option."},
			&cli.StringSliceFlag{Name: "set", Usage: "Override a config key: section.key=value; repeatable."},
		},
		// --set values hold spec lists (commas); the runner passes
		// --set=proxy.condure_in_stream_specs=ipc://a,ipc://b when it runs
		// several condure instances.
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		Action:                    action,
	}
}

// loadConfig resolves the config file and the command-line overrides into
// an engine configuration, logging the config warnings to logger.
func loadConfig(c *cli.Context, logger *slog.Logger) (engine.Config, error) {
	opts := config.Options{
		LibDir:    defaultLibDir,
		IPCPrefix: c.String("ipc-prefix"),
		Set:       c.StringSlice("set"),
	}
	if c.IsSet("port-offset") {
		n := c.Int("port-offset")
		opts.PortOffset = &n
	}
	conf, err := config.Load(c.String("config"), opts)
	if err != nil {
		return engine.Config{}, err
	}
	for _, w := range conf.Warnings {
		logger.Warn(w.String())
	}
	cfg, err := engine.FromFile(conf)
	if err != nil {
		return engine.Config{}, fmt.Errorf("%s: %w", conf.File, err)
	}
	cfg.Logger = logger
	return cfg, nil
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

	cfg, err := loadConfig(c, logger)
	if err != nil {
		logger.Error(err.Error())
		return err
	}
	e, err := engine.New(cfg)
	if err != nil {
		logger.Error(err.Error())
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if prefix := os.Getenv(profileEnv); prefix != "" {
		stopProfile, err := startProfile(prefix)
		if err != nil {
			logger.Error(err.Error())
			return err
		}
		defer stopProfile(logger)
	}

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

// profileEnv names the environment variable that turns on profiling for a
// whole run (load tests): <prefix>.<pid>.cpu gets the CPU profile and
// <prefix>.<pid>.allocs the allocation profile, written at shutdown.
const profileEnv = "PUSHPIN_HANDLER_PROFILE"

// startProfile starts CPU profiling into prefix.<pid>.cpu; the returned
// function stops it and writes the allocation profile.
func startProfile(prefix string) (func(*slog.Logger), error) {
	base := fmt.Sprintf("%s.%d", prefix, os.Getpid())
	cpu, err := os.Create(base + ".cpu")
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("profile: %w", err)
	}
	return func(logger *slog.Logger) {
		pprof.StopCPUProfile()
		if err := cpu.Close(); err != nil {
			logger.Error("profile: " + err.Error())
		}
		f, err := os.Create(base + ".allocs")
		if err != nil {
			logger.Error("profile: " + err.Error())
			return
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			logger.Error("profile: " + err.Error())
		}
	}, nil
}
