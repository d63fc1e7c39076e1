package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pushpin-go/pushpin/pkg/config"
	"github.com/pushpin-go/pushpin/pkg/routes"
	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/proxy/rewrite"
	"github.com/pushpin-go/pushpin/proxy/sig"
)

// Config is everything the proxy needs, resolved and validated before any
// socket is opened.
type Config struct {
	// ID is the instance id: the ZHTTP "from", ROUTER identity and SUB
	// topic. Pushpin uses "pushpin-proxy_<pid>".
	ID string

	// Sockets (reference §1.4 #1–#6, #8–#17).
	CondureInSpecs, CondureInStreamSpecs, CondureOutSpecs []string
	ZurlOutSpecs, ZurlOutStreamSpecs, ZurlInSpecs         []string
	InspectSpec, AcceptSpec, RetryInSpec                  string
	WSControlInSpec, WSControlOutSpec                     string
	StatsSpec, CommandSpec                                string
	IntreqInSpecs, IntreqInStreamSpecs, IntreqOutSpecs    []string
	IPCMode                                               zmqx.IPCMode

	// RoutesFile is watched and reloaded; ignored when RouteLines is set
	// (--route), as Pushpin does.
	RoutesFile string
	RouteLines []string

	Debug               bool
	AutoCrossOrigin     bool
	AcceptXFProto       bool
	SetXFProto          bool
	SetXFProtocol       bool
	XFF, XFFTrusted     rewrite.XFFRule
	OrigHeadersNeedMark []string
	AcceptPushpinRoute  bool
	LogFrom             bool
	LogUserAgent        bool

	SigIss string
	// SigKey signs Grip-Sig; nil when sig_key is empty (no Grip-Sig).
	SigKey *sig.Key
	// UpstreamKey validates a client's Grip-Sig; nil = no client is trusted.
	UpstreamKey *sig.Key

	// MaxSessions caps concurrent client sessions (min of
	// max_open_requests and client_maxconn, as Pushpin sizes it).
	MaxSessions int
	// NewSessionQueue bounds new requests waiting for a session slot; a
	// request arriving when it is full is answered 503 and counted.
	NewSessionQueue int

	ConnectionTTL       time.Duration
	StatsReportInterval time.Duration
	// UpdatesCheck is kept for the report command ("" or "off" = the
	// command answers service-unavailable, as Pushpin does with it off).
	UpdatesCheck string

	// InspectTimeout and AcceptTimeout are Pushpin's 8000 ms.
	InspectTimeout, AcceptTimeout time.Duration

	Log *slog.Logger
}

// LoadOptions are the command-line inputs to LoadConfig.
type LoadOptions struct {
	ConfigFile string
	IPCPrefix  string
	// LibDir is Pushpin's LIBDIR (where internal.conf lives); "" = built-in.
	LibDir     string
	RouteLines []string
	Set        []string
	Log        *slog.Logger
}

// LoadConfig reads pushpin.conf and builds a Config.
func LoadConfig(o LoadOptions) (*Config, error) {
	if o.ConfigFile == "" {
		return nil, errors.New("no config file")
	}
	conf, err := config.Load(o.ConfigFile, config.Options{LibDir: o.LibDir, IPCPrefix: o.IPCPrefix, Set: o.Set})
	if err != nil {
		return nil, err
	}
	return FromSettings(conf, o)
}

