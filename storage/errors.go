package storage

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// Every error kind storage returns is declared in this file. Each says what
// happened (paths, units, sizes, versions, the system's own words) and
// nothing about what an operator should do: the charm phrases advice from
// the error's type. A distinct reason is a distinct type, or a sentinel
// matched with errors.Is; never both.

// ValueError refuses a caller-supplied value (a unit name, a version, a
// checksum, a pin) before it can name a path or reach a marker.
type ValueError struct {
	Field  string // FieldUnitName, FieldVersion, FieldChecksum or FieldPin
	Value  string
	Reason string
	// Err is the error of a shared rule the value broke, if any (a
	// *unitname.Error or *version.Error).
	Err error
}

// The fields a *ValueError names.
const (
	FieldUnitName = "unit name"
	FieldVersion  = "version"
	FieldChecksum = "checksum"
	FieldPin      = "SHA-256 pin"
)

func (e *ValueError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap exposes the shared rule's error, if any.
func (e *ValueError) Unwrap() error { return e.Err }

// Why a volume's root cannot be used: the Reason of a *VolumeError, matched
// with errors.Is.
var (
	ErrVolumeInvalidPath    = errors.New("is not a usable path")
	ErrVolumeMissing        = errors.New("does not exist")
	ErrVolumeNotDirectory   = errors.New("is not a directory")
	ErrVolumeReadOnly       = errors.New("is not writable")
	ErrVolumeFull           = errors.New("has no space left")
	ErrVolumeUnusable       = errors.New("cannot be used")
	ErrVolumeLayoutConflict = errors.New("has something else where the layout needs a directory")
)

// VolumeError says why the shared volume at Path cannot be used.
type VolumeError struct {
	Path   string
	Reason error // one of the ErrVolume* sentinels
	Err    error // the underlying system error, if any
}

func (e *VolumeError) Error() string {
	msg := fmt.Sprintf("shared volume %s %v", e.Path, e.Reason)
	if e.Err != nil {
		msg += fmt.Sprintf(" (%v)", e.Err)
	}
	return msg
}

// Unwrap exposes the reason and the system error.
func (e *VolumeError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// ErrLockReleased is returned by a Lock's writers after Release.
var ErrLockReleased = errors.New("the volume lock was already released")

// LockedError reports a held lock: who holds it (nil when unknown) and the
// progress marker (nil when none). Stuck is set when the marker is older than
// StuckAfter; a stuck lock is never taken from its holder.
type LockedError struct {
	Root     string
	Holder   *Holder
	Progress *Progress
	Stuck    bool
	At       time.Time // when the lock was found held
}

func (e *LockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shared volume %s is locked", e.Root)
	switch {
	case e.Holder != nil && !e.Holder.Since.IsZero() && !e.At.IsZero():
		fmt.Fprintf(&b, " by %s for %s", e.Holder, roundDuration(e.At.Sub(e.Holder.Since)))
	case e.Holder != nil:
		fmt.Fprintf(&b, " by %s", e.Holder)
	default:
		fmt.Fprintf(&b, " by a holder that has not written %s (yet, or it could not)", LockHolderFile)
	}
	if e.Progress == nil {
		return b.String()
	}
	age := roundDuration(e.At.Sub(e.Progress.Started))
	if e.Stuck {
		fmt.Fprintf(&b, "; stuck: the install of %s by %s (pid %d) started %s ago, more than %s",
			e.Progress.Version, e.Progress.Unit, e.Progress.PID, age, StuckAfter)
		return b.String()
	}
	fmt.Fprintf(&b, "; %s has been installing %s for %s", e.Progress.Unit, e.Progress.Version, age)
	return b.String()
}

// CorruptMarkerError names a marker file on the volume that cannot be read.
// Nothing is overwritten or removed for it, except a progress marker found
// by a new lock holder, which is stale by definition.
type CorruptMarkerError struct {
	Path string
	Err  error
}

func (e *CorruptMarkerError) Error() string {
	return fmt.Sprintf("marker %s is corrupt: %v", e.Path, e.Err)
}

// Unwrap exposes the decoding error.
func (e *CorruptMarkerError) Unwrap() error { return e.Err }

// Facts about the releases on the volume, matched with errors.Is.
var (
	// ErrReleaseNotStaged means releases/<V> is not a complete, verified
	// release.
	ErrReleaseNotStaged = errors.New("release is not staged on the volume")
	// ErrCurrentNotSymlink means `current` exists but is not a symlink into
	// releases/; it is never replaced silently.
	ErrCurrentNotSymlink = errors.New("current is not a symlink into releases/")
	// ErrNoVolumeID says the volume has no sharing-proof token yet.
	ErrNoVolumeID = errors.New("the volume has no id yet")
	// ErrOutsideVolume refuses a path that resolves outside the volume.
	ErrOutsideVolume = errors.New("path leads outside the shared volume")
)

// StaleSwitchError refuses a switch of `current` whose revision is lower
// than the one the volume's fence already holds: a newer decision has been
// carried out. Nothing was changed.
type StaleSwitchError struct {
	Have   uint64          // the fence's revision
	Got    uint64          // the revision asked for
	Fenced version.Version // the version the fence names
}

func (e *StaleSwitchError) Error() string {
	return fmt.Sprintf("switch of current at revision %d refused: the fence is at revision %d (%s)", e.Got, e.Have, e.Fenced)
}

// SwitchConflictError refuses a switch of `current` to another version at
// the revision the fence already holds: one revision names one version.
// Nothing was changed.
type SwitchConflictError struct {
	Revision uint64
	Fenced   version.Version // the version the fence names at Revision
	Asked    version.Version
}

func (e *SwitchConflictError) Error() string {
	return fmt.Sprintf("switch of current to %s at revision %d refused: revision %d already switched it to %s",
		e.Asked, e.Revision, e.Revision, e.Fenced)
}

// ErrBadSource is the errors.Is target of a release source that cannot be
// used (no URL nor file, both, an unsupported scheme, a missing file).
var ErrBadSource = errors.New("unusable release source")

// DownloadError is the last failure to get a file's bytes (network, HTTP
// status, timeouts) and how many attempts were made. Err is the cause: a
// *HTTPStatusError, a *ReadTimeoutError or the system's error.
type DownloadError struct {
	Source   string
	Attempts int
	Err      error
}

func (e *DownloadError) Error() string {
	return fmt.Sprintf("download of %s failed after %d attempt(s): %v", e.Source, e.Attempts, e.Err)
}

func (e *DownloadError) Unwrap() error { return e.Err }

// HTTPStatusError is an answer other than 200. A 404 (the version or the
// mirror is wrong) is not retried.
type HTTPStatusError struct {
	URL    string
	Status int
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// ReadTimeoutError says the server sent nothing for After.
type ReadTimeoutError struct {
	After time.Duration
	Done  int64 // bytes received before the stall
}

func (e *ReadTimeoutError) Error() string {
	return fmt.Sprintf("no data received for %s (after %s)", e.After, bytesize.Format(e.Done))
}

// NoChecksumError means nothing vouches for the tarball: its sidecar is
// missing or unusable and no SHA-256 pin was given. Nothing was downloaded.
type NoChecksumError struct {
	Source  string
	Sidecar string
	Err     error // why the sidecar is unusable
}

func (e *NoChecksumError) Error() string {
	return fmt.Sprintf("no checksum to verify %s against: sidecar %s: %v, and no SHA-256 pin was given", e.Source, e.Sidecar, e.Err)
}

func (e *NoChecksumError) Unwrap() error { return e.Err }

// ChecksumMismatchError says the downloaded bytes are not the release that
// was vouched for. They were discarded; nothing was installed.
type ChecksumMismatchError struct {
	Source    string
	Algorithm string // "sha1" (the sidecar) or "sha256" (the pin)
	Want, Got string
}

func (e *ChecksumMismatchError) Error() string {
	return fmt.Sprintf("checksum mismatch: %s of %s is %s, expected %s; nothing was installed", e.Algorithm, e.Source, e.Got, e.Want)
}

// CorruptArchiveError says the tarball is not a gzipped tar. Nothing was
// installed.
type CorruptArchiveError struct {
	Source string // "" when unpacking a stream whose origin is not known
	Err    error
}

func (e *CorruptArchiveError) Error() string {
	return fmt.Sprintf("release archive %s is not a valid .tgz: %v; nothing was installed", sourceOrStream(e.Source), e.Err)
}

func (e *CorruptArchiveError) Unwrap() error { return e.Err }

// TruncatedArchiveError says the tarball ended before its end (a cut
// connection or a proxy that gave up look the same). A download is tried
// once more before this is returned. Nothing was installed, and the next
// attempt downloads the release again.
type TruncatedArchiveError struct {
	Source   string
	Received int64 // bytes of the tarball received in the last attempt
	Attempts int
}

func (e *TruncatedArchiveError) Error() string {
	return fmt.Sprintf("release archive %s ends early, after %s (%d attempt(s)): nothing was installed; the next attempt downloads it again",
		sourceOrStream(e.Source), bytesize.Format(e.Received), e.Attempts)
}

func sourceOrStream(source string) string {
	if source == "" {
		return "(stream)"
	}
	return source
}

// Why an archive entry is refused: the Reason of a *HostileArchiveError,
// matched with errors.Is.
var (
	ErrAbsolutePath     = errors.New("entry has an absolute path")
	ErrPathTraversal    = errors.New(`entry path has a ".." element`)
	ErrBadEntryName     = errors.New("entry has an empty or unusable name")
	ErrLinkEscapes      = errors.New("link points outside the release")
	ErrLinkTarget       = errors.New("hard link target is not a file unpacked before it")
	ErrThroughSymlink   = errors.New("entry would be written through a symlink or under a file")
	ErrSpecialFile      = errors.New("entry is a device or fifo")
	ErrUnsupportedEntry = errors.New("entry type is not supported")
	ErrSetuidBit        = errors.New("entry has the setuid or setgid bit")
	ErrDuplicateEntry   = errors.New("entry appears twice")
	ErrArchiveTooLarge  = errors.New("archive unpacks to more than the size limit")
	ErrTooManyEntries   = errors.New("archive has more entries than the limit")
)

// HostileArchiveError names the archive entry that was refused and why.
// Nothing of the archive is kept when it is returned.
type HostileArchiveError struct {
	Entry  string
	Detail string // e.g. the link target or the limit
	Reason error  // one of the reasons above
}

func (e *HostileArchiveError) Error() string {
	msg := fmt.Sprintf("release archive refused: %q: %v", e.Entry, e.Reason)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + "; nothing was installed"
}

func (e *HostileArchiveError) Unwrap() error { return e.Reason }

// SpaceBasis says where the space a release needs was taken from.
type SpaceBasis string

// The bases of a space estimate, most trusted first.
const (
	SpaceOverride        SpaceBasis = "the configured figure"
	SpaceGzipTrailer     SpaceBasis = "the archive's gzip trailer"
	SpacePreviousRelease SpaceBasis = "the largest release on the volume"
	SpaceDownloadSize    SpaceBasis = "the download's size"
	SpaceUnknown         SpaceBasis = "nothing"
)

// NoSpaceError says a release does not fit on the volume, or that the disk
// filled while a marker (or the `current` link) was written. For a release
// the partial release was removed and `current` was not touched.
type NoSpaceError struct {
	Path string // releases/, or the directory of File
	// File is the marker or link being written when the disk filled; empty
	// for a release (then Need, Basis and Written say how far it got).
	File  string
	Need  int64      // bytes the release needs by Basis; -1 when unknown
	Basis SpaceBasis // where Need comes from
	// Free is the space left once the partial release was removed; -1 if
	// unknown.
	Free int64
	// Written is what was unpacked before the disk filled (0 when the
	// release was refused before the download).
	Written int64
	Err     error // the ENOSPC or EDQUOT, when the disk filled mid-way
}

func (e *NoSpaceError) Error() string {
	free := "unknown"
	if e.Free >= 0 {
		free = bytesize.Format(e.Free)
	}
	if e.File != "" {
		return fmt.Sprintf("no space left in %s writing %s: %v; %s free", e.Path, e.File, e.Err, free)
	}
	need := "an unknown amount"
	if e.Need >= 0 {
		need = fmt.Sprintf("about %s (by %s)", bytesize.Format(e.Need), e.Basis)
	}
	if e.Err == nil {
		return fmt.Sprintf("not enough space in %s: the release needs %s, %s free; nothing was downloaded", e.Path, need, free)
	}
	return fmt.Sprintf("no space left in %s after unpacking %s of the release (it needs %s): %v; %s free once the partial release was removed; `current` is unchanged",
		e.Path, bytesize.Format(e.Written), need, e.Err, free)
}

func (e *NoSpaceError) Unwrap() error { return e.Err }

// BadReleaseError says an unpacked release is not the Concourse it claims
// to be. Nothing was installed.
type BadReleaseError struct {
	Binary  string
	Version version.Version
	Problem string
	// Other is the release the binary says it is, when it runs and is
	// another release than Version (the wrong tarball was given).
	Other version.Version
}

func (e *BadReleaseError) Error() string {
	return fmt.Sprintf("unpacked release unusable: %s: %s (expected Concourse %s); nothing was installed", e.Binary, e.Problem, e.Version)
}
