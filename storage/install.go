package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// Installer puts Concourse releases on the shared volume, once per cluster:
// whichever unit gets the volume lock first downloads, the others wait and
// then find the release in place (double-checked under the lock).
type Installer struct {
	v    *Volume
	opts InstallOptions
}

// NewInstaller returns an Installer for the volume.
func NewInstaller(v *Volume, opts InstallOptions) *Installer {
	return &Installer{v: v, opts: opts.withDefaults()}
}

// InstallResult says what an install did.
type InstallResult struct {
	Version string
	Dir     string // releases/<version>
	// Downloaded is false when the release was found in place.
	Downloaded bool
	Checksum   string // "sha1:<hex>" or "sha256:<hex>"
	Activated  bool
	// Recovered is the marker of a dead downloader cleaned on the way.
	Recovered *Progress
	Pruned    []string
	State     string // the install machine's final state
}

// Install makes version present on the volume (and current, with
// Activate). It fires the install machine's events as it goes; on error the
// machine ends in failed, the partial data and progress marker are gone and
// `current` is untouched.
func (in *Installer) Install(ctx context.Context, version string) (*InstallResult, error) {
	m := fsm.NewInstallMachine(in.opts.OnStep)
	res := &InstallResult{Version: version, Dir: in.v.ReleaseDir(version)}
	err := in.install(ctx, m, version, res)
	if err != nil {
		err = in.noSpace(err)
		if ferr := m.Fire(fsm.InstallFail); ferr != nil {
			err = errors.Join(err, ferr)
		}
		in.opts.OnStatus(fmt.Sprintf("Installing Concourse %s failed: %v", version, err))
	}
	res.State = m.Current()
	return res, err
}

func (in *Installer) install(ctx context.Context, m *fsm.InstallMachine, version string, res *InstallResult) (err error) {
	if err := ValidateVersion(version); err != nil {
		return err
	}
	lock, err := in.acquire(ctx, m, version)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.Release()) }()
	if herr := lock.HolderRecordError(); herr != nil {
		in.opts.Logf("holding the lock on %s without naming this unit in %s: %v", in.v.Root(), LockHolderFile, herr)
	}
	if rec := lock.Recovered(); rec != nil {
		res.Recovered = rec
		in.opts.Logf("the install of %s by %s (pid %d, started %s) died; removed %v; starting over",
			rec.Version, rec.Unit, rec.PID, rec.Started.Format("2006-01-02T15:04:05Z07:00"), lock.Removed())
	}

	// The double-check: another unit may have finished while we waited.
	// The event is fired once activation worked, so that installed
	// really means installed.
	if info, ierr := in.v.ReadReleaseInfo(version); ierr == nil {
		res.Checksum = info.Checksum
		if err := in.finish(lock, version, info, res); err != nil {
			return err
		}
		return m.Fire(fsm.InstallFoundInstalled)
	} else if !errors.Is(ierr, ErrReleaseNotStaged) {
		return ierr
	}

	if err := m.Fire(fsm.InstallLockAcquired); err != nil {
		return err
	}
	if err := lock.WriteProgress(Progress{Version: version}); err != nil {
		return err
	}
	info, err := in.download(ctx, m, version)
	if err != nil {
		return errors.Join(err, lock.ClearProgress())
	}
	res.Downloaded = true
	res.Checksum = info.Checksum
	if err := in.finish(lock, version, info, res); err != nil {
		return errors.Join(err, lock.ClearProgress())
	}
	if err := lock.ClearProgress(); err != nil {
		return err
	}
	return m.Fire(fsm.InstallVerified)
}

// download fetches, unpacks and verifies version into a partial directory,
// then renames it to releases/<version>. The partial directory never
// survives an error.
func (in *Installer) download(ctx context.Context, m *fsm.InstallMachine, version string) (info *ReleaseInfo, err error) {
	src := in.opts.Source
	if src == (Source{}) {
		src = DefaultSource(in.opts.BaseURL, version)
	}
	fetchOpts := in.opts.Fetch
	onProgress := fetchOpts.OnProgress
	fetchOpts.OnProgress = func(p DownloadProgress) {
		in.opts.OnStatus(FormatDownloadProgress(version, p))
		if onProgress != nil {
			onProgress(p)
		}
	}
	fetcher := NewFetcher(fetchOpts)
	in.opts.OnStatus(fmt.Sprintf("Downloading Concourse %s from %s", version, src))
	want, err := fetcher.ExpectedSums(ctx, src, in.opts.SHA256)
	if err != nil {
		return nil, err
	}

	var partial string
	defer func() {
		if err != nil && partial != "" {
			err = errors.Join(err, os.RemoveAll(partial))
		}
	}()
	digests, err := fetcher.Fetch(ctx, src, want, func(ctx context.Context, body io.Reader, size int64) error {
		if partial != "" { // a retry starts from scratch
			if err := os.RemoveAll(partial); err != nil {
				return err
			}
			partial = ""
		}
		if err := in.checkSpace(size); err != nil {
			return err
		}
		dir, err := in.v.partialDir(version)
		if err != nil {
			return err
		}
		partial = dir
		_, err = ExtractRelease(ctx, body, partial, in.opts.Limits)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := m.Fire(fsm.InstallDownloaded); err != nil {
		return nil, err
	}
	in.opts.OnStatus(fmt.Sprintf("Verifying Concourse %s", version))
	if err := VerifyBinary(ctx, partial, version, in.opts.VerifyTimeout); err != nil {
		return nil, err
	}
	info = &ReleaseInfo{Version: version, Checksum: digests.Checksum(), Source: src.String(), Unit: in.opts.Unit, InstalledAt: in.opts.Now().UTC()}
	if err := writeReleaseInfo(partial, *info); err != nil {
		return nil, err
	}
	final := in.v.ReleaseDir(version)
	// A releases/<V> without release info is not ours to trust (see
	// ReadReleaseInfo); it is replaced.
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(partial, final); err != nil {
		return nil, fmt.Errorf("move the verified release into place: %w", err)
	}
	partial = ""
	if err := fsutil.SyncDir(in.v.Path(ReleasesDir)); err != nil {
		return nil, err
	}
	return info, nil
}

// finish activates (when asked) and prunes, under the lock.
func (in *Installer) finish(lock *Lock, version string, info *ReleaseInfo, res *InstallResult) error {
	if in.opts.Activate {
		if !in.v.isCurrentActive(version) {
			if err := lock.activateLocked(version, info); err != nil {
				return err
			}
		}
		res.Activated = true
	}
	pruned, err := lock.PruneReleases(in.opts.Keep, append([]string{version}, in.opts.Protected...))
	res.Pruned = pruned
	if err != nil {
		return err
	}
	verb := "staged"
	if res.Activated {
		verb = "installed"
	}
	in.opts.OnStatus(fmt.Sprintf("Concourse %s %s", version, verb))
	return nil
}

// Activate points `current` at an already staged version and writes
// InstalledVersion, under the lock (waiting for it as Install does).
func (in *Installer) Activate(ctx context.Context, version string) error {
	if err := ValidateVersion(version); err != nil {
		return err
	}
	m := fsm.NewInstallMachine(in.opts.OnStep)
	lock, err := in.acquire(ctx, m, version)
	if err != nil {
		return err
	}
	err = lock.ActivateRelease(version)
	return errors.Join(err, lock.Release())
}
