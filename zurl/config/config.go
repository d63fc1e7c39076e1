// Package config is zurl's configuration: the [General] keys of zurl.conf
// (a QSettings INI file, read with pkg/config's reader) turned into one
// typed, validated struct.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	pconfig "github.com/pushpin-go/pushpin/pkg/config"
	"github.com/pushpin-go/pushpin/pkg/zmqx"
	"github.com/pushpin-go/pushpin/zurl/policy"
)

// DefaultFile is where zurl looks when --config is not given.
const DefaultFile = "/etc/zurl.conf"

// Config is zurl's typed configuration. Zero durations and sizes are not
// valid; use Defaults and override.
type Config struct {
	// InstanceID is the ZMQ identity of the DEALER and the "from" of every
	// packet. zurl makes a random Qt UUID (with braces) when unset.
	InstanceID string

	InSpec       string // PULL, first packets (stream interface)
	InStreamSpec string // DEALER, later packets
	OutSpec      string // PUB, responses
	InReqSpec    string // ROUTER, req interface
	IPCFileMode  zmqx.IPCMode

	AllowIPv6 bool
	// MaxOpenRequests caps concurrent sessions; -1 is unlimited.
	MaxOpenRequests int
	// BufferSize is the credit granted for request bodies and WebSocket
	// frames, and the largest WebSocket frame accepted.
	BufferSize int
	// Timeout is the inactivity timeout of a session (session-timeout).
	Timeout time.Duration
	// ConnectionMaxTime bounds how long a pooled origin connection is reused.
	ConnectionMaxTime time.Duration
	InHWM, OutHWM     int

	Policy *policy.Policy
}

// Defaults returns zurl 1.11.1's defaults (source: zurl src/app.cpp).
func Defaults() Config {
	return Config{
		MaxOpenRequests:   -1,
		BufferSize:        200000,
		Timeout:           600 * time.Second,
		ConnectionMaxTime: 7200 * time.Second,
		InHWM:             1000,
		OutHWM:            1000,
		Policy:            policy.New(policy.Allow, nil, nil),
	}
}

// Load reads a zurl.conf file.
func Load(path string) (Config, error) {
	pc, err := pconfig.Load(path, pconfig.Options{})
	if err != nil {
		return Config{}, fmt.Errorf("failed to open %s: %w", path, err)
	}
	return fromSettings(path, pc)
}

// Parse reads zurl.conf text already in memory; path names it in errors.
func Parse(path string, data []byte) (Config, error) {
	pc, err := pconfig.Parse(path, data, pconfig.Options{})
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return fromSettings(path, pc)
}

// settings is the part of pkg/config's reader this package needs.
type settings interface {
	Value(section, key string) (string, bool)
	Strings(section, key string) ([]string, bool)
	Lookup(section, key string) (pconfig.Setting, bool)
}

func fromSettings(path string, s settings) (Config, error) {
	c := Defaults()
	str := func(key string) string {
		v, _ := s.Value("", key)
		return strings.TrimSpace(v)
	}
	keyErr := func(key string, err error) error {
		line := 0
		if st, ok := s.Lookup("", key); ok {
			line = st.Line
		}
		return fmt.Errorf("%s:%d: %s: %w", path, line, key, err)
	}
	intKey := func(key string, dst *int) error {
		v := str(key)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return keyErr(key, fmt.Errorf("%q is not an integer", v))
		}
		*dst = n
		return nil
	}
	secKey := func(key string, dst *time.Duration) error {
		n := -1
		if err := intKey(key, &n); err != nil {
			return err
		}
		if n >= 0 {
			*dst = time.Duration(n) * time.Second
		}
		return nil
	}

	c.InstanceID = str("instance_id")
	c.InSpec = str("in_spec")
	c.InStreamSpec = str("in_stream_spec")
	c.OutSpec = str("out_spec")
	c.InReqSpec = str("in_req_spec")
	if m := str("ipc_file_mode"); m != "" {
		mode, err := zmqx.ParseIPCMode(m)
		if err != nil {
			return c, keyErr("ipc_file_mode", err)
		}
		c.IPCFileMode = mode
	}
	c.AllowIPv6 = qtBool(str("allow_ipv6"))
	for _, k := range []struct {
		key string
		dst *int
	}{
		{"max_open_requests", &c.MaxOpenRequests},
		{"buffer_size", &c.BufferSize},
		{"in_hwm", &c.InHWM},
		{"out_hwm", &c.OutHWM},
	} {
		if err := intKey(k.key, k.dst); err != nil {
			return c, err
		}
	}
	if err := secKey("timeout", &c.Timeout); err != nil {
		return c, err
	}
	if err := secKey("connection_max_time", &c.ConnectionMaxTime); err != nil {
		return c, err
	}

	def := policy.Allow
	if _, ok := s.Value("", "defpolicy"); ok {
		d, err := policy.ParseDefault(str("defpolicy"))
		if err != nil {
			return c, keyErr("defpolicy", err)
		}
		def = d
	}
	allow, _ := s.Strings("", "allow")
	deny, _ := s.Strings("", "deny")
	c.Policy = policy.New(def, allow, deny)

	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// qtBool mirrors QVariant(QString).toBool(): false for "", "0" and "false"
// (any case), true otherwise.
func qtBool(s string) bool {
	switch strings.ToLower(s) {
	case "", "0", "false":
		return false
	}
	return true
}

// Validate checks the rules zurl enforces at start-up.
func (c *Config) Validate() error {
	anyStream := c.InSpec != "" || c.InStreamSpec != "" || c.OutSpec != ""
	allStream := c.InSpec != "" && c.InStreamSpec != "" && c.OutSpec != ""
	if anyStream && !allStream {
		return errors.New("if any of in_spec, in_stream_spec, or out_spec are set then all of them must be set")
	}
	if c.InSpec == "" && c.InReqSpec == "" {
		return errors.New("must set at least in_spec+in_stream_spec+out_spec or in_req_spec")
	}
	if c.BufferSize <= 0 {
		return fmt.Errorf("buffer_size must be positive, got %d", c.BufferSize)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("timeout must be positive, got %v", c.Timeout)
	}
	if c.InHWM < 0 || c.OutHWM < 0 {
		return errors.New("in_hwm and out_hwm must not be negative")
	}
	if c.MaxOpenRequests == 0 || c.MaxOpenRequests < -1 {
		return fmt.Errorf("max_open_requests must be positive or -1, got %d", c.MaxOpenRequests)
	}
	return nil
}

// EnsureInstanceID fills InstanceID with a random UUID in Qt's braced form
// ("{8c172bc1-6054-4130-82b3-14b12aa8e915}") when it is empty, as zurl does.
func (c *Config) EnsureInstanceID() {
	if c.InstanceID != "" {
		return
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	c.InstanceID = fmt.Sprintf("{%x-%x-%x-%x-%x}", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
