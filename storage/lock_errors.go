package storage

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrLocked is the errors.Is target when another holder has the volume lock.
var ErrLocked = errors.New("the shared volume is locked by another holder")

// LockedError reports a held lock: who holds it (nil when unknown) and the
// progress marker (nil when none). Stuck is set when the marker is older than
// StuckAfter: the message then says what to do. A stuck lock is never
// taken from its holder.
type LockedError struct {
	Root     string
	Holder   *Holder
	Progress *Progress
	Stuck    bool
	At       time.Time // when the lock was found held
}

// Is matches ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

func (e *LockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shared volume %s is locked", e.Root)
	switch {
	case e.Holder != nil && !e.Holder.Since.IsZero() && !e.At.IsZero():
		fmt.Fprintf(&b, " by %s for %s", e.Holder, roundDuration(e.At.Sub(e.Holder.Since)))
	case e.Holder != nil:
		fmt.Fprintf(&b, " by %s", e.Holder)
	default:
		fmt.Fprintf(&b, " by a holder that has not identified itself yet (no %s: it is still cleaning up after a previous holder, or could not write it, e.g. on a full disk)", LockHolderFile)
	}
	if e.Progress == nil {
		return b.String()
	}
	age := roundDuration(e.At.Sub(e.Progress.Started))
	if !e.Stuck {
		fmt.Fprintf(&b, "; %s has been installing %s for %s", e.Progress.Unit, e.Progress.Version, age)
		return b.String()
	}
	fmt.Fprintf(&b, "; STUCK: the install of %s by %s (pid %d) started %s ago, more than %s: ",
		e.Progress.Version, e.Progress.Unit, e.Progress.PID, age, StuckAfter)
	b.WriteString(stuckAdvice(e.Holder, e.Progress))
	return b.String()
}

// stuckAdvice tells the operator how to unblock a stuck holder without
// breaking the lock's guarantee.
func stuckAdvice(h *Holder, p *Progress) string {
	who, pid, host := p.Unit, p.PID, "its host"
	if h != nil {
		who, pid, host = h.Unit, h.PID, h.Host
	}
	return fmt.Sprintf("check whether pid %d on %s is still working (juju debug-log --include %s); "+
		"the lock is never taken from a live holder, so if it hangs, kill that process: "+
		"the kernel then frees the lock and the next unit cleans up and retries", pid, host, who)
}

// lockedError describes the current holder, reading what it left on the
// volume. Unreadable records leave the fields nil rather than hide the
// contention.
func (v *Volume) lockedError() *LockedError {
	e := &LockedError{Root: v.root, At: v.cfg.now()}
	e.Holder, _ = readHolder(v.Path(LockHolderFile))
	e.Progress, _ = v.ReadProgress()
	e.Stuck = isStuck(e.Progress, e.At)
	return e
}

// isStuck applies the stuck rule to a progress marker of a held lock.
func isStuck(p *Progress, now time.Time) bool {
	return p != nil && now.Sub(p.Started) > StuckAfter
}

// roundDuration keeps messages readable: whole seconds, never negative
// (clocks of different hosts may disagree).
func roundDuration(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(time.Second)
}
