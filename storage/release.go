package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// ReleaseBinary is the concourse executable inside a release directory.
const ReleaseBinary = "concourse/bin/concourse"

// ReleaseInfo records where a release came from and what it hashed to, so
// that a later Activate can write InstalledVersion without the tarball.
type ReleaseInfo struct {
	Version     string    `json:"version"`
	Checksum    string    `json:"checksum"` // "sha1:<hex>" or "sha256:<hex>"
	Source      string    `json:"source"`
	Unit        string    `json:"unit"`
	InstalledAt time.Time `json:"installed_at"`
}

// ErrReleaseNotStaged means releases/<V> is not a complete release.
var ErrReleaseNotStaged = errors.New("release is not staged on the volume")

// ReadReleaseInfo returns the info of a complete release, or an error
// matching ErrReleaseNotStaged that says what is missing.
func (v *Volume) ReadReleaseInfo(version string) (*ReleaseInfo, error) {
	if err := ValidateVersion(version); err != nil {
		return nil, err
	}
	dir := v.ReleaseDir(version)
	if !isRealDir(dir) {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrReleaseNotStaged, dir)
	}
	var info ReleaseInfo
	found, err := readMarker(filepath.Join(dir, ReleaseInfoFile), &info,
		"remove the release directory; the next install downloads it again", func() error {
			if info.Version != version {
				return fmt.Errorf("it describes %q, not %q", info.Version, version)
			}
			return ValidateChecksum(info.Checksum)
		})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReleaseNotStaged, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %s has no %s (not made by the installer, or interrupted)", ErrReleaseNotStaged, dir, ReleaseInfoFile)
	}
	if fi, err := os.Stat(filepath.Join(dir, ReleaseBinary)); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s lacks %s", ErrReleaseNotStaged, dir, ReleaseBinary)
	}
	return &info, nil
}

func writeReleaseInfo(dir string, info ReleaseInfo) error {
	data, err := encodeMarker(info)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, ReleaseInfoFile), data, 0o644)
}

// ListReleases returns the complete-looking release versions under
// releases/ (directories that are not partial or temporary), unsorted.
func (v *Volume) ListReleases() ([]string, error) {
	entries, err := os.ReadDir(v.Path(ReleasesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	var versions []string
	for _, e := range entries {
		if e.IsDir() && !isUnfinishedName(e.Name()) && ValidateVersion(e.Name()) == nil {
			versions = append(versions, e.Name())
		}
	}
	return versions, nil
}

// partialDir creates releases/<V>.partial-<random>/ for one unpack attempt.
func (v *Volume) partialDir(version string) (string, error) {
	if err := os.MkdirAll(v.Path(ReleasesDir), ReleasesMode); err != nil {
		return "", fmt.Errorf("create %s: %w", v.Path(ReleasesDir), err)
	}
	dir, err := os.MkdirTemp(v.Path(ReleasesDir), version+PartialInfix)
	if err != nil {
		return "", fmt.Errorf("create the partial release directory: %w", err)
	}
	// MkdirTemp makes it 0700; the release is read by the services' users.
	if err := os.Chmod(dir, ReleasesMode); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
