package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// The registry of releases in use: each unit records, in its own worker
// directory, the release its services run (workers/<app>-<N>/release.json).
// Units' unit files pin releases/<v>, so what runs is not what `current`
// says but what this registry says, and pruning keeps every release it
// names.

// unitRelease is one unit's registry entry.
type unitRelease struct {
	Unit    string          `json:"unit"`
	Version version.Version `json:"version"`
	Since   time.Time       `json:"since"`
}

// SetUnitRelease records that unit's services run releases/<v>; a unit
// writes it before it starts a service on a release. It is done under the
// lock, so that a release is never pruned between its check here and the
// record (pruning holds the lock too). The release must be staged
// (ErrReleaseNotStaged).
func (l *Lock) SetUnitRelease(unit string, v version.Version) error {
	if err := ValidateRelease(v); err != nil {
		return err
	}
	n, err := parseUnit(unit)
	if err != nil {
		return err
	}
	return l.held(func() error {
		if _, err := l.v.readReleaseInfo(v); err != nil {
			return fmt.Errorf("record %s's release: %w", unit, err)
		}
		dir, err := l.v.workerDir(n)
		if err != nil {
			return err
		}
		entry := unitRelease{Unit: n.String(), Version: v, Since: l.v.cfg.now().UTC()}
		return l.v.writeMarker(filepath.Join(dir, UnitReleaseFile), entry)
	})
}

// ClearUnitRelease removes unit's entry, once none of its services runs; it
// is idempotent. It needs no lock: forgetting a use only lets pruning do
// more.
func (v *Volume) ClearUnitRelease(unit string) error {
	name, err := workerDirName(unit)
	if err != nil {
		return err
	}
	path := v.Path(WorkersDir, name, UnitReleaseFile)
	if err := fsutil.RemoveIfExists(path); err != nil {
		return fmt.Errorf("clear %s's release: %w", unit, err)
	}
	if err := v.syncDir(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// UnitReleases returns the registry: each unit with an entry and the release
// its services run. An entry that cannot be read is a *CorruptMarkerError
// (pruning then removes nothing rather than guess).
func (v *Volume) UnitReleases() (map[string]version.Version, error) {
	entries, err := os.ReadDir(v.Path(WorkersDir))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]version.Version{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the release registry: %w", err)
	}
	out := map[string]version.Version{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := v.Path(WorkersDir, e.Name(), UnitReleaseFile)
		var entry unitRelease
		found, err := readMarker(path, &entry, func() error {
			n, err := unitname.Parse(entry.Unit)
			switch {
			case err != nil:
				return err
			case n.Slug() != e.Name():
				return fmt.Errorf("it names unit %s, whose directory is %s", entry.Unit, n.Slug())
			}
			return ValidateRelease(entry.Version)
		})
		if err != nil {
			return nil, err
		}
		if found {
			out[entry.Unit] = entry.Version
		}
	}
	return out, nil
}
