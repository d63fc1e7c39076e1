package connmgr

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"
)

// errParked is returned up a connection's call chain when it parks: the
// goroutine ends and the connection lives on without one until a packet,
// client bytes, its inactivity deadline or shutdown resume it (c.cont).
var errParked = errors.New("connection parked")

// pollSweep is how often parked connections' read deadlines are checked:
// the inactivity timeouts (--stream-timeout, minutes) need no finer grain.
const pollSweep = time.Second

// poller watches the sockets of parked connections for readability with
// an epoll set of its own (EPOLLONESHOT: one wake-up per park), so that an
// idle held connection costs no goroutine and no stack, only its structs.
// Go's netpoller keeps the same descriptors for the reads and writes of
// running connections; a descriptor may sit in both epoll sets.
//
// Lock order: conn.qmu before poller.mu (arm is called under qmu); the
// poller's own loop never holds mu while taking a qmu.
type poller struct {
	epfd int
	stop [2]int // a pipe whose read end is in the set: run's wake-up to stop
	mu   sync.Mutex
	byFD map[int]*conn
}

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: fd, byFD: make(map[int]*conn)}
	if err := syscall.Pipe2(p.stop[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.stop[0])}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, p.stop[0], &ev); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *poller) close() {
	syscall.Close(p.epfd)
	syscall.Close(p.stop[0])
	syscall.Close(p.stop[1])
}

// arm asks for one readability event for c's socket. Called under c.qmu.
func (p *poller) arm(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.fd)}
	op, alt := syscall.EPOLL_CTL_ADD, syscall.EPOLL_CTL_MOD
	if p.byFD[c.fd] == c {
		op, alt = alt, op
	}
	err := syscall.EpollCtl(p.epfd, op, c.fd, &ev)
	if err != nil {
		// A descriptor number reused after a close (ENOENT/EEXIST).
		err = syscall.EpollCtl(p.epfd, alt, c.fd, &ev)
	}
	if err != nil {
		return err
	}
	p.byFD[c.fd] = c
	return nil
}

// forget drops c's registration; called before its socket is closed.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	if p.byFD[c.fd] == c {
		delete(p.byFD, c.fd)
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	}
	p.mu.Unlock()
}

// run delivers readability events and expired read deadlines to parked
// connections until ctx ends, then closes the epoll set. Owner:
// Server.Run.
func (p *poller) run(ctx context.Context) {
	woke := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		syscall.Write(p.stop[1], []byte{0})
		close(woke)
	})
	defer func() {
		if !stop() {
			<-woke // never close the pipe under a running write
		}
		p.close()
	}()
	events := make([]syscall.EpollEvent, 256)
	var parked []*conn
	lastSweep := time.Now()
	for ctx.Err() == nil {
		n, err := syscall.EpollWait(p.epfd, events, int(pollSweep/time.Millisecond))
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == p.stop[0] {
				continue // ctx is done: the loop ends
			}
			p.mu.Lock()
			c := p.byFD[int(ev.Fd)]
			p.mu.Unlock()
			if c != nil {
				c.unpark(false)
			}
		}
		if now := time.Now(); now.Sub(lastSweep) >= pollSweep {
			lastSweep = now
			parked = parked[:0]
			p.mu.Lock()
			for _, c := range p.byFD {
				parked = append(parked, c)
			}
			p.mu.Unlock()
			for _, c := range parked {
				c.unpark(true)
			}
			clear(parked)
		}
	}
}
