package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	good := "[General]\nin_spec=ipc://a\nin_stream_spec=ipc://b\nout_spec=ipc://c\n"
	tests := []struct {
		name    string
		text    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", text: good, check: func(t *testing.T, c Config) {
			if c.BufferSize != 200000 || c.Timeout != 600*time.Second || c.MaxOpenRequests != -1 ||
				c.ConnectionMaxTime != 2*time.Hour || c.InHWM != 1000 || c.OutHWM != 1000 || c.AllowIPv6 {
				t.Errorf("defaults wrong: %+v", c)
			}
			if !c.Policy.Allowed("127.0.0.1") {
				t.Error("default policy must allow")
			}
		}},
		{name: "debian file", text: "[General]\ninstance_id=\nin_spec=ipc:///x/zurl-in\nin_stream_spec=ipc:///x/zurl-in-stream\nout_spec=ipc:///x/zurl-out\nin_req_spec=ipc:///x/zurl-req\nipc_file_mode=660\ndefpolicy=allow\nallow=\ndeny=127.*,10.*,192.168.*,*.local\nmax_open_requests=2000\nbuffer_size=200000\ntimeout=600\nin_hwm=1000\nout_hwm=1000\n",
			check: func(t *testing.T, c Config) {
				if c.MaxOpenRequests != 2000 || c.InReqSpec != "ipc:///x/zurl-req" {
					t.Errorf("got %+v", c)
				}
				if perm, ok := c.IPCFileMode.Perm(); !ok || perm != 0o660 {
					t.Errorf("ipc mode %v", c.IPCFileMode)
				}
				if c.Policy.Allowed("127.0.0.1") || c.Policy.Allowed("x.local") || !c.Policy.Allowed("example.com") {
					t.Error("template deny list not applied")
				}
			}},
		{name: "req only", text: "[General]\nin_req_spec=tcp://127.0.0.1:1\n"},
		{name: "partial stream", text: "[General]\nin_spec=ipc://a\n", wantErr: "all of them must be set"},
		{name: "nothing", text: "[General]\n", wantErr: "must set at least"},
		{name: "bad defpolicy", text: good + "defpolicy=maybe\n", wantErr: "defpolicy"},
		{name: "bad int", text: good + "buffer_size=lots\n", wantErr: "buffer_size"},
		{name: "zero buffer", text: good + "buffer_size=0\n", wantErr: "buffer_size"},
		{name: "bad ipc mode", text: good + "ipc_file_mode=999\n", wantErr: "ipc_file_mode"},
		{name: "deny default", text: good + "defpolicy=deny\nallow=*.example.com\n", check: func(t *testing.T, c Config) {
			if c.Policy.Allowed("other.org") || !c.Policy.Allowed("a.example.com") {
				t.Error("deny default not applied")
			}
		}},
		{name: "ipv6 and times", text: good + "allow_ipv6=true\ntimeout=5\nconnection_max_time=0\n", check: func(t *testing.T, c Config) {
			if !c.AllowIPv6 || c.Timeout != 5*time.Second || c.ConnectionMaxTime != 0 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "duplicate key last wins", text: good + "buffer_size=1\nbuffer_size=2\n", check: func(t *testing.T, c Config) {
			if c.BufferSize != 2 {
				t.Errorf("buffer_size %d", c.BufferSize)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("zurl.conf", []byte(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestEnsureInstanceID(t *testing.T) {
	var c Config
	c.EnsureInstanceID()
	if !regexp.MustCompile(`^\{[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}$`).MatchString(c.InstanceID) {
		t.Fatalf("id %q", c.InstanceID)
	}
	c.InstanceID = "mine"
	c.EnsureInstanceID()
	if c.InstanceID != "mine" {
		t.Fatal("overwrote instance id")
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load(t.TempDir() + "/nope.conf"); err == nil {
		t.Fatal("missing file accepted")
	}
}
