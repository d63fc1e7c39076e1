// Command zurl is a drop-in replacement for zurl 1.11.1, the ZHTTP
// responder that performs Pushpin's outbound HTTP and WebSocket requests.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/pushpin-go/pushpin/zurl/config"
	"github.com/pushpin-go/pushpin/zurl/responder"
	"github.com/pushpin-go/pushpin/zurl/zlog"
)

// version is what --version prints; it names the zurl release whose
// behaviour this implementation follows.
const version = "1.11.1"

var knownFlags = map[string]bool{"config": true, "loglevel": true, "verbose": true, "logfile": true, "version": true}

// filterArgs keeps the options zurl knows. zurl ignores unknown "--x"
// options and positional arguments, and so do we.
func filterArgs(args []string) []string {
	out := []string{args[0]}
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(a[2:], "=")
		if knownFlags[name] {
			out = append(out, a)
		}
	}
	return out
}

func main() {
	app := &cli.App{
		Name:            "zurl",
		Usage:           "outbound HTTP/WebSocket ZHTTP responder",
		HideHelp:        true,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "config file", Value: config.DefaultFile},
			&cli.StringFlag{Name: "loglevel", Usage: "log level: 0 error, 1 warning, 2 info, 3 debug"},
			&cli.BoolFlag{Name: "verbose", Usage: "log level 3"},
			&cli.StringFlag{Name: "logfile", Usage: "append logs to this file"},
			&cli.BoolFlag{Name: "version", Usage: "print the version and exit"},
		},
		Action: run,
	}
	if err := app.Run(filterArgs(os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	if c.Bool("version") {
		fmt.Printf("Zurl %s\n", version)
		return nil
	}
	level := zlog.Info
	if s := c.String("loglevel"); c.IsSet("loglevel") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			zlog.New(os.Stdout, zlog.Info).Errorf("parameter to --loglevel invalid: %s", s)
			return cli.Exit("", 1)
		}
		level = n
	}
	if c.Bool("verbose") {
		level = zlog.Debug
	}
	log := zlog.New(os.Stdout, level)
	if f := c.String("logfile"); f != "" {
		l, err := zlog.Open(f, level)
		if err != nil {
			return err
		}
		defer l.Close()
		log = l
	}
	log.Infof("starting...")
	if c.IsSet("config") && c.String("config") == "" {
		log.Errorf("parameter to --config missing")
		return cli.Exit("", 1)
	}
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		log.Errorf("%v", err)
		return cli.Exit("", 1)
	}
	srv, err := responder.New(responder.Options{Config: cfg, Log: log})
	if err != nil {
		log.Errorf("%v", err)
		return cli.Exit("", 1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() { // owner: run; exits with ctx
		for {
			select {
			case <-hup:
				log.Infof("reloading")
				if err := log.Reopen(); err != nil {
					log.Errorf("%v", err)
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	err = srv.Run(ctx)
	log.Infof("stopping...")
	if err != nil {
		log.Errorf("%v", err)
		return cli.Exit("", 1)
	}
	log.Infof("stopped")
	return nil
}
