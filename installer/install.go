// Package installer puts Concourse releases on the shared volume once per
// cluster: the install machine of package fsm driven over the mechanisms of
// package storage. Whichever unit takes the volume lock first downloads;
// the others wait, and find the release in place, without the lock when
// they can (double-checked: again under the lock before any download).
package installer

import (
	"context"
	"errors"
	"fmt"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// Installer stages and installs releases on one volume for one unit.
type Installer struct {
	v    *storage.Volume
	opts Options
}

// New returns an Installer for the volume.
func New(v *storage.Volume, opts Options) *Installer {
	opts = opts.withDefaults()
	if opts.NoSync {
		v = v.WithOptions(storage.WithoutSync())
	}
	return &Installer{v: v, opts: opts}
}

// Result says what a Stage or Install did.
type Result struct {
	Version version.Version
	Dir     string // releases/<version>
	// Downloaded is false when the release was found in place.
	Downloaded bool
	Checksum   string // "sha1:<hex>" or "sha256:<hex>"
	// Activated is true when `current` names the release (Install).
	Activated bool
	// Recovered is the marker of a dead downloader cleaned on the way.
	Recovered *storage.Progress
	Pruned    []version.Version
	State     string // the install machine's final state
}

// Stage makes releases/<v> present and verified on the volume, downloading
// it unless some unit already did; it touches neither `current` nor any
// service. The charm stages an upgrade's target before anything stops.
func (in *Installer) Stage(ctx context.Context, v version.Version) (*Result, error) {
	return in.run(ctx, v, false)
}

// Install stages v and switches `current` to it, fenced at
// Options.Revision (see storage.(*Lock).SwitchCurrent).
func (in *Installer) Install(ctx context.Context, v version.Version) (*Result, error) {
	return in.run(ctx, v, true)
}

// run drives one install machine. On error the machine ends in failed, the
// partial data and the progress marker are gone and `current` is untouched.
func (in *Installer) run(ctx context.Context, v version.Version, activate bool) (*Result, error) {
	m := fsm.NewInstallMachine(in.opts.OnStep)
	res := &Result{Version: v, Dir: in.v.ReleaseDir(v)}
	err := in.install(ctx, m, v, activate, res)
	if err != nil {
		if ferr := m.Fire(fsm.InstallFail); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	res.State = m.Current()
	return res, err
}

func (in *Installer) install(ctx context.Context, m *fsm.InstallMachine, v version.Version, activate bool, res *Result) (err error) {
	if err := storage.ValidateRelease(v); err != nil {
		return err
	}
	lock, info, err := in.acquire(ctx, m, v, activate)
	if err != nil {
		return err
	}
	if lock == nil { // in place, seen without the lock
		res.Checksum, res.Activated = info.Checksum, activate
		in.opts.OnStatus(doneStatus(v, activate))
		return m.Fire(fsm.InstallFoundInstalled)
	}
	defer func() { err = errors.Join(err, lock.Release()) }()
	if herr := lock.HolderRecordError(); herr != nil {
		in.opts.Logf("holding the lock on %s without naming this unit in %s: %v", in.v.Root(), storage.LockHolderFile, herr)
	}
	if rec := lock.Recovered(); rec != nil {
		res.Recovered = rec
		in.opts.Logf("the install of %s by %s (pid %d, started %s) died; removed %v; starting over",
			rec.Version, rec.Unit, rec.PID, rec.Started.Format("2006-01-02T15:04:05Z07:00"), lock.Removed())
	}

	// The double-check: another unit may have finished while we waited.
	// The event is fired once the switch worked, so that installed really
	// means installed.
	if info, ierr := in.v.ReadReleaseInfo(v); ierr == nil {
		res.Checksum = info.Checksum
		if err := in.finish(lock, v, activate, res); err != nil {
			return err
		}
		return m.Fire(fsm.InstallFoundInstalled)
	} else if !errors.Is(ierr, storage.ErrReleaseNotStaged) {
		return ierr
	}

	if err := m.Fire(fsm.InstallLockAcquired); err != nil {
		return err
	}
	if err := lock.WriteProgress(v); err != nil {
		return err
	}
	if err := in.download(ctx, m, lock, v, res); err != nil {
		return errors.Join(err, lock.ClearProgress())
	}
	if err := in.finish(lock, v, activate, res); err != nil {
		return errors.Join(err, lock.ClearProgress())
	}
	if err := lock.ClearProgress(); err != nil {
		return err
	}
	return m.Fire(fsm.InstallVerified)
}

// acquire takes the volume lock, unless the release is (or becomes, while
// this unit waits) in place as asked: then it returns a nil Lock and the
// release's info. While another unit holds the lock it fires lock-busy once
// and reports who holds it and since when.
func (in *Installer) acquire(ctx context.Context, m *fsm.InstallMachine, v version.Version, activate bool) (*storage.Lock, *storage.ReleaseInfo, error) {
	report := &waitReport{in: in, v: v}
	var fireErr error
	var found *storage.ReleaseInfo
	lock, err := in.v.LockUnless(ctx, storage.Holder{Unit: in.opts.Unit},
		func() (bool, error) {
			found = in.inPlace(v, activate)
			return found != nil, nil
		},
		func(locked *storage.LockedError) {
			if m.Current() == fsm.InstallAbsent {
				fireErr = m.Fire(fsm.InstallLockBusy)
			}
			report.busy(locked)
		})
	if err != nil {
		return nil, nil, fmt.Errorf("waiting for Concourse %s: %w", v, err)
	}
	if fireErr != nil {
		return nil, nil, errors.Join(fireErr, releaseIfHeld(lock))
	}
	return lock, found, nil
}

func releaseIfHeld(l *storage.Lock) error {
	if l == nil {
		return nil
	}
	return l.Release()
}

// inPlace tells, without the lock, whether the work is already done: the
// release is staged (a release directory only appears complete, by a
// rename) and, to install, `current`, the fence and the installed marker
// all say v at this revision. It returns the release's info when it is,
// nil otherwise. Anything unreadable says no: the check under the lock
// then reports it.
func (in *Installer) inPlace(v version.Version, activate bool) *storage.ReleaseInfo {
	info, err := in.v.ReadReleaseInfo(v)
	if err != nil {
		return nil
	}
	if !activate {
		return info
	}
	fence, err := in.v.CurrentFence()
	if err != nil || fence.Version != v || fence.Revision != in.opts.Revision {
		return nil
	}
	cur, err := in.v.CurrentVersion()
	if err != nil || cur != v {
		return nil
	}
	if iv, err := in.v.ReadInstalledVersion(); err != nil || iv == nil || iv.Version != v {
		return nil
	}
	return info
}

// download fetches, unpacks, verifies and commits v into releases/<v>. The
// partial directory never survives an error.
func (in *Installer) download(ctx context.Context, m *fsm.InstallMachine, lock *storage.Lock, v version.Version, res *Result) error {
	spec := in.opts.FetchSpec
	onProgress := spec.Fetch.OnProgress
	spec.Fetch.OnProgress = func(p storage.DownloadProgress) {
		in.opts.OnStatus(FormatDownloadProgress(v, p))
		if onProgress != nil {
			onProgress(p)
		}
	}
	in.opts.Logf("downloading Concourse %s from %s", v, spec.SourceFor(v))
	in.opts.OnStatus(fmt.Sprintf("Downloading Concourse %s", v))
	partial, err := lock.FetchRelease(ctx, v, spec)
	if err != nil {
		return err
	}
	if err := m.Fire(fsm.InstallDownloaded); err != nil {
		return errors.Join(err, partial.Discard())
	}
	in.opts.OnStatus(fmt.Sprintf("Verifying Concourse %s", v))
	if err := partial.Verify(ctx, in.opts.VerifyTimeout); err != nil {
		return errors.Join(err, partial.Discard())
	}
	info, err := partial.Commit()
	if err != nil {
		return err
	}
	res.Downloaded, res.Checksum = true, info.Checksum
	return nil
}

// finish switches `current` (to install) and prunes, under the lock.
func (in *Installer) finish(lock *storage.Lock, v version.Version, activate bool, res *Result) error {
	if activate {
		if err := lock.SwitchCurrent(v, in.opts.Revision); err != nil {
			return err
		}
		res.Activated = true
	}
	pruned, err := lock.PruneReleases(in.opts.Keep, append([]version.Version{v}, in.opts.Protected...))
	res.Pruned = pruned
	if err != nil {
		return err
	}
	in.opts.OnStatus(doneStatus(v, activate))
	return nil
}

func doneStatus(v version.Version, activate bool) string {
	if activate {
		return fmt.Sprintf("Concourse %s installed", v)
	}
	return fmt.Sprintf("Concourse %s staged", v)
}
