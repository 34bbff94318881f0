package storage

import (
	"fmt"
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// DefaultKeepReleases is how many releases stay on the volume: the one in
// use and the previous one, for rollback.
const DefaultKeepReleases = 2

// PruneReleases removes the releases beyond the newest keep (by semantic
// versioning: 7.14.3-rc.1 is older than 7.14.3), never one that is in use
// or wanted: the one `current` points at, the fence's, the installed
// marker's, every release the registry says a unit runs (SetUnitRelease),
// and those in protected (an upgrade's target or previous version). When
// any of those cannot be read it removes nothing. It needs the lock held
// and returns the versions it removed.
func (l *Lock) PruneReleases(keep int, protected []version.Version) ([]version.Version, error) {
	keep = max(keep, 1)
	var removed []version.Version
	err := l.held(func() error {
		inUse, err := l.v.releasesInUse()
		if err != nil {
			return fmt.Errorf("prune releases: %w", err)
		}
		for _, p := range protected {
			inUse[p] = true
		}
		versions, err := l.v.ListReleases()
		if err != nil {
			return err
		}
		for i, v := range versions {
			if len(versions)-i <= keep || inUse[v] {
				continue
			}
			if err := os.RemoveAll(l.v.releaseDir(v)); err != nil {
				return fmt.Errorf("prune release %s: %w", v, err)
			}
			removed = append(removed, v)
		}
		if len(removed) == 0 {
			return nil
		}
		return l.v.syncDir(l.v.Path(ReleasesDir))
	})
	return removed, err
}

// releasesInUse collects the versions that `current`, the fence, the
// installed marker and the registry name. It never guesses: any of them
// unreadable is an error.
func (v *Volume) releasesInUse() (map[version.Version]bool, error) {
	inUse := map[version.Version]bool{}
	cur, err := v.CurrentVersion()
	if err != nil {
		return nil, err
	}
	inUse[cur] = true
	fence, err := v.CurrentFence()
	if err != nil {
		return nil, err
	}
	inUse[fence.Version] = true
	iv, err := v.ReadInstalledVersion()
	if err != nil {
		return nil, err
	}
	if iv != nil {
		inUse[iv.Version] = true
	}
	units, err := v.UnitReleases()
	if err != nil {
		return nil, err
	}
	for _, r := range units {
		inUse[r] = true
	}
	return inUse, nil
}
