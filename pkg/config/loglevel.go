package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// DefaultLogLevel is Pushpin's default log level (2 = info).
const DefaultLogLevel = 2

// LogLevels is the value of the runner's --loglevel flag and of
// [runner] log_level: "N" or "N,service:N,…" (for example "2,condure:3").
// Service names are the runner's: runner, condure, zurl, pushpin-proxy,
// pushpin-handler, mongrel2, m2adapter; Pushpin accepts other names without
// complaint, and so does this type.
type LogLevels struct {
	// Default applies to every service without its own entry (and to the
	// runner itself). It is DefaultLogLevel when the text has no bare number.
	Default int
	// Services holds per-service levels; nil when there are none.
	Services map[string]int
}

// ParseLogLevels parses "N" or "N,service:N,…". Every level must be an
// integer >= 0; the errors use the runner's wording ("log level must be
// greater than or equal to 0", "log level for service X must be greater
// than or equal to 0"). Spaces around parts are ignored. An empty string is
// an error, as it is for the runner.
func ParseLogLevels(s string) (LogLevels, error) {
	l := LogLevels{Default: DefaultLogLevel}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if name, num, ok := strings.Cut(part, ":"); ok {
			name = strings.TrimSpace(name)
			n, err := strconv.Atoi(strings.TrimSpace(num))
			if err != nil || n < 0 {
				return LogLevels{}, fmt.Errorf("log level for service %s must be greater than or equal to 0", name)
			}
			if l.Services == nil {
				l.Services = make(map[string]int)
			}
			l.Services[name] = n
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return LogLevels{}, fmt.Errorf("log level must be greater than or equal to 0")
		}
		l.Default = n
	}
	return l, nil
}

// Level returns the level for service (its own entry, else Default).
func (l LogLevels) Level(service string) int {
	if n, ok := l.Services[service]; ok {
		return n
	}
	return l.Default
}

// String formats l in the form ParseLogLevels reads, services sorted.
func (l LogLevels) String() string {
	parts := []string{strconv.Itoa(l.Default)}
	names := make([]string, 0, len(l.Services))
	for name := range l.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		parts = append(parts, name+":"+strconv.Itoa(l.Services[name]))
	}
	return strings.Join(parts, ",")
}

// UnmarshalText implements encoding.TextUnmarshaler (and so flag parsing).
func (l *LogLevels) UnmarshalText(b []byte) error {
	v, err := ParseLogLevels(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (l LogLevels) MarshalText() ([]byte, error) { return []byte(l.String()), nil }
