package storage

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
	slices.SortFunc(versions, func(a, b string) int { return -CompareVersions(a, b) })
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

// CompareVersions orders release versions: dot-, dash- and plus-separated
// parts compare numerically when both are numbers, else as strings, and a
// version with more parts is newer (7.14.3 < 7.14.10 < 8.0.0).
func CompareVersions(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '_' })
	}
	pa, pb := split(a), split(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, errA := strconv.ParseUint(pa[i], 10, 64)
		nb, errB := strconv.ParseUint(pb[i], 10, 64)
		var c int
		if errA == nil && errB == nil {
			c = cmpUint(na, nb)
		} else {
			c = strings.Compare(pa[i], pb[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmpUint(uint64(len(pa)), uint64(len(pb)))
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
