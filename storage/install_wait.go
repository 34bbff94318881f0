package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
)

// acquire takes the volume lock for version, waiting with backoff while
// another unit holds it and reporting who and for how long. A stuck holder
// is reported, never overruled.
func (in *Installer) acquire(ctx context.Context, m *fsm.InstallMachine, version string) (*Lock, error) {
	for attempt := 0; ; attempt++ {
		lock, err := in.tryLockNamed(ctx)
		var locked *LockedError
		if !errors.As(err, &locked) {
			return lock, err
		}
		if err := m.Fire(fsm.InstallLockBusy); err != nil {
			return nil, err
		}
		msg := WaitingStatus(version, locked)
		in.opts.OnStatus(msg)
		if locked.Stuck {
			in.opts.Logf("%s", locked.Error())
		}
		wait := in.opts.WaitIntervals[min(attempt, len(in.opts.WaitIntervals)-1)]
		if err := in.opts.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("gave up waiting for Concourse %s: %w: %w", version, err, locked)
		}
	}
}

// holderGrace is how long a waiter gives a new holder to name itself: a
// unit that has just taken the lock writes its holder record a moment later
// (after an fsync), and a status that says who downloads is worth the wait.
// A holder that cannot write the record (a full disk) stays unnamed.
const (
	holderGrace      = 50 * time.Millisecond
	holderGraceTries = 10
)

// tryLockNamed is TryLock that, when the lock is held by a holder that has
// not named itself yet, looks again for a short while before answering.
func (in *Installer) tryLockNamed(ctx context.Context) (*Lock, error) {
	for try := 0; ; try++ {
		lock, err := in.v.TryLock(Holder{Unit: in.opts.Unit})
		var locked *LockedError
		if !errors.As(err, &locked) || locked.Holder != nil || locked.Progress != nil || try == holderGraceTries {
			return lock, err
		}
		if err := sleepContext(ctx, holderGrace); err != nil {
			return nil, err
		}
	}
}

// WaitingStatus is the status line of a unit waiting for the lock, e.g.
// "Waiting for Concourse 7.14.3 (downloading on concourse/0 for 42s)"; for a
// stuck holder it carries the lock's whole explanation.
func WaitingStatus(version string, locked *LockedError) string {
	if locked.Stuck {
		return fmt.Sprintf("Waiting for Concourse %s: %s", version, locked.Error())
	}
	since := func(t time.Time) time.Duration { return roundDuration(locked.At.Sub(t)) }
	switch p, h := locked.Progress, locked.Holder; {
	case p != nil && p.Version == version:
		return fmt.Sprintf("Waiting for Concourse %s (downloading on %s for %s)", version, p.Unit, since(p.Started))
	case p != nil:
		return fmt.Sprintf("Waiting for Concourse %s (%s is installing %s for %s)", version, p.Unit, p.Version, since(p.Started))
	case h != nil:
		return fmt.Sprintf("Waiting for Concourse %s (volume locked by %s for %s)", version, h.Unit, since(h.Since))
	}
	return fmt.Sprintf("Waiting for Concourse %s (volume locked)", version)
}
