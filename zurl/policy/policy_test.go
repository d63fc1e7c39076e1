package policy

import (
	"net/netip"
	"testing"
)

func TestAllowed(t *testing.T) {
	template := []string{"127.*", "10.*", "192.168.*", "*.local"}
	tests := []struct {
		name  string
		def   Default
		allow []string
		deny  []string
		host  string
		want  bool
	}{
		{"no lists allow", Allow, nil, nil, "example.com", true},
		{"no lists deny", Deny, nil, nil, "example.com", false},
		{"template denies loopback", Allow, nil, template, "127.0.0.1", false},
		{"template denies 10/8", Allow, nil, template, "10.1.2.3", false},
		{"template allows public", Allow, nil, template, "93.184.216.34", true},
		{"wildcard suffix case-insensitive", Allow, nil, template, "Printer.LOCAL", false},
		{"wildcard needs both ends", Allow, nil, []string{"a*z"}, "az", false},
		{"wildcard wrong end", Allow, nil, []string{"a*z"}, "ay", true},
		{"wildcard ends may overlap as in zurl", Allow, nil, []string{"ab*ba"}, "aba", false},
		{"allow overrides deny under allow", Allow, []string{"127.0.0.1"}, template, "127.0.0.1", true},
		{"exact is case-insensitive", Allow, nil, []string{"Evil.Example"}, "evil.example", false},
		{"exact is not substring", Allow, nil, []string{"evil.example"}, "notevil.example", true},
		{"deny policy allow listed", Deny, []string{"*.example.com"}, nil, "api.example.com", true},
		{"deny policy deny wins", Deny, []string{"*.example.com"}, []string{"api.example.com"}, "api.example.com", false},
		{"cidr v4", Allow, nil, []string{"10.0.0.0/8"}, "10.200.0.1", false},
		{"cidr v4 outside", Allow, nil, []string{"10.0.0.0/8"}, "11.0.0.1", true},
		{"cidr unmasked", Allow, nil, []string{"192.168.1.77/16"}, "192.168.5.5", false},
		{"cidr v6", Allow, nil, []string{"fc00::/7"}, "fd12::1", false},
		{"cidr v6 bracketed", Allow, nil, []string{"::1/128"}, "[::1]", false},
		{"cidr does not match names", Allow, nil, []string{"10.0.0.0/8"}, "10.example", true},
		{"cidr family mismatch", Allow, nil, []string{"::/0"}, "1.2.3.4", true},
		{"bad cidr falls back to text", Allow, nil, []string{"10.0.0.0/99"}, "10.0.0.0/99", false},
		{"empty entries ignored", Deny, []string{"", " "}, nil, "", false},
		{"empty host allow", Allow, nil, template, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.def, tt.allow, tt.deny)
			if got := p.Allowed(tt.host); got != tt.want {
				t.Errorf("Allowed(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

func TestAllowedAddrUnmaps(t *testing.T) {
	p := New(Allow, nil, []string{"127.*"})
	if p.AllowedAddr(netip.MustParseAddr("::ffff:127.0.0.1")) {
		t.Fatal("mapped loopback allowed")
	}
	if !p.AllowedAddr(netip.MustParseAddr("8.8.8.8")) {
		t.Fatal("public address denied")
	}
	var nilp *Policy
	if !nilp.Allowed("x") {
		t.Fatal("nil policy must allow")
	}
}

func TestParseDefault(t *testing.T) {
	for _, s := range []string{"allow", "deny"} {
		if _, err := ParseDefault(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "Allow", "DENY", "x"} {
		if _, err := ParseDefault(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzAllowed(f *testing.F) {
	f.Add("127.*", "10.0.0.0/8", "127.0.0.1")
	f.Add("a*b", "*", "ab")
	f.Add("::1/128", "", "[::1]")
	f.Fuzz(func(t *testing.T, allow, deny, host string) {
		p := New(Allow, []string{allow}, []string{deny})
		q := New(Deny, []string{allow}, []string{deny})
		// Under the deny default nothing is allowed that the allow default
		// refuses.
		if q.Allowed(host) && !p.Allowed(host) {
			t.Fatalf("deny default allowed %q that allow default refused", host)
		}
	})
}
