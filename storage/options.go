package storage

import (
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// Default lock polling: start short so an uncontended wait is quick, double,
// and cap so that a long wait does not hammer a network filesystem.
const (
	DefaultLockPollInitial = 10 * time.Millisecond
	DefaultLockPollMax     = 500 * time.Millisecond
)

// config is what Options tune. It travels with a Volume, never in a global.
type config struct {
	now         func() time.Time
	pollInitial time.Duration
	pollMax     time.Duration
	atomic      fsutil.Writer
}

func defaultConfig() config {
	return config{now: time.Now, pollInitial: DefaultLockPollInitial, pollMax: DefaultLockPollMax}
}

func newConfig(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Option tunes a Volume.
type Option func(*config)

// WithClock replaces time.Now, for holder and marker times and the stuck rule.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithLockPoll sets how Lock polls a held lock: the first wait, doubled after
// each miss up to max. Non-positive values keep the defaults.
func WithLockPoll(initial, max time.Duration) Option {
	return func(c *config) {
		if initial > 0 {
			c.pollInitial = initial
		}
		if max > 0 {
			c.pollMax = max
		}
		if c.pollMax < c.pollInitial {
			c.pollMax = c.pollInitial
		}
	}
}
