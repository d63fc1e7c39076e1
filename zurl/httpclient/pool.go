package httpclient

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// pconn is a connection that may be reused for several requests.
type pconn struct {
	net.Conn
	br      *bufio.Reader
	key     string
	created time.Time
	idleAt  time.Time
	reused  bool
}

// pool keeps idle keep-alive connections per origin. Bounds: at most
// maxIdlePerKey idle connections per origin and maxIdle in all; a
// connection is reused only while younger than maxAge
// (connection_max_time, mirroring zurl's rotation of libcurl's connection
// cache) and idle for less than idleTimeout (libcurl's default max age of
// an idle connection, 118 s). Extra connections are closed on return.
type pool struct {
	mu            sync.Mutex
	idle          map[string][]*pconn
	total         int
	maxIdlePerKey int
	maxIdle       int
	maxAge        time.Duration
	idleTimeout   time.Duration
	closed        bool
}

func (p *pool) usable(c *pconn, now time.Time) bool {
	if p.maxAge > 0 && now.Sub(c.created) >= p.maxAge {
		return false
	}
	return now.Sub(c.idleAt) < p.idleTimeout
}

// get returns an idle connection for key, most recently used first, or nil.
func (p *pool) get(key string) *pconn {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[key]
	for len(list) > 0 {
		c := list[len(list)-1]
		list = list[:len(list)-1]
		p.total--
		if p.usable(c, now) {
			p.setList(key, list)
			c.reused = true
			return c
		}
		c.Close()
	}
	p.setList(key, list)
	return nil
}

func (p *pool) setList(key string, list []*pconn) {
	if len(list) == 0 {
		delete(p.idle, key)
	} else {
		p.idle[key] = list
	}
}

// put returns a connection whose exchange completed cleanly.
func (p *pool) put(c *pconn) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.br.Buffered() > 0 || (p.maxAge > 0 && now.Sub(c.created) >= p.maxAge) ||
		len(p.idle[c.key]) >= p.maxIdlePerKey {
		c.Close()
		return
	}
	if p.total >= p.maxIdle {
		p.evictOldestLocked()
	}
	c.idleAt = now
	p.idle[c.key] = append(p.idle[c.key], c)
	p.total++
}

func (p *pool) evictOldestLocked() {
	var oldKey string
	var oldest *pconn
	for k, list := range p.idle {
		if len(list) > 0 && (oldest == nil || list[0].idleAt.Before(oldest.idleAt)) {
			oldKey, oldest = k, list[0]
		}
	}
	if oldest != nil {
		oldest.Close()
		p.setList(oldKey, p.idle[oldKey][1:])
		p.total--
	}
}

// closeAll closes every idle connection and refuses later returns.
func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, list := range p.idle {
		for _, c := range list {
			c.Close()
		}
		delete(p.idle, k)
	}
	p.total = 0
}

// idleCount reports idle connections (tests).
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}
