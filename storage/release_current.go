package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// CurrentVersion is the release `current` points at; the zero Version when
// there is no `current`.
func (v *Volume) CurrentVersion() (version.Version, error) {
	link := v.Path(CurrentLink)
	target, err := os.Readlink(link)
	if errors.Is(err, fs.ErrNotExist) {
		return version.Version{}, nil
	}
	if err != nil {
		return version.Version{}, fmt.Errorf("%w: %s: %w", ErrCurrentNotSymlink, link, err)
	}
	dir, name := filepath.Split(filepath.Clean(target))
	if filepath.Clean(dir) != ReleasesDir || validateVersion(name) != nil {
		return version.Version{}, fmt.Errorf("%w: %s points to %q", ErrCurrentNotSymlink, link, target)
	}
	return version.MustParse(name), nil
}

// Fence records the newest decision that switched `current`: its revision
// (the upgrade's generation; 0 for a first install), the version, which unit
// switched and when. It is written before the link moves (the intent, then
// the act), never with a lower revision, and it is a file of its own, so it
// survives a removed `current`.
type Fence struct {
	Version  version.Version `json:"version"`
	Revision uint64          `json:"revision"`
	Unit     string          `json:"unit"`
	At       time.Time       `json:"at"`
}

// CurrentFence returns the fence; the zero Fence (no version) when `current`
// was never switched by SwitchCurrent.
func (v *Volume) CurrentFence() (Fence, error) {
	var f Fence
	found, err := readMarker(v.Path(CurrentFenceFile), &f, func() error { return ValidateRelease(f.Version) })
	if !found {
		return Fence{}, err
	}
	return f, nil
}

// SwitchCurrent points `current` at releases/<v> for the decision of
// revision rev, under the lock and fenced:
//   - the release must be staged and verified (ErrReleaseNotStaged);
//   - a revision lower than the fence's is refused (*StaleSwitchError);
//   - the fence's revision with another version is refused
//     (*SwitchConflictError);
//   - the fence's revision and version again changes nothing, except that
//     it repairs `current` and the installed marker when they name another
//     release (a crash between the fence and the link);
//   - otherwise the fence is written first, then the link is switched
//     (atomically: readers see the old release or the new one), then the
//     installed marker.
//
// Nothing is changed when an error is returned before the fence is written;
// after it, calling again with the same v and rev finishes the switch.
func (l *Lock) SwitchCurrent(v version.Version, rev uint64) error {
	if err := ValidateRelease(v); err != nil {
		return err
	}
	return l.held(func() error {
		info, err := l.v.readReleaseInfo(v)
		if err != nil {
			return fmt.Errorf("switch current to %s: %w", v, err)
		}
		fence, err := l.v.CurrentFence()
		if err != nil {
			return fmt.Errorf("switch current to %s: %w", v, err)
		}
		// `current` in a state the charm did not leave is never replaced.
		cur, err := l.v.CurrentVersion()
		if err != nil {
			return fmt.Errorf("switch current to %s: %w", v, err)
		}
		fenced := !fence.Version.IsZero()
		switch {
		case fenced && rev < fence.Revision:
			return &StaleSwitchError{Have: fence.Revision, Got: rev, Fenced: fence.Version}
		case fenced && rev == fence.Revision && v != fence.Version:
			return &SwitchConflictError{Revision: rev, Fenced: fence.Version, Asked: v}
		case !fenced || rev > fence.Revision:
			next := Fence{Version: v, Revision: rev, Unit: l.holder.Unit, At: l.v.cfg.now().UTC()}
			if err := l.v.writeMarker(l.v.Path(CurrentFenceFile), next); err != nil {
				return fmt.Errorf("switch current to %s: record the fence: %w", v, err)
			}
		}
		return l.pointCurrent(cur, v, info.Checksum)
	})
}

// pointCurrent makes `current` (now naming cur) and the installed marker
// name v, changing only what names something else. The link is replaced by
// a new symlink renamed over it.
func (l *Lock) pointCurrent(cur, v version.Version, checksum string) error {
	if cur != v {
		link := l.v.Path(CurrentLink)
		tmp := fsutil.TempName(link)
		// Relative: the link survives a different mount point.
		if err := os.Symlink(filepath.Join(ReleasesDir, v.String()), tmp); err != nil {
			return fmt.Errorf("switch current to %s: %w", v, l.v.fileNoSpace(err, link))
		}
		if err := l.v.cfg.durable.rename(tmp, link); err != nil {
			return errors.Join(fmt.Errorf("switch current to %s: %w", v, err), fsutil.RemoveIfExists(tmp))
		}
		if err := l.v.syncDir(l.v.root); err != nil {
			return err
		}
	}
	iv, err := l.v.ReadInstalledVersion()
	if err == nil && iv != nil && iv.Version == v && iv.Checksum == checksum {
		return nil
	}
	return l.writeInstalledVersion(v, checksum)
}
