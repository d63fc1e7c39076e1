package engine

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pushpin-go/pushpin/protocol/stats"
)

// setupPrometheus serves the metrics of reference §8.2 (same names, types
// and help texts, prefixed with prometheus_prefix) on prometheus_port, on
// every path as Pushpin does, plus our own counters for what the limits
// drop.
func (e *Engine) setupPrometheus() error {
	m := e.metrics
	reg := prometheus.NewRegistry()
	prefix := e.cfg.PrometheusPrefix
	values := map[string]func() float64{
		"request_received":     func() float64 { return float64(m.requestsReceived.Load()) },
		"connection_connected": func() float64 { return float64(m.connMax.Load()) },
		"connection_minute":    func() float64 { return float64(m.connMinutes.Load()) },
		"message_received":     func() float64 { return float64(m.received.Load()) },
		"message_sent":         func() float64 { return float64(m.sent.Load()) },
	}
	for _, d := range stats.Metrics {
		opts := prometheus.Opts{Name: prefix + d.Name, Help: d.Help}
		f := values[d.Name]
		if f == nil {
			continue
		}
		if d.Type == "gauge" {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts), f))
		} else {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts(opts), f))
		}
	}
	extra := []struct {
		name, help string
		f          func() float64
	}{
		{"message_hwm_dropped", "Number of deliveries dropped because a route exceeded message_hwm", func() float64 { return float64(m.hwmDropped.Load()) }},
		{"connection_slow_closed", "Number of connections closed because their output queue was full", func() float64 { return float64(m.slowClosed.Load()) }},
		{"publish_rejected", "Number of publish requests or messages rejected as invalid", func() float64 { return float64(m.badPublish.Load()) }},
	}
	for _, x := range extra {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: prefix + x.name, Help: x.help}, x.f))
	}

	var ln net.Listener
	var err error
	if path, ok := strings.CutPrefix(e.cfg.PrometheusPort, "ipc://"); ok {
		ln, err = net.Listen("unix", path)
	} else {
		addr := e.cfg.PrometheusPort
		if !strings.Contains(addr, ":") {
			addr = "0.0.0.0:" + addr
		}
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("prometheus_port %s: %w", e.cfg.PrometheusPort, err)
	}
	e.promLn = ln
	e.Endpoints.Prom = ln.Addr().String()
	e.promSrv = &http.Server{
		Handler:           promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	return nil
}
