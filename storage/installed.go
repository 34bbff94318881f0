package storage

import (
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// InstalledVersion is the marker of the release `current` was last switched
// to. SwitchCurrent writes it after the link (the result, as the fence is
// the intent), and every unit reads it.
type InstalledVersion struct {
	Version     version.Version `json:"version"`
	Checksum    string          `json:"checksum"` // "sha1:<hex>" or "sha256:<hex>"
	InstalledAt time.Time       `json:"installed_at"`
	Unit        string          `json:"unit"`
}

// writeInstalledVersion writes the version marker atomically, with the
// lock's holder and the clock; the caller holds the lock and has checked the
// release.
func (l *Lock) writeInstalledVersion(v version.Version, checksum string) error {
	iv := InstalledVersion{Version: v, Checksum: checksum, InstalledAt: l.v.cfg.now().UTC(), Unit: l.holder.Unit}
	return l.v.writeMarker(l.v.Path(InstalledVersionFile), iv)
}

// ReadInstalledVersion returns the version marker, nil, nil when there is
// none, or a *CorruptMarkerError naming the file.
func (v *Volume) ReadInstalledVersion() (*InstalledVersion, error) {
	return readMarkerPtr(v.Path(InstalledVersionFile), func(iv *InstalledVersion) error {
		if err := ValidateRelease(iv.Version); err != nil {
			return err
		}
		return ValidateChecksum(iv.Checksum)
	})
}
