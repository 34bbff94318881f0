package storage

import (
	"errors"
	"fmt"
	"time"
)

// InstalledVersion is the marker of a verified release on the volume. It is
// written last, after the release directory is complete, and read by every
// unit.
type InstalledVersion struct {
	Version     string    `json:"version"`
	Checksum    string    `json:"checksum"` // "sha1:<hex>" or "sha256:<hex>"
	InstalledAt time.Time `json:"installed_at"`
	Unit        string    `json:"unit"`
}

// ErrReleaseNotInPlace refuses a version marker for a release whose
// directory is not there: the marker is written last.
var ErrReleaseNotInPlace = errors.New("the release directory is not in place")

// WriteInstalledVersion writes the version marker atomically. The release
// directory must already exist. InstalledAt and Unit default to the clock and
// the lock's holder.
func (l *Lock) WriteInstalledVersion(iv InstalledVersion) error {
	if err := ValidateVersion(iv.Version); err != nil {
		return fmt.Errorf("write the version marker: %w", err)
	}
	if err := ValidateChecksum(iv.Checksum); err != nil {
		return fmt.Errorf("write the version marker: %w", err)
	}
	if iv.InstalledAt.IsZero() {
		iv.InstalledAt = l.v.cfg.now()
	}
	if iv.Unit == "" {
		iv.Unit = l.holder.Unit
	}
	data, err := encodeMarker(iv)
	if err != nil {
		return err
	}
	return l.held(func() error {
		dir := l.v.ReleaseDir(iv.Version)
		if !isRealDir(dir) {
			return fmt.Errorf("write the version marker for %s: %w: %s must be a directory first", iv.Version, ErrReleaseNotInPlace, dir)
		}
		return l.v.cfg.atomic.WriteFile(l.v.Path(InstalledVersionFile), data, 0o644)
	})
}

// ReadInstalledVersion returns the version marker, nil, nil when there is
// none, or a *CorruptMarkerError naming the file and what to do.
func (v *Volume) ReadInstalledVersion() (*InstalledVersion, error) {
	return readInstalledVersion(v.Path(InstalledVersionFile))
}

func readInstalledVersion(path string) (*InstalledVersion, error) {
	var iv InstalledVersion
	found, err := readMarker(path, &iv, fixInstalledVersion, func() error {
		if err := ValidateVersion(iv.Version); err != nil {
			return err
		}
		return ValidateChecksum(iv.Checksum)
	})
	if !found {
		return nil, err
	}
	return &iv, nil
}
