package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// StuckAfter is how old a progress marker of a held lock may get before the
// holder is reported as stuck.
const StuckAfter = 10 * time.Minute

// Progress is the in-progress marker a lock holder writes before it starts
// changing the volume and clears when done. Found while the lock is free, it
// means the holder died.
type Progress struct {
	Unit    string          `json:"unit"`
	PID     int             `json:"pid"`
	Version version.Version `json:"version"`
	Started time.Time       `json:"started"`
}

// WriteProgress writes the progress marker for v atomically, naming the
// lock's holder and the clock.
func (l *Lock) WriteProgress(v version.Version) error {
	if err := ValidateRelease(v); err != nil {
		return fmt.Errorf("write the progress marker: %w", err)
	}
	p := Progress{Unit: l.holder.Unit, PID: l.holder.PID, Version: v, Started: l.v.cfg.now().UTC()}
	return l.held(func() error { return l.v.writeMarker(l.v.Path(ProgressFile), p) })
}

// ClearProgress removes the progress marker; it is idempotent.
func (l *Lock) ClearProgress() error {
	return l.held(func() error {
		if err := fsutil.RemoveIfExists(l.v.Path(ProgressFile)); err != nil {
			return fmt.Errorf("clear the progress marker: %w", err)
		}
		return l.v.syncDir(l.v.root)
	})
}

// ReadProgress returns the progress marker, nil, nil when there is none, or
// a *CorruptMarkerError naming the file.
func (v *Volume) ReadProgress() (*Progress, error) {
	return readMarkerPtr(v.Path(ProgressFile), func(p *Progress) error {
		if p.Version.IsZero() || p.Started.IsZero() {
			return errors.New("version or start time missing")
		}
		return nil
	})
}
