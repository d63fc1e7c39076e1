package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// section binds a typed struct to its INI section name.
type section struct {
	name string
	ptr  any
}

func (c *Config) sections() []section {
	return []section{
		{"global", &c.Global},
		{"runner", &c.Runner},
		{"proxy", &c.Proxy},
		{"handler", &c.Handler},
	}
}

var (
	knownOnce sync.Once
	knownSet  map[string]bool
)

// knownKeys is every "section/key" the typed sections read.
func knownKeys() map[string]bool {
	knownOnce.Do(func() {
		knownSet = make(map[string]bool)
		var c Config
		for _, s := range c.sections() {
			t := reflect.TypeOf(s.ptr).Elem()
			for i := range t.NumField() {
				tag := t.Field(i).Tag.Get("ini")
				if tag == "" || tag == "-" {
					continue
				}
				knownSet[fullKey(s.name, tag)] = true
			}
		}
		for _, k := range extraKnownKeys {
			knownSet[k] = true
		}
	})
	return knownSet
}

func fullKey(sec, tag string) string {
	if strings.Contains(tag, "/") {
		return tag
	}
	return sec + "/" + tag
}

var (
	durationType        = reflect.TypeOf(time.Duration(0))
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// fillTyped fills every tagged field, then the hand-read ones.
func (c *Config) fillTyped() error {
	for _, s := range c.sections() {
		v := reflect.ValueOf(s.ptr).Elem()
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("ini")
			if tag == "" || tag == "-" {
				continue
			}
			if err := c.fillField(v.Field(i), sf, fullKey(s.name, tag)); err != nil {
				return err
			}
		}
	}
	return c.fillSpecial()
}

// fillField sets one field from the files, or from its default tag.
func (c *Config) fillField(fv reflect.Value, sf reflect.StructField, full string) error {
	e, f := c.lookup(full)
	if e == nil {
		def, ok := sf.Tag.Lookup("default")
		if !ok {
			return nil
		}
		// Defaults are ours and tested; a failure here is a bug.
		de := &entry{str: def, key: full}
		if err := c.convert(fv, sf, de, nil); err != nil {
			panic(fmt.Sprintf("config: bad default for %s: %v", full, err))
		}
		return nil
	}
	if err := c.convert(fv, sf, e, f); err != nil {
		return &KeyError{File: f.name, Line: e.line, Section: e.section, Key: e.key, Err: err}
	}
	return nil
}

// convert turns an entry into the field's type (see the tag notes in
// sections.go). f is nil for defaults.
func (c *Config) convert(fv reflect.Value, sf reflect.StructField, e *entry, f *iniFile) error {
	str := func() string {
		if f == nil {
			return e.str
		}
		return c.stringOf(e, f)
	}
	if fv.CanAddr() && fv.Addr().Type().Implements(textUnmarshalerType) {
		// Composite values such as log_level are lists to QSettings;
		// rebuild the text the user wrote.
		text := e.str
		if e.isList {
			text = strings.Join(e.items, ",")
		}
		return fv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(c.resolve(text)))
	}
	switch {
	case fv.Type() == durationType:
		n, err := parseInt(str(), 10)
		if err != nil {
			return err
		}
		unit := time.Second
		if sf.Tag.Get("unit") == "ms" {
			unit = time.Millisecond
		}
		fv.SetInt(int64(time.Duration(n) * unit))
	case fv.Kind() == reflect.String:
		fv.SetString(c.resolve(str()))
	case fv.Kind() == reflect.Int:
		base := 10
		if sf.Tag.Get("base") == "8" {
			base = 8
		}
		n, err := parseInt(str(), base)
		if err != nil {
			return err
		}
		fv.SetInt(int64(n))
	case fv.Kind() == reflect.Bool:
		b, err := parseBool(str())
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		fv.Set(reflect.ValueOf(c.list(e)))
	default:
		panic(fmt.Sprintf("config: unsupported field type %s", fv.Type()))
	}
	return nil
}

// list returns an entry's elements, templated, without empty ones (nil
// when none), as Pushpin's toStringList() + trimlist().
func (c *Config) list(e *entry) []string {
	var src []string
	if e.isList {
		src = e.items
	} else {
		src = []string{e.str}
	}
	var out []string
	for _, s := range src {
		if s == "" {
			continue
		}
		out = append(out, c.resolve(s))
	}
	return out
}

// parseBool reads a boolean; see the tag notes in sections.go.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want true or false)", s)
}

// fillSpecial sets the fields tagged ini:"-" other than those Load sets
// before the include is read.
func (c *Config) fillSpecial() error {
	if e, f := c.lookup("runner/logdir"); e != nil {
		c.Runner.LogDir = c.absPath(c.resolve(c.stringOf(e, f)))
	}
	if e, f := c.lookup("proxy/routesfile"); e != nil {
		c.Proxy.RoutesFile = c.absPath(c.resolve(c.stringOf(e, f)))
	}
	if e, f := c.lookup("proxy/updates_check"); e != nil {
		v := c.resolve(c.stringOf(e, f))
		if v == "true" {
			v = "check"
		}
		c.Proxy.UpdatesCheck = v
	}

	// push_in_sub_specs, then the legacy single spec appended.
	if e, _ := c.lookup("handler/push_in_sub_specs"); e != nil {
		c.Handler.PushInSubSpecs = c.list(e)
	}
	if e, f := c.lookup("handler/push_in_sub_spec"); e != nil {
		if s := c.resolve(c.stringOf(e, f)); s != "" {
			c.Handler.PushInSubSpecs = append(c.Handler.PushInSubSpecs, s)
		}
	}

	// Pushpin's adjustedPort: the offset applies only to a positive port.
	if e, f := c.lookup("handler/push_in_http_port"); e != nil {
		n, err := parseInt(c.resolve(c.stringOf(e, f)), 10)
		if err != nil {
			return &KeyError{File: f.name, Line: e.line, Section: e.section, Key: e.key, Err: err}
		}
		if n > 0 {
			n += c.Global.PortOffset
		}
		c.Handler.PushInHTTPPort = n
	}
	return nil
}
