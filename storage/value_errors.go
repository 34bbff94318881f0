package storage

import (
	"errors"
	"fmt"
)

// ErrInvalidValue is the errors.Is target of every *ValueError;
// ErrInvalidUnitName matches only those about unit names.
var (
	ErrInvalidValue    = errors.New("invalid value")
	ErrInvalidUnitName = errors.New("invalid unit name")
)

// ValueError refuses a caller-supplied value (a unit name, a version, a
// checksum) before it can name a path or reach a marker.
type ValueError struct {
	Field  string // "unit name", "version", "checksum"
	Value  string
	Reason string
	// Err is the error of a shared rule the value broke, if any: for a
	// version, fsm's *InvalidVersionError.
	Err error
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap exposes the shared rule's error, if any.
func (e *ValueError) Unwrap() error { return e.Err }

// Is matches ErrInvalidValue, and ErrInvalidUnitName for unit names.
func (e *ValueError) Is(target error) bool {
	return target == ErrInvalidValue || (target == ErrInvalidUnitName && e.Field == fieldUnitName)
}

const (
	fieldUnitName = "unit name"
	fieldVersion  = "version"
	fieldChecksum = "checksum"
)

// ErrCorruptMarker is the errors.Is target of every *CorruptMarkerError.
var ErrCorruptMarker = errors.New("corrupt marker")

// CorruptMarkerError names a marker file on the volume that cannot be read
// and says what to do about it. Nothing is overwritten or removed for it,
// except a progress marker found by a new lock holder, which is stale by
// definition.
type CorruptMarkerError struct {
	Path string
	Err  error
	Fix  string
}

func (e *CorruptMarkerError) Error() string {
	return fmt.Sprintf("marker %s is corrupt (%v): %s", e.Path, e.Err, e.Fix)
}

// Unwrap exposes the decoding error.
func (e *CorruptMarkerError) Unwrap() error { return e.Err }

// Is matches ErrCorruptMarker.
func (e *CorruptMarkerError) Is(target error) bool { return target == ErrCorruptMarker }
