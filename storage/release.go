package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// ReleaseBinary is the concourse executable inside a release directory.
const ReleaseBinary = "concourse/bin/concourse"

// ReleaseInfo records where a release came from and what it hashed to. It is
// written into the release before the release is renamed into place, so a
// release directory with it is complete and verified.
type ReleaseInfo struct {
	Version     version.Version `json:"version"`
	Checksum    string          `json:"checksum"` // "sha1:<hex>" or "sha256:<hex>"
	Source      string          `json:"source"`
	Unit        string          `json:"unit"`
	InstalledAt time.Time       `json:"installed_at"`
	// UnpackedBytes is the size of the release's files, for estimating the
	// space the next release needs; 0 in releases staged before it existed.
	UnpackedBytes int64 `json:"unpacked_bytes,omitempty"`
}

// ReadReleaseInfo returns the info of a complete release, or an error
// matching ErrReleaseNotStaged that says what is missing.
func (v *Volume) ReadReleaseInfo(ver version.Version) (*ReleaseInfo, error) {
	if err := ValidateRelease(ver); err != nil {
		return nil, err
	}
	return v.readReleaseInfo(ver)
}

// readReleaseInfo is ReadReleaseInfo for a version already checked.
func (v *Volume) readReleaseInfo(ver version.Version) (*ReleaseInfo, error) {
	dir := v.releaseDir(ver)
	if !isRealDir(dir) {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrReleaseNotStaged, dir)
	}
	var info ReleaseInfo
	found, err := readMarker(filepath.Join(dir, ReleaseInfoFile), &info, func() error {
		if info.Version != ver {
			return fmt.Errorf("it describes %q, not %q", info.Version, ver)
		}
		return ValidateChecksum(info.Checksum)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReleaseNotStaged, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %s has no %s (not made by the charm, or interrupted)", ErrReleaseNotStaged, dir, ReleaseInfoFile)
	}
	if fi, err := os.Stat(filepath.Join(dir, ReleaseBinary)); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s lacks %s", ErrReleaseNotStaged, dir, ReleaseBinary)
	}
	return &info, nil
}

// IsStaged reports whether releases/<v> is complete and verified. It takes
// no lock: a release directory only appears, complete, by a rename.
func (v *Volume) IsStaged(ver version.Version) bool {
	_, err := v.ReadReleaseInfo(ver)
	return err == nil
}

// ListReleases returns the versions of the release directories under
// releases/ (not partial or temporary ones), oldest first by semantic
// versioning. It does not check that each is complete (see ReadReleaseInfo).
func (v *Volume) ListReleases() ([]version.Version, error) {
	entries, err := os.ReadDir(v.Path(ReleasesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	var versions []version.Version
	for _, e := range entries {
		if !e.IsDir() || isUnfinishedName(e.Name()) || validateVersion(e.Name()) != nil {
			continue
		}
		versions = append(versions, version.MustParse(e.Name()))
	}
	slices.SortFunc(versions, version.Version.Compare)
	return versions, nil
}

// partialDir creates releases/<V>.partial-<random>/ for one unpack attempt.
func (v *Volume) partialDir(ver version.Version) (string, error) {
	if err := ensureDir(v.Path(ReleasesDir), ReleasesMode); err != nil {
		return "", &VolumeError{Path: v.root, Reason: ErrVolumeLayoutConflict, Err: err}
	}
	dir, err := os.MkdirTemp(v.Path(ReleasesDir), ver.String()+PartialInfix)
	if err != nil {
		return "", fmt.Errorf("create the partial release directory: %w", err)
	}
	// MkdirTemp makes it 0700; the release is read by the services' users.
	if err := os.Chmod(dir, ReleaseDirMode); err != nil {
		return "", errors.Join(err, os.RemoveAll(dir))
	}
	return dir, nil
}
