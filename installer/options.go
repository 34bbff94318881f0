package installer

import (
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// DefaultStatusEvery is the least time between two waiting status lines
// that say the same thing but for the duration: status-set is a hook tool
// call, not something to run at every look at the lock.
const DefaultStatusEvery = 10 * time.Second

// holderGrace is how long a waiter gives a new lock holder to name itself
// (it writes its holder record a moment after taking the lock) before it
// reports an unnamed holder: a status that says who downloads is worth the
// wait.
const holderGrace = 500 * time.Millisecond

// Options tune an Installer; zero values take the defaults.
type Options struct {
	// Unit names this unit in the lock holder record and markers.
	Unit string
	// FetchSpec says where the release comes from and how it is checked
	// and unpacked (the charm maps its checksum option onto SHA256).
	storage.FetchSpec
	// Revision is the decision Install switches `current` for (the
	// upgrade's generation; 0 for a first install): see
	// storage.(*Lock).SwitchCurrent.
	Revision uint64
	// Keep is how many releases stay after an install
	// (storage.DefaultKeepReleases); Protected versions are never pruned
	// (an upgrade's target and previous version).
	Keep          int
	Protected     []version.Version
	VerifyTimeout time.Duration
	// NoSync skips every fsync (storage.WithoutSync), for models that run
	// thousands of hooks on tiny releases.
	NoSync bool
	// StatusEvery throttles the waiting status (DefaultStatusEvery).
	StatusEvery time.Duration
	Now         func() time.Time
	// OnStep sees every transition of the install machine.
	OnStep func(fsm.InstallStep)
	// OnStatus receives the line `juju status` should show.
	OnStatus func(string)
	// Logf receives notes for the unit's log.
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Keep <= 0 {
		o.Keep = storage.DefaultKeepReleases
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = storage.DefaultVerifyTimeout
	}
	if o.StatusEvery <= 0 {
		o.StatusEvery = DefaultStatusEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnStatus == nil {
		o.OnStatus = func(string) {}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Fetch.Logf == nil {
		o.Fetch.Logf = o.Logf
	}
	if o.Fetch.Now == nil {
		o.Fetch.Now = o.Now
	}
	return o
}
