package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// StuckAfter is how old a progress marker of a held lock may get before the
// holder is reported as stuck.
const StuckAfter = 10 * time.Minute

// Progress is the in-progress marker a lock holder writes before it starts
// changing the volume and clears when done. Found while the lock is free, it
// means the holder died.
type Progress struct {
	Unit    string    `json:"unit"`
	PID     int       `json:"pid"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
}

// WriteProgress writes the progress marker atomically. Unit, PID and Started
// default to the lock's holder and the clock.
func (l *Lock) WriteProgress(p Progress) error {
	if err := ValidateVersion(p.Version); err != nil {
		return fmt.Errorf("write the progress marker: %w", err)
	}
	if p.Unit == "" {
		p.Unit = l.holder.Unit
	} else if err := ValidateUnitName(p.Unit); err != nil {
		return fmt.Errorf("write the progress marker: %w", err)
	}
	if p.PID == 0 {
		p.PID = l.holder.PID
	}
	if p.Started.IsZero() {
		p.Started = l.v.cfg.now()
	}
	data, err := encodeMarker(p)
	if err != nil {
		return err
	}
	return l.held(func() error {
		return l.v.cfg.atomic.WriteFile(l.v.Path(ProgressFile), data, 0o644)
	})
}

// ClearProgress removes the progress marker; it is idempotent.
func (l *Lock) ClearProgress() error {
	return l.held(func() error {
		if err := fsutil.RemoveIfExists(l.v.Path(ProgressFile)); err != nil {
			return fmt.Errorf("clear the progress marker: %w", err)
		}
		return fsutil.SyncDir(l.v.root)
	})
}

// ReadProgress returns the progress marker, nil, nil when there is none, or
// a *CorruptMarkerError naming the file.
func (v *Volume) ReadProgress() (*Progress, error) {
	return readProgress(v.Path(ProgressFile))
}

func readProgress(path string) (*Progress, error) {
	var p Progress
	found, err := readMarker(path, &p, fixProgress, func() error {
		if p.Version == "" || p.Started.IsZero() {
			return errors.New("version or start time missing")
		}
		return nil
	})
	if !found {
		return nil, err
	}
	return &p, nil
}
