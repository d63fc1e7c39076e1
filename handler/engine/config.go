package engine

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pushpin-go/pushpin/pkg/config"
	"github.com/pushpin-go/pushpin/pkg/zmqx"
)

// Config is everything the handler needs, resolved from pushpin.conf and the
// command line (see FromFile). Zero values of optional fields disable the
// feature, as an unset key does in Pushpin.
type Config struct {
	// InstanceID is the ZHTTP "from", the ROUTER identities and the stats
	// "from": pushpin-handler_<pid> in Pushpin.
	InstanceID string

	IPCMode zmqx.IPCMode

	// Towards condure (read from [proxy], as Pushpin's handler does).
	CondureInStreamSpecs []string // ROUTER, connect
	CondureOutSpecs      []string // PUB, connect

	// Towards pushpin-proxy (all connect).
	InspectSpec        string   // ROUTER (ZRPC server)
	AcceptSpec         string   // ROUTER (ZRPC server)
	RetryOutSpec       string   // PUSH
	WSControlInSpec    string   // PULL (proxy → handler)
	WSControlOutSpec   string   // PUSH (handler → proxy)
	ProxyStatsSpec     string   // SUB
	ProxyCommandSpec   string   // DEALER (ZRPC client)
	IntreqOutSpecs     []string // PUSH (first packets)
	IntreqOutStream    []string // ROUTER (later packets)
	IntreqInSpecs      []string // SUB (responses)
	PushInSpec         string   // PULL, bind
	PushInSubSpecs     []string // SUB, bind first or connect all
	PushInSubConnect   bool
	StatsSpec          string // PUB, bind
	CommandSpec        string // ROUTER, bind
	HTTPAddr           string // control API
	HTTPPort           int    // 0 = disabled
	HTTPMaxHeadersSize int
	HTTPMaxBodySize    int

	MessageRate               int // per route deliveries/s; <0 = unlimited
	MessageHWM                int // per route queue; <0 = unlimited
	MessageBlockSize          int // <=0 = unset
	MessageWait               time.Duration
	IDCacheTTL                time.Duration
	ConnectionSubscriptionMax int
	SubscriptionLinger        time.Duration
	StatsSubscriptionTTL      time.Duration
	StatsReportInterval       time.Duration
	StatsConnectionTTL        time.Duration
	StatsJSON                 bool
	PrometheusPort            string
	PrometheusPrefix          string
	ShareAll                  bool

	// SessionQueueMax bounds the output waiting for credits in one held
	// session, in bytes (our extension: Pushpin queues up to 100 published
	// items per session). A session over it is closed and counted in
	// Metrics.SlowClosed.
	SessionQueueMax int

	// Logger receives log lines (pkg/log format); nil discards them.
	Logger *slog.Logger
}

// Defaults for the settings that have no pushpin.conf key.
const (
	DefaultSessionQueueMax = 1 << 20
)

// FromFile builds a Config from a loaded pushpin.conf. Handler-specific
// compiled defaults apply where keys are unset, as in pushpin-handler.
func FromFile(c *config.Config) (Config, error) {
	h := c.Handler
	mode := zmqx.IPCMode{}
	if h.IPCFileMode >= 0 {
		mode = zmqx.IPCModeOf(os.FileMode(h.IPCFileMode))
	}
	cfg := Config{
		InstanceID:                fmt.Sprintf("pushpin-handler_%d", os.Getpid()),
		IPCMode:                   mode,
		CondureInStreamSpecs:      h.CondureInStreamSpecs,
		CondureOutSpecs:           h.CondureOutSpecs,
		InspectSpec:               h.ProxyInspectSpec,
		AcceptSpec:                h.ProxyAcceptSpec,
		RetryOutSpec:              h.ProxyRetryOutSpec,
		WSControlInSpec:           h.ProxyWSControlInSpec,
		WSControlOutSpec:          h.ProxyWSControlOutSpec,
		ProxyStatsSpec:            h.ProxyStatsSpec,
		ProxyCommandSpec:          h.ProxyCommandSpec,
		IntreqOutSpecs:            h.ProxyIntreqOutSpecs,
		IntreqOutStream:           h.ProxyIntreqOutStreamSpecs,
		IntreqInSpecs:             h.ProxyIntreqInSpecs,
		PushInSpec:                h.PushInSpec,
		PushInSubSpecs:            h.PushInSubSpecs,
		PushInSubConnect:          h.PushInSubConnect,
		StatsSpec:                 h.StatsSpec,
		CommandSpec:               h.CommandSpec,
		HTTPAddr:                  h.PushInHTTPAddr,
		HTTPPort:                  h.PushInHTTPPort,
		HTTPMaxHeadersSize:        h.PushInMaxHeadersSize,
		HTTPMaxBodySize:           h.PushInMaxBodySize,
		MessageRate:               h.MessageRate,
		MessageHWM:                h.MessageHWM,
		MessageBlockSize:          h.MessageBlockSize,
		MessageWait:               h.MessageWait,
		IDCacheTTL:                h.IDCacheTTL,
		ConnectionSubscriptionMax: h.ConnectionSubscriptionMax,
		SubscriptionLinger:        h.SubscriptionLinger,
		StatsSubscriptionTTL:      h.StatsSubscriptionTTL,
		StatsReportInterval:       h.StatsReportInterval,
		StatsConnectionTTL:        c.Global.StatsConnectionTTL,
		StatsJSON:                 h.StatsFormat == "json",
		PrometheusPort:            h.PrometheusPort,
		PrometheusPrefix:          h.PrometheusPrefix,
		ShareAll:                  h.ShareAll,
		SessionQueueMax:           DefaultSessionQueueMax,
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1"
	}
	return cfg, cfg.Validate()
}

// Validate checks that the sockets the handler cannot run without are
// configured, with messages naming the pushpin.conf key.
func (c *Config) Validate() error {
	switch {
	case len(c.CondureInStreamSpecs) == 0:
		return fmt.Errorf("[proxy] condure_in_stream_specs is not set")
	case len(c.CondureOutSpecs) == 0:
		return fmt.Errorf("[proxy] condure_out_specs is not set")
	case c.AcceptSpec == "":
		return fmt.Errorf("[handler] proxy_accept_spec is not set")
	case c.InspectSpec == "":
		return fmt.Errorf("[handler] proxy_inspect_spec is not set")
	case c.RetryOutSpec == "":
		return fmt.Errorf("[handler] proxy_retry_out_spec is not set")
	}
	if c.ConnectionSubscriptionMax <= 0 {
		c.ConnectionSubscriptionMax = 20
	}
	if c.SessionQueueMax <= 0 {
		c.SessionQueueMax = DefaultSessionQueueMax
	}
	if c.StatsConnectionTTL <= 0 {
		c.StatsConnectionTTL = 120 * time.Second
	}
	if c.StatsSubscriptionTTL <= 0 {
		c.StatsSubscriptionTTL = 60 * time.Second
	}
	if c.StatsReportInterval <= 0 {
		c.StatsReportInterval = 10 * time.Second
	}
	if c.HTTPMaxHeadersSize <= 0 {
		c.HTTPMaxHeadersSize = 10000
	}
	if c.HTTPMaxBodySize <= 0 {
		c.HTTPMaxBodySize = 1000000
	}
	return nil
}
