package engine

import (
	"time"

	"github.com/pushpin-go/pushpin/protocol/publish"
)

// state is everything the engine loop owns. No other goroutine touches it.
type state struct {
	e   *Engine
	cfg *Config
	log *logger
	out *zhttpOut
	now time.Time // time of the event being handled

	timers timerHeap

	sessions map[sessionKey]*httpSession
	ws       map[string]*wsSession
	channels map[string]*channel

	// lastIDs remembers the last published id per channel, for prev-id
	// checks on accept and the Grip-Last of retries (Pushpin's
	// PublishLastIds). Bounded: see lastIDsMax.
	lastIDs map[string]string

	// idCache drops items seen with the same (channel, id) within
	// id_cache_ttl. idOrder lists keys in insertion order for expiry.
	idCache map[string]time.Time
	idOrder []idEntry

	// ZHTTP keep-alive buckets: one processed per second, so each session
	// is refreshed every 45 s (reference §2.6).
	kaBuckets [kaBucketCount]map[*httpSession]struct{}
	kaNext    int
	kaTick    int

	limiters     map[string]*limiter
	limiterTimer *timer

	// scratch is reused to snapshot a channel's subscribers during a
	// fan-out (deliveries may unsubscribe).
	scratch []*subscription
	encBuf  []byte
	// dataBatches holds the per-condure list-form data packets of the
	// fan-out in progress (see dataBatch); reused across fan-outs.
	dataBatches []batchEntry

	// intreq next-link requests in flight, by request id.
	links map[string]*linkRequest

	stats *statsState
}

type idEntry struct {
	key string
	at  time.Time
}

const (
	kaBucketCount = 45
	// sessionExpire drops a session whose peer has been silent this long
	// (Pushpin SESSION_EXPIRE).
	sessionExpire = 60 * time.Second
	// lastIDsMax bounds the last-id memory; past it arbitrary entries are
	// evicted (Pushpin's cache is bounded too).
	lastIDsMax = 100000
	// subscribedDelay is how long after a channel's first subscription its
	// sessions are "updated" (response holds retried, next links fetched),
	// so anything published while the SUB subscription propagated is
	// recovered (reference §5.5).
	subscribedDelay = time.Second
)

func newState(e *Engine) *state {
	st := &state{
		e:        e,
		cfg:      &e.cfg,
		log:      e.log,
		out:      &e.out,
		sessions: map[sessionKey]*httpSession{},
		ws:       map[string]*wsSession{},
		channels: map[string]*channel{},
		lastIDs:  map[string]string{},
		idCache:  map[string]time.Time{},
		limiters: map[string]*limiter{},
		links:    map[string]*linkRequest{},
	}
	for i := range st.kaBuckets {
		st.kaBuckets[i] = map[*httpSession]struct{}{}
	}
	st.stats = newStatsState(st)
	return st
}

// setLastID records the id of a delivered item (or forgets the channel's
// id for an item without one).
func (st *state) setLastID(channel, id string) {
	if id == "" {
		delete(st.lastIDs, channel)
		return
	}
	if _, ok := st.lastIDs[channel]; !ok && len(st.lastIDs) >= lastIDsMax {
		for k := range st.lastIDs {
			delete(st.lastIDs, k)
			break
		}
	}
	st.lastIDs[channel] = id
}

// seenID reports whether (channel, id) was published within id_cache_ttl,
// recording it otherwise.
func (st *state) seenID(it *publish.Item) bool {
	if it.ID == "" || st.cfg.IDCacheTTL <= 0 {
		return false
	}
	key := it.Channel + "\x00" + it.ID
	if at, ok := st.idCache[key]; ok && st.now.Sub(at) < st.cfg.IDCacheTTL {
		return true
	}
	st.idCache[key] = st.now
	st.idOrder = append(st.idOrder, idEntry{key: key, at: st.now})
	return false
}

// expireIDs drops id-cache entries older than the TTL.
func (st *state) expireIDs() {
	n := 0
	for n < len(st.idOrder) && st.now.Sub(st.idOrder[n].at) >= st.cfg.IDCacheTTL {
		ent := st.idOrder[n]
		if at, ok := st.idCache[ent.key]; ok && at.Equal(ent.at) {
			delete(st.idCache, ent.key)
		}
		n++
	}
	if n > 0 {
		st.idOrder = append(st.idOrder[:0], st.idOrder[n:]...)
	}
}
