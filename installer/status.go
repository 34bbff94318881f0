package installer

import (
	"fmt"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// The status lines an install reports through Options.OnStatus. They say
// what is happening, in at most a status line's length; advice is the
// charm's.

// FormatDownloadProgress is the line of a download in progress, e.g.
// "Downloading Concourse 7.14.3: 45% (52.0 MiB of 115.0 MiB)".
func FormatDownloadProgress(v version.Version, p storage.DownloadProgress) string {
	if p.Total <= 0 {
		return fmt.Sprintf("Downloading Concourse %s: %s", v, bytesize.Format(p.Done))
	}
	return fmt.Sprintf("Downloading Concourse %s: %d%% (%s of %s)", v, p.Done*100/p.Total, bytesize.Format(p.Done), bytesize.Format(p.Total))
}

// WaitingStatus is the line of a unit waiting for the lock, e.g.
// "Waiting for Concourse 7.14.3 (downloading on concourse/0 for 42s)".
func WaitingStatus(v version.Version, locked *storage.LockedError) string {
	since := func(t time.Time) time.Duration {
		return max(locked.At.Sub(t), 0).Round(time.Second)
	}
	stuck := ""
	if locked.Stuck {
		stuck = ", stuck"
	}
	switch p, h := locked.Progress, locked.Holder; {
	case p != nil && p.Version == v:
		return fmt.Sprintf("Waiting for Concourse %s (downloading on %s for %s%s)", v, p.Unit, since(p.Started), stuck)
	case p != nil:
		return fmt.Sprintf("Waiting for Concourse %s (%s is installing %s for %s%s)", v, p.Unit, p.Version, since(p.Started), stuck)
	case h != nil:
		return fmt.Sprintf("Waiting for Concourse %s (volume locked by %s for %s)", v, h.Unit, since(h.Since))
	}
	return fmt.Sprintf("Waiting for Concourse %s (volume locked)", v)
}

// waitReport turns the lock's busy answers into status lines: a new holder
// is given holderGrace to name itself, and a line that only differs by its
// duration is repeated at most every StatusEvery.
type waitReport struct {
	in          *Installer
	v           version.Version
	first, last time.Time
	lastWho     string
	loggedStuck bool
}

func (w *waitReport) busy(locked *storage.LockedError) {
	now := w.in.opts.Now()
	if w.first.IsZero() {
		w.first = now
	}
	if locked.Stuck && !w.loggedStuck {
		w.loggedStuck = true
		w.in.opts.Logf("%v", locked)
	}
	who := ""
	switch {
	case locked.Progress != nil:
		who = locked.Progress.Unit + " " + locked.Progress.Version.String()
	case locked.Holder != nil:
		who = locked.Holder.Unit
	case now.Sub(w.first) < holderGrace:
		return // a holder that has just taken the lock names itself soon
	}
	if locked.Stuck {
		who += " (stuck)"
	}
	if !w.last.IsZero() && who == w.lastWho && now.Sub(w.last) < w.in.opts.StatusEvery {
		return
	}
	w.last, w.lastWho = now, who
	w.in.opts.OnStatus(WaitingStatus(w.v, locked))
}