// FromSettings builds a Config from a loaded pushpin.conf.
func FromSettings(conf *config.Config, o LoadOptions) (*Config, error) {
	p := conf.Proxy
	c := &Config{
		ID:                   fmt.Sprintf("pushpin-proxy_%d", os.Getpid()),
		CondureInSpecs:       p.CondureInSpecs,
		CondureInStreamSpecs: p.CondureInStreamSpecs,
		CondureOutSpecs:      p.CondureOutSpecs,
		ZurlOutSpecs:         p.ZurlOutSpecs,
		ZurlOutStreamSpecs:   p.ZurlOutStreamSpecs,
		ZurlInSpecs:          p.ZurlInSpecs,
		InspectSpec:          p.HandlerInspectSpec,
		AcceptSpec:           p.HandlerAcceptSpec,
		RetryInSpec:          p.HandlerRetryInSpec,
		WSControlInSpec:      p.HandlerWSControlInSpec,
		WSControlOutSpec:     p.HandlerWSControlOutSpec,
		StatsSpec:            p.StatsSpec,
		CommandSpec:          p.CommandSpec,
		IntreqInSpecs:        p.IntreqInSpecs,
		IntreqInStreamSpecs:  p.IntreqInStreamSpecs,
		IntreqOutSpecs:       p.IntreqOutSpecs,
		RoutesFile:           p.RoutesFile,
		RouteLines:           o.RouteLines,
		Debug:                p.Debug,
		AutoCrossOrigin:      p.AutoCrossOrigin,
		AcceptXFProto:        p.AcceptXForwardedProtocol,
		OrigHeadersNeedMark:  p.OrigHeadersNeedMark,
		AcceptPushpinRoute:   p.AcceptPushpinRoute,
		LogFrom:              p.LogFrom,
		LogUserAgent:         p.LogUserAgent,
		SigIss:               p.SigIss,
		ConnectionTTL:        conf.Global.StatsConnectionTTL,
		StatsReportInterval:  p.StatsReportInterval,
		UpdatesCheck:         p.UpdatesCheck,
		InspectTimeout:       8 * time.Second,
		AcceptTimeout:        8 * time.Second,
		NewSessionQueue:      10000,
		Log:                  o.Log,
	}
	if p.IPCFileMode >= 0 {
		c.IPCMode = zmqx.IPCModeOf(os.FileMode(p.IPCFileMode))
	}
	c.SetXFProto, c.SetXFProtocol = p.SetsXForwardedProto()
	xff := config.ParseXFFRule(p.XForwardedFor)
	c.XFF = rewrite.XFFRule{Truncate: xff.Truncate, Append: xff.Append}
	xfft := config.ParseXFFRule(p.XForwardedForTrusted)
	c.XFFTrusted = rewrite.XFFRule{Truncate: xfft.Truncate, Append: xfft.Append}

	if p.SigKey != "" {
		k, err := sig.Parse(p.SigKey, conf.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: [proxy] sig_key: %w", conf.File, err)
		}
		c.SigKey = k
	}
	if p.UpstreamKey != "" {
		k, err := sig.Parse(p.UpstreamKey, conf.Dir)
		if err != nil {
			return nil, fmt.Errorf("%s: [proxy] upstream_key: %w", conf.File, err)
		}
		c.UpstreamKey = k
	}

	maxconn := conf.Runner.ClientMaxconn
	c.MaxSessions = maxconn
	if p.MaxOpenRequests >= 0 && (maxconn <= 0 || p.MaxOpenRequests < maxconn) {
		c.MaxSessions = p.MaxOpenRequests
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 50000
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c, c.Validate()
}

// Validate checks that the sockets Pushpin requires are configured and that
// --route lines parse.
func (c *Config) Validate() error {
	if len(c.CondureInSpecs) == 0 || len(c.CondureInStreamSpecs) == 0 || len(c.CondureOutSpecs) == 0 {
		return errors.New("[proxy] condure_in_specs, condure_in_stream_specs and condure_out_specs must be set")
	}
	if len(c.ZurlOutSpecs) == 0 || len(c.ZurlOutStreamSpecs) == 0 || len(c.ZurlInSpecs) == 0 {
		return errors.New("[proxy] zurl_out_specs, zurl_out_stream_specs and zurl_in_specs must be set")
	}
	for i, l := range c.RouteLines {
		if _, err := routes.ParseLine(l); err != nil {
			return fmt.Errorf("--route %d %q: %w", i+1, l, err)
		}
	}
	return nil
}
