package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// ErrCurrentNotSymlink means `current` exists but is not a symlink into
// releases/; it is never replaced silently.
var ErrCurrentNotSymlink = errors.New("current is not a symlink into releases/")

// CurrentVersion is the release `current` points at, "" when there is no
// `current` yet.
func (v *Volume) CurrentVersion() (string, error) {
	link := v.Path(CurrentLink)
	target, err := os.Readlink(link)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w; remove it and run the install again", ErrCurrentNotSymlink, link, err)
	}
	dir, version := filepath.Split(filepath.Clean(target))
	if filepath.Clean(dir) != ReleasesDir || ValidateVersion(version) != nil {
		return "", fmt.Errorf("%w: %s points to %q; remove it and run the install again", ErrCurrentNotSymlink, link, target)
	}
	return version, nil
}

// ActivateRelease makes a staged release the one units run: `current` is
// pointed at releases/<version> (a new symlink under a temporary name renamed
// over it, so readers see the old release or the new one, never neither) and
// InstalledVersion is written last. It needs the lock held.
func (l *Lock) ActivateRelease(version string) error {
	info, err := l.v.ReadReleaseInfo(version)
	if err != nil {
		return fmt.Errorf("activate %s: %w", version, err)
	}
	return l.activateLocked(version, info)
}

// pointCurrent does the switch; callers check the release first.
func (v *Volume) pointCurrent(version string) error {
	link := v.Path(CurrentLink)
	tmp := fsutil.TempName(link)
	target := filepath.Join(ReleasesDir, version) // relative: survives a different mount point
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("switch current to %s: %w", version, err)
	}
	if err := v.cfg.atomic.Commit(tmp, link); err != nil {
		return fmt.Errorf("switch current to %s: %w", version, err)
	}
	return nil
}

// activateLocked switches `current` and then writes InstalledVersion, which
// comes last; if that write fails, `current` is switched back.
func (l *Lock) activateLocked(version string, info *ReleaseInfo) error {
	previous, err := l.v.CurrentVersion()
	if err != nil {
		return err
	}
	if err := l.held(func() error { return l.v.pointCurrent(version) }); err != nil {
		return err
	}
	err = l.WriteInstalledVersion(InstalledVersion{Version: version, Checksum: info.Checksum})
	if err == nil {
		return nil
	}
	if previous != "" && previous != version {
		if rerr := l.held(func() error { return l.v.pointCurrent(previous) }); rerr != nil {
			return errors.Join(err, fmt.Errorf("put current back to %s: %w", previous, rerr))
		}
	}
	return err
}

// isCurrentActive reports whether version is both `current` and the
// installed version, so activating it again would change nothing.
func (v *Volume) isCurrentActive(version string) bool {
	cur, err := v.CurrentVersion()
	if err != nil || cur != version {
		return false
	}
	iv, err := v.ReadInstalledVersion()
	return err == nil && iv != nil && iv.Version == version
}
