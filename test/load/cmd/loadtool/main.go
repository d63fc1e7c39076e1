// Command loadtool runs the side-by-side load workloads of issue 8 against
// Debian's Pushpin and our stack and prints our figure, Pushpin's and the
// ratio, with the targets marked pass or fail (`make bench`).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/pushpin-go/pushpin/test/load"
)

func main() {
	app := &cli.App{
		Name:  "loadtool",
		Usage: "measure our stack against Debian's Pushpin 1.36, side by side",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quick", Usage: "smaller counts: the whole run takes about two minutes"},
			&cli.StringFlag{Name: "bin", Value: "bin", Usage: "folder of our binaries (runner, condure, zurl, proxy, handler)"},
			&cli.StringFlag{Name: "pushpin", Value: "pushpin", Usage: "Debian's pushpin runner"},
			&cli.StringFlag{Name: "impls", Value: "pushpin,ours", Usage: "stacks to run, in order"},
			&cli.StringFlag{Name: "only", Usage: "comma-separated workloads to run (w1,w2,w3,w4,w5,w6)"},
			&cli.StringFlag{Name: "out", Value: "bench.json", Usage: "JSON results file"},
			&cli.StringFlag{Name: "workdir", Usage: "parent of the per-run temp dirs (default: the system temp dir)"},
			&cli.BoolFlag{Name: "keep", Usage: "keep every run dir (failed runs' dirs are always kept)"},
			&cli.IntFlag{Name: "loglevel", Value: 1, Usage: "the stacks' log level (0 error … 3 debug)"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress lines"},
		},
		Action: run,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "loadtool:", err)
		os.Exit(1)
	}
}

func run(c *cli.Context) error {
	opts := load.Options{Mode: "full", Sizes: load.FullSizes(), WorkDir: c.String("workdir"),
		Keep: c.Bool("keep"), LogLevel: c.Int("loglevel"), Progress: os.Stderr}
	if c.Bool("quick") {
		opts.Mode, opts.Sizes = "quick", load.QuickSizes()
	}
	if c.Bool("quiet") {
		opts.Progress = nil
	}
	for _, s := range split(c.String("impls")) {
		switch load.Impl(s) {
		case load.Pushpin, load.Ours:
			opts.Impls = append(opts.Impls, load.Impl(s))
		default:
			return fmt.Errorf("--impls: unknown stack %q (want pushpin or ours)", s)
		}
	}
	for _, w := range split(c.String("only")) {
		switch w {
		case "w1", "w2", "w3", "w4", "w5", "w6":
			opts.Only = append(opts.Only, w)
		default:
			return fmt.Errorf("--only: unknown workload %q", w)
		}
	}
	bin, err := filepath.Abs(c.String("bin"))
	if err != nil {
		return fmt.Errorf("--bin: %w", err)
	}
	opts.OurRunner = filepath.Join(bin, "runner")
	if p, err := exec.LookPath(c.String("pushpin")); err == nil {
		opts.PushpinRunner, _ = filepath.Abs(p)
	} else {
		// Recorded as every Pushpin run's error rather than aborting, so
		// our figures are still measured.
		opts.PushpinRunner = c.String("pushpin")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := load.Bench(ctx, opts)
	if rep == nil {
		return err
	}
	if werr := rep.WriteJSON(c.String("out")); werr != nil {
		err = errors.Join(err, werr)
	}
	if terr := rep.WriteTable(os.Stdout); terr != nil {
		err = errors.Join(err, terr)
	}
	fmt.Fprintln(os.Stdout, "JSON results:", c.String("out"))
	return err
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
