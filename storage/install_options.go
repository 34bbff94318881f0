package storage

import (
	"context"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
)

// DefaultWaitIntervals are the waits between lock attempts while another
// unit installs: 5 s, 10 s, then every 20 s.
func DefaultWaitIntervals() []time.Duration {
	return []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}
}

// InstallOptions tune an Installer; zero values take the defaults.
type InstallOptions struct {
	// Unit names this unit in the lock holder record and markers.
	Unit string
	// Source is where the tarball comes from; when zero it is the release
	// under BaseURL (DefaultReleaseBaseURL when empty).
	Source  Source
	BaseURL string
	// SHA256 pins the tarball's SHA-256 (config option release-sha256);
	// it is checked in addition to the sidecar's SHA-1.
	SHA256 string
	// Activate points `current` at the release and writes InstalledVersion.
	// When false the release is only staged under releases/<V>.
	Activate bool
	// Keep is how many releases stay after an install (DefaultKeepReleases);
	// Protected versions are never pruned (an upgrade's target).
	Keep      int
	Protected []string
	Limits    ExtractLimits
	// SpaceFactor times the tarball size must be free before downloading.
	SpaceFactor   float64
	VerifyTimeout time.Duration
	Fetch         FetchOptions
	// WaitIntervals are the waits between lock attempts; the last repeats.
	WaitIntervals []time.Duration
	Sleep         func(ctx context.Context, d time.Duration) error
	Now           func() time.Time
	// OnStep sees every transition of the install machine.
	OnStep func(fsm.InstallStep)
	// OnStatus receives the line `juju status` should show.
	OnStatus func(string)
	// Logf receives notes for the unit's log.
	Logf func(format string, args ...any)
}

func (o InstallOptions) withDefaults() InstallOptions {
	if o.Keep <= 0 {
		o.Keep = DefaultKeepReleases
	}
	if o.SpaceFactor <= 0 {
		o.SpaceFactor = DefaultSpaceFactor
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = DefaultVerifyTimeout
	}
	if len(o.WaitIntervals) == 0 {
		o.WaitIntervals = DefaultWaitIntervals()
	}
	if o.Sleep == nil {
		o.Sleep = sleepContext
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
