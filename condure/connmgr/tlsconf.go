package connmgr

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// identities loads TLS certificates the way condure does: the SNI server
// name (else the listener's default-cert) names the pair
// <dir>/<name>.crt and <dir>/<name>.key. Loaded pairs are cached and
// reloaded when either file changes, so certificates can be replaced
// without a restart.
type identities struct {
	dir string
	log *slog.Logger

	mu    sync.Mutex
	cache map[string]*identity
}

type identity struct {
	cert           *tls.Certificate
	crtMod, keyMod time.Time
}

func newTLSConfig(dir, defaultCert string, log *slog.Logger) *tls.Config {
	ids := &identities{dir: dir, log: log, cache: make(map[string]*identity)}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if name := hello.ServerName; name != "" {
				if c, err := ids.get(name); err == nil {
					return c, nil
				}
			}
			if defaultCert == "" {
				return nil, fmt.Errorf("no certificate for %q and no default-cert", hello.ServerName)
			}
			c, err := ids.get(defaultCert)
			if err != nil {
				log.Warn("tls: " + err.Error())
			}
			return c, err
		},
	}
}

func (ids *identities) get(name string) (*tls.Certificate, error) {
	// A server name is a file name component here: refuse path tricks.
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("invalid identity name %q", name)
	}
	crt := filepath.Join(ids.dir, name+".crt")
	key := filepath.Join(ids.dir, name+".key")
	cs, err := os.Stat(crt)
	if err != nil {
		return nil, fmt.Errorf("failed to read cert file metadata %q: %w", crt, err)
	}
	ks, err := os.Stat(key)
	if err != nil {
		return nil, fmt.Errorf("failed to read key file metadata %q: %w", key, err)
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if id := ids.cache[name]; id != nil && id.crtMod.Equal(cs.ModTime()) && id.keyMod.Equal(ks.ModTime()) {
		return id.cert, nil
	}
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("load identity %q: %w", name, err)
	}
	ids.cache[name] = &identity{cert: &pair, crtMod: cs.ModTime(), keyMod: ks.ModTime()}
	return &pair, nil
}
