package httpclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pushpin-go/pushpin/protocol/zhttp"
	"github.com/pushpin-go/pushpin/zurl/policy"
)

// Error is a failed request, classified into the ZHTTP error condition zurl
// reports for it.
type Error struct {
	Condition string // a zhttp.Cond* value
	Err       error
}

func (e *Error) Error() string { return e.Condition + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

func condErr(cond string, format string, args ...any) *Error {
	return &Error{Condition: cond, Err: fmt.Errorf(format, args...)}
}

// Resolver looks up the addresses of a host name. *net.Resolver satisfies
// it; tests substitute a fixed table (e.g. to make a name resolve to a
// denied address).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Target says where a request goes and how the connection is checked.
type Target struct {
	// Host and Port come from the URI; Host has no brackets.
	Host string
	Port int
	TLS  bool
	// ConnectHost and ConnectPort, when set, replace the address connected
	// to (libcurl CURLOPT_CONNECT_TO); TLS still verifies Host.
	ConnectHost string
	ConnectPort int

	IgnorePolicies   bool
	TrustConnectHost bool
	IgnoreTLSErrors  bool
}

func (t *Target) dialHostPort() (string, int) {
	h, p := t.Host, t.Port
	if t.ConnectHost != "" {
		h = t.ConnectHost
	}
	if t.ConnectPort > 0 {
		p = t.ConnectPort
	}
	return h, p
}

// key identifies connections that may be shared between requests.
func (t *Target) key() string {
	h, p := t.dialHostPort()
	var b strings.Builder
	b.WriteString(h)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(p))
	if t.TLS {
		b.WriteString("|tls|")
		b.WriteString(t.Host)
		if t.TrustConnectHost {
			b.WriteString("|trust")
		}
		if t.IgnoreTLSErrors {
			b.WriteString("|insecure")
		}
	}
	if t.IgnorePolicies {
		// A connection opened without the address check must not serve a
		// request that is subject to it.
		b.WriteString("|nopolicy")
	}
	return b.String()
}

// dialer opens checked connections.
type dialer struct {
	policy         *policy.Policy
	allowIPv6      bool
	resolver       Resolver
	connectTimeout time.Duration
	rootCAs        *x509.CertPool
}

// addrMode says what a denied address does to a dial.
type addrMode int

const (
	// skipDenied tries the next address (zurl's HTTP path: the address is
	// blocked and libcurl moves on).
	skipDenied addrMode = iota
	// failDenied fails at once (zurl's WebSocket path).
	failDenied
)

// dial resolves and connects to the target, checking every address, and
// performs the TLS handshake when the target uses TLS.
func (d *dialer) dial(ctx context.Context, t *Target, mode addrMode) (net.Conn, error) {
	host, port := t.dialHostPort()
	ctx, cancel := context.WithTimeout(ctx, d.connectTimeout)
	defer cancel()

	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		res, err := d.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return nil, condErr(zhttp.CondConnectionTimeout, "resolving %s: %v", host, err)
			}
			return nil, condErr(zhttp.CondRemoteConnectionFailed, "resolving %s: %v", host, err)
		}
		addrs = res
	}

	attempted, blocked := 0, 0
	var lastErr error
	timedOut := false
	for _, a := range addrs {
		a = a.Unmap()
		if !a.Is4() && !d.allowIPv6 {
			continue // CURL_IPRESOLVE_V4: never tried
		}
		attempted++
		if !t.IgnorePolicies && !d.policy.AllowedAddr(a) {
			blocked++
			if mode == failDenied {
				return nil, condErr(zhttp.CondPolicyViolation, "address %s of %s denied by policy", a, host)
			}
			continue
		}
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(port)).String())
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				timedOut = ctx.Err() == context.DeadlineExceeded
				break
			}
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		if !t.TLS {
			return c, nil
		}
		tc, err := d.handshake(ctx, c, t)
		if err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	switch {
	case attempted > 0 && blocked == attempted:
		return nil, condErr(zhttp.CondPolicyViolation, "every address of %s denied by policy", host)
	case timedOut:
		return nil, condErr(zhttp.CondConnectionTimeout, "connecting to %s:%d: %v", host, port, lastErr)
	case lastErr != nil:
		return nil, condErr(zhttp.CondRemoteConnectionFailed, "connecting to %s:%d: %v", host, port, lastErr)
	}
	return nil, condErr(zhttp.CondRemoteConnectionFailed, "no usable address for %s", host)
}

// errVerify marks a certificate that failed our checks, so it maps to
// tls-error (libcurl CURLE_PEER_FAILED_VERIFICATION) while other handshake
// failures map to undefined-condition (CURLE_SSL_CONNECT_ERROR).
var errVerify = errors.New("certificate verification failed")

func (d *dialer) handshake(ctx context.Context, c net.Conn, t *Target) (net.Conn, error) {
	checkHosts := []string{t.Host}
	if t.TrustConnectHost && t.ConnectHost != "" {
		checkHosts = append(checkHosts, t.ConnectHost)
	}
	cfg := &tls.Config{
		NextProtos: []string{"http/1.1"},
		// Verification is ours (below): zurl accepts a certificate valid for
		// any of several names, which crypto/tls cannot express.
		InsecureSkipVerify: true,
		RootCAs:            d.rootCAs,
	}
	if _, err := netip.ParseAddr(t.Host); err != nil {
		cfg.ServerName = t.Host
	}
	if !t.IgnoreTLSErrors {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs, d.rootCAs, checkHosts)
		}
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if errors.Is(err, errVerify) {
			return nil, &Error{Condition: zhttp.CondTLSError, Err: err}
		}
		if ctx.Err() == context.DeadlineExceeded {
			return nil, condErr(zhttp.CondConnectionTimeout, "tls handshake with %s: %v", t.Host, err)
		}
		return nil, condErr(zhttp.CondUndefined, "tls handshake with %s: %v", t.Host, err)
	}
	return tc, nil
}

func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, hosts []string) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no peer certificate", errVerify)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return fmt.Errorf("%w: %v", errVerify, err)
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: certificate not valid for %s", errVerify, strings.Join(hosts, " or "))
}
