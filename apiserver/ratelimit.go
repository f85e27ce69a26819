package apiserver

import (
	"sync"
	"time"
)

// loginLimiter is a token bucket per key (client IP and email): it bounds password guessing and
// the bcrypt work one client can cause, without one attacker locking out a user elsewhere.
type loginLimiter struct {
	mu        sync.Mutex
	perSecond float64
	burst     float64
	now       func() time.Time
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLoginLimiter(rate LoginRate, now func() time.Time) *loginLimiter {
	return &loginLimiter{
		perSecond: rate.PerMinute / 60,
		burst:     float64(rate.Burst),
		now:       now,
		buckets:   map[string]*bucket{},
		lastSweep: now(),
	}
}

// allow takes a token from key's bucket. When it is empty it returns false and how long until
// the next token.
func (l *loginLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.perSecond)
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.perSecond * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// sweep forgets, once a minute, the buckets that have refilled: they hold no information, and
// keeping them would let a client grow the map without bound by trying new emails.
func (l *loginLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.perSecond >= l.burst {
			delete(l.buckets, k)
		}
	}
}
