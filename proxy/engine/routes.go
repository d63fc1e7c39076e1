package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pushpin-go/pushpin/pkg/routes"
)

// routesPoll is how often the routes file is checked for changes. Pushpin
// reloads one second after a change notification; polling at the same
// period gives the same latency without a file-notification dependency.
const routesPoll = time.Second

// loadRoutesInitial builds the first routes table: from --route lines when
// given (the routes file is then ignored, as in Pushpin), else from the
// routes file. At start-up a file with bad lines is used without them (as
// Pushpin does), each bad line logged with its number.
func (e *Engine) loadRoutesInitial() error {
	if len(e.cfg.RouteLines) > 0 {
		t := routes.NewTable()
		for _, l := range e.cfg.RouteLines {
			r, err := routes.ParseLine(l)
			if err != nil {
				return fmt.Errorf("--route %q: %w", l, err)
			}
			if r == nil {
				continue
			}
			// Pushpin 1.36 gives --route lines the same default id as
			// routes-file lines (the id appears in accept "route").
			if r.ID == "" {
				r.ID = r.DefaultID()
			}
			if err := t.Add(r); err != nil {
				e.log.Warn(fmt.Sprintf("--route %q: %v", l, err))
			}
		}
		e.routes.Store(t)
		e.log.Info(fmt.Sprintf("routes loaded with %d entries", t.Len()))
		return nil
	}
	if e.cfg.RoutesFile == "" {
		e.routes.Store(routes.NewTable())
		e.log.Warn("no routes file configured")
		return nil
	}
	t, err := e.parseRoutesFile()
	if t == nil {
		e.routes.Store(routes.NewTable())
		e.log.Error(fmt.Sprintf("cannot read routes file: %v", err))
		return nil
	}
	if err != nil {
		logRouteErrors(e, err, "warn")
	}
	e.routes.Store(t)
	e.log.Info(fmt.Sprintf("routes loaded with %d entries", t.Len()))
	return nil
}

func (e *Engine) parseRoutesFile() (*routes.Table, error) {
	data, err := os.ReadFile(e.cfg.RoutesFile)
	if err != nil {
		return nil, err
	}
	t, warns, err := routes.Parse(bytes.NewReader(data), e.cfg.RoutesFile)
	for _, w := range warns {
		e.log.Warn(w.String())
	}
	return t, err
}

func logRouteErrors(e *Engine, err error, level string) {
	var errs interface{ Unwrap() []error }
	list := []error{err}
	if errors.As(err, &errs) {
		list = errs.Unwrap()
	}
	for _, le := range list {
		if level == "warn" {
			e.log.Warn(le.Error())
		} else {
			e.log.Error(le.Error())
		}
	}
}

// reloadRoutes re-reads the routes file. Unlike Pushpin, which silently
// drops bad lines, a file with any bad line is rejected as a whole and the
// routes in force stay, so a typo cannot take routes away from live
// traffic. Sessions already running keep the route they were given.
func (e *Engine) reloadRoutes() {
	t, err := e.parseRoutesFile()
	if t == nil {
		e.log.Error(fmt.Sprintf("routes file not reloaded, keeping the current routes: %v", err))
		return
	}
	if err != nil {
		logRouteErrors(e, err, "error")
		e.log.Error("routes file has errors, keeping the current routes")
		return
	}
	e.routes.Store(t)
	e.log.Info(fmt.Sprintf("routes loaded with %d entries", t.Len()))
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

// watchRoutes reloads the routes file when it changes and on SIGHUP.
func (e *Engine) watchRoutes(ctx context.Context) {
	fileMode := len(e.cfg.RouteLines) == 0 && e.cfg.RoutesFile != ""
	last := stampOf(e.cfg.RoutesFile)
	tick := time.NewTicker(routesPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.hupCh:
			if fileMode {
				e.log.Info("reloading routes")
				last = stampOf(e.cfg.RoutesFile)
				e.reloadRoutes()
			}
		case <-tick.C:
			if !fileMode {
				continue
			}
			st := stampOf(e.cfg.RoutesFile)
			if st != last {
				last = st
				e.log.Info("routes file changed, reloading")
				e.reloadRoutes()
			}
		}
	}
}
