package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// volumeIDLen is 128 random bits in hex.
const volumeIDLen = 32

// EnsureVolumeID returns the volume's token, creating it (128 random bits
// in hex) if there is none yet. Units prove they share the volume by
// comparing the tokens they read. A corrupt token is reported, not replaced.
func (l *Lock) EnsureVolumeID() (string, error) {
	var id string
	err := l.held(func() error {
		var err error
		id, err = l.v.ReadVolumeID()
		if !errors.Is(err, ErrNoVolumeID) {
			return err
		}
		id = fsutil.RandomHex(volumeIDLen / 2)
		path := l.v.Path(VolumeIDFile)
		return l.v.fileNoSpace(l.v.cfg.atomic.WriteFile(path, []byte(id+"\n"), FileMode), path)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// ReadVolumeID returns the volume's token, or "", ErrNoVolumeID.
func (v *Volume) ReadVolumeID() (string, error) {
	path := v.Path(VolumeIDFile)
	data, err := readSmallFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoVolumeID
	}
	if errors.Is(err, errMarkerTooLarge) {
		return "", &CorruptMarkerError{Path: path, Err: err}
	}
	if err != nil {
		return "", fmt.Errorf("read the volume id: %w", err)
	}
	id := strings.TrimSuffix(string(data), "\n")
	if len(id) != volumeIDLen || strings.Trim(id, "0123456789abcdef") != "" {
		return "", &CorruptMarkerError{Path: path, Err: fmt.Errorf("want %d lower-case hex digits, got %q", volumeIDLen, id)}
	}
	return id, nil
}
