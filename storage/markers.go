package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
)

// maxMarkerSize bounds how much of a marker file is read: markers are a few
// hundred bytes, anything larger is not one of ours.
const maxMarkerSize = 64 << 10

// readMarker decodes the JSON marker at path into v. It returns false and no
// error when the file is absent, and a *CorruptMarkerError naming the file
// when it cannot be decoded or check refuses its content.
func readMarker(path string, v any, check func() error) (bool, error) {
	data, err := readSmallFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if errors.Is(err, errMarkerTooLarge) {
		return false, &CorruptMarkerError{Path: path, Err: err}
	}
	if err != nil {
		return false, fmt.Errorf("read marker: %w", err)
	}
	// Unknown fields are accepted: a newer charm revision on another unit may
	// add some during a staggered refresh.
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return false, &CorruptMarkerError{Path: path, Err: err}
	}
	if dec.More() {
		return false, &CorruptMarkerError{Path: path, Err: errors.New("trailing data after the JSON object")}
	}
	if check != nil {
		if err := check(); err != nil {
			return false, &CorruptMarkerError{Path: path, Err: err}
		}
	}
	return true, nil
}

// readMarkerPtr is readMarker for a marker returned by pointer: nil, nil
// when the file is absent. check, if not nil, sees the decoded marker.
func readMarkerPtr[T any](path string, check func(*T) error) (*T, error) {
	var m T
	var checkM func() error
	if check != nil {
		checkM = func() error { return check(&m) }
	}
	found, err := readMarker(path, &m, checkM)
	if !found {
		return nil, err
	}
	return &m, nil
}

// errMarkerTooLarge refuses a file bigger than any marker of ours.
var errMarkerTooLarge = errors.New("larger than " + bytesize.Format(maxMarkerSize))

// readSmallFile reads at most maxMarkerSize bytes, refusing bigger files.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAtMost(f, maxMarkerSize, errMarkerTooLarge)
}

// encodeMarker renders a marker as indented JSON with a final newline, so an
// operator can read it with cat.
func encodeMarker(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// writeMarker encodes v and writes it atomically at path with FileMode; a
// full disk is a *NoSpaceError naming the marker.
func (v *Volume) writeMarker(path string, marker any) error {
	data, err := encodeMarker(marker)
	if err != nil {
		return err
	}
	return v.fileNoSpace(v.cfg.atomic.WriteFile(path, data, FileMode), path)
}
