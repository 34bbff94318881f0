package storage

import (
	"math/rand/v2"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// Default lock polling: a waiter learns that the lock is free (or that what
// it waits for is in place) within DefaultLockPollMax of it happening, and
// the waits are jittered so that many units do not look in step.
const (
	DefaultLockPollInitial = 10 * time.Millisecond
	DefaultLockPollMax     = 100 * time.Millisecond
)

// config is what Options tune. It travels with a Volume, never in a global.
type config struct {
	now         func() time.Time
	pollInitial time.Duration
	pollMax     time.Duration
	// jitter picks the actual wait for a nominal one; uniform in [d/2, d].
	jitter func(time.Duration) time.Duration
	noSync bool
	atomic fsutil.Writer
	// durable is how data is made durable; nil until newConfig fills it
	// (tests replace it to record the order of the calls).
	durable durability
}

func newConfig(opts []Option) config {
	c := config{
		now:         time.Now,
		pollInitial: DefaultLockPollInitial,
		pollMax:     DefaultLockPollMax,
		jitter:      halfJitter,
	}
	for _, o := range opts {
		o(&c)
	}
	c.finish()
	return c
}

// finish derives what follows from the options: the sync knob reaches the
// atomic writer and the production durability (a test's recorder is kept).
func (c *config) finish() {
	c.atomic.NoSync = c.noSync
	if _, isOS := c.durable.(osDurability); isOS || c.durable == nil {
		c.durable = osDurability{noSync: c.noSync}
	}
}

// halfJitter picks a wait uniformly in [d/2, d], so that many units do not
// poll or retry in step.
func halfJitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

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

// WithLockPoll sets how a waiter polls a held lock: the first wait, doubled
// after each miss up to max, each jittered down to half. Non-positive values
// keep the defaults.
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

// WithoutSync skips every fsync and syncfs the volume would do: for models
// and tests that run thousands of installs on tiny releases, where a power
// loss is not part of the experiment. Production volumes sync.
func WithoutSync() Option {
	return func(c *config) { c.noSync = true }
}

// WithOptions returns a handle on the same volume with opts applied on top
// of v's own (the installer uses it for its NoSync knob).
func (v *Volume) WithOptions(opts ...Option) *Volume {
	w := *v
	for _, o := range opts {
		o(&w.cfg)
	}
	w.cfg.finish()
	return &w
}
