package storage

import (
	"errors"
	"fmt"
)

// DefaultSpaceFactor is how much free space a download needs per byte of
// tarball: the unpacked release is about three times the .tgz.
const DefaultSpaceFactor = 3.0

// ErrNoSpace is the errors.Is target when the volume cannot hold a release.
var ErrNoSpace = errors.New("not enough free space on the shared volume")

// NoSpaceError says how much space an install needs and where. When it is
// returned the partial release was removed and `current` was not touched.
type NoSpaceError struct {
	Path string
	Need int64 // bytes; an estimate before the download, exact after ENOSPC
	Free int64 // bytes free when the error was reported; -1 if unknown
	Err  error // the ENOSPC, when the disk filled mid-way
}

func (e *NoSpaceError) Error() string {
	free := "unknown"
	if e.Free >= 0 {
		free = formatMB(e.Free)
	}
	how := "needs about"
	if e.Err != nil {
		how = "ran out of space: it needs"
	}
	return fmt.Sprintf("%v: unpacking the release in %s %s %s (free: %s); free up or grow the volume, then retry (nothing partial was kept, `current` is unchanged)",
		ErrNoSpace, e.Path, how, formatMB(e.Need), free)
}

func (e *NoSpaceError) Is(target error) bool { return target == ErrNoSpace }
func (e *NoSpaceError) Unwrap() error        { return e.Err }

// formatMB renders bytes for operators, with a decimal when small.
func formatMB(b int64) string {
	const mb = 1_000_000
	if b < 10*mb {
		return fmt.Sprintf("%.1f MB", float64(b)/mb)
	}
	return fmt.Sprintf("%d MB", b/mb)
}

// checkSpace refuses a download of size bytes (when known) whose unpacked
// release would not fit.
func (in *Installer) checkSpace(size int64) error {
	if size <= 0 {
		return nil // unknown: ENOSPC is caught mid-way instead
	}
	info, err := in.v.FSInfo()
	if err != nil {
		return fmt.Errorf("check free space: %w", err)
	}
	need := int64(float64(size) * in.opts.SpaceFactor)
	if uint64(need) > info.FreeBytes {
		return &NoSpaceError{Path: in.v.Path(ReleasesDir), Need: need, Free: int64(info.FreeBytes)}
	}
	return nil
}

// noSpace turns any ENOSPC into a *NoSpaceError with the free space filled
// in (measured after the partial data was removed).
func (in *Installer) noSpace(err error) error {
	var ns *NoSpaceError
	if !errors.As(err, &ns) {
		if !isNoSpace(err) {
			return err
		}
		ns = &NoSpaceError{Path: in.v.Path(ReleasesDir), Err: err}
		err = ns
	}
	ns.Path = in.v.Path(ReleasesDir) // the partial directory is gone by now
	ns.Free = -1
	if info, ferr := in.v.FSInfo(); ferr == nil {
		ns.Free = int64(info.FreeBytes)
	}
	return err
}
