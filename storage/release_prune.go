package storage

import (
	"fmt"
	"os"
	"slices"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// DefaultKeepReleases is how many releases stay on the volume: the one in
// use and the previous one, for rollback.
const DefaultKeepReleases = 2

// PruneReleases removes releases beyond the newest keep (by version order),
// never the one `current` points at, nor the installed version, nor any in
// protected (an upgrade's target or previous version). It needs the lock held
// and returns the versions it removed.
func (l *Lock) PruneReleases(keep int, protected []string) ([]string, error) {
	if keep < 1 {
		keep = 1
	}
	versions, err := l.v.ListReleases()
	if err != nil {
		return nil, err
	}
	keepSet := map[string]bool{}
	for _, p := range protected {
		keepSet[p] = true
	}
	cur, err := l.v.CurrentVersion()
	if err != nil {
		return nil, fmt.Errorf("prune releases: %w", err) // never guess what is in use
	}
	keepSet[cur] = true
	if iv, err := l.v.ReadInstalledVersion(); err == nil && iv != nil {
		keepSet[iv.Version] = true
	}
	// ListReleases returns only names ValidateVersion accepts.
	slices.SortFunc(versions, func(a, b string) int { return version.MustParse(b).Compare(version.MustParse(a)) })
	var removed []string
	for i, version := range versions {
		if i < keep || keepSet[version] {
			continue
		}
		err := l.held(func() error { return os.RemoveAll(l.v.ReleaseDir(version)) })
		if err != nil {
			return removed, fmt.Errorf("prune release %s: %w", version, err)
		}
		removed = append(removed, version)
	}
	return removed, nil
}
