package storage

import (
	"errors"
	"fmt"
)

// VolumeErrorKind says what is wrong with the volume's root.
type VolumeErrorKind int

// The ways a volume can be unusable.
const (
	VolumeInvalidPath VolumeErrorKind = iota + 1
	VolumeMissing
	VolumeNotDirectory
	VolumeReadOnly
	VolumeFull
	VolumeUnusable
	VolumeLayoutConflict
)

// Sentinels for errors.Is on a *VolumeError.
var (
	ErrVolumeInvalidPath    = errors.New("invalid volume path")
	ErrVolumeMissing        = errors.New("volume missing")
	ErrVolumeNotDirectory   = errors.New("volume is not a directory")
	ErrVolumeReadOnly       = errors.New("volume is read-only")
	ErrVolumeFull           = errors.New("volume is full")
	ErrVolumeUnusable       = errors.New("volume unusable")
	ErrVolumeLayoutConflict = errors.New("volume layout conflict")
)

func (k VolumeErrorKind) sentinel() error {
	switch k {
	case VolumeInvalidPath:
		return ErrVolumeInvalidPath
	case VolumeMissing:
		return ErrVolumeMissing
	case VolumeNotDirectory:
		return ErrVolumeNotDirectory
	case VolumeReadOnly:
		return ErrVolumeReadOnly
	case VolumeFull:
		return ErrVolumeFull
	case VolumeLayoutConflict:
		return ErrVolumeLayoutConflict
	default:
		return ErrVolumeUnusable
	}
}

// String names the kind.
func (k VolumeErrorKind) String() string { return k.sentinel().Error() }

// VolumeError says why the shared volume at Path cannot be used and, in its
// message, what the operator should mount or fix where.
type VolumeError struct {
	Path string
	Kind VolumeErrorKind
	Err  error // the underlying system error, if any
}

func (e *VolumeError) Error() string {
	var what, fix string
	switch e.Kind {
	case VolumeInvalidPath:
		what = "is not a usable path"
		fix = "configure an absolute path to the shared volume"
	case VolumeMissing:
		what = "does not exist"
		fix = fmt.Sprintf("mount the shared filesystem at %s, or attach storage '%s' (juju add-storage <unit> %s)", e.Path, StorageName, StorageName)
	case VolumeNotDirectory:
		what = "is not a directory"
		fix = fmt.Sprintf("move the file away and mount the shared filesystem at %s, or attach storage '%s'", e.Path, StorageName)
	case VolumeReadOnly:
		what = "is not writable"
		fix = fmt.Sprintf("remount the shared filesystem at %s read-write (or fix its permissions for root); the charm writes releases, markers and worker directories there", e.Path)
	case VolumeFull:
		what = "has no space left"
		fix = fmt.Sprintf("free space on the filesystem mounted at %s or grow it", e.Path)
	case VolumeLayoutConflict:
		what = "has something in the way of the charm's layout"
		fix = "move the named entry away (the charm recreates it as a directory)"
	default:
		what = "cannot be used"
		fix = fmt.Sprintf("check the filesystem mounted at %s", e.Path)
	}
	msg := fmt.Sprintf("shared volume %s %s", e.Path, what)
	if e.Err != nil {
		msg += fmt.Sprintf(" (%v)", e.Err)
	}
	return msg + ": " + fix
}

// Unwrap exposes the system error.
func (e *VolumeError) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's kind.
func (e *VolumeError) Is(target error) bool { return target == e.Kind.sentinel() }
