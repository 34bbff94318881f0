package storage

import (
	"errors"
	"fmt"
)

// ErrHostileArchive is the errors.Is target of every refused archive entry;
// each refusal also matches its own reason below.
var ErrHostileArchive = errors.New("hostile release archive refused")

// Reasons an archive is refused. Each is matched with errors.Is.
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

// HostileArchiveError names the entry that was refused and why. Nothing of
// the archive is kept when it is returned.
type HostileArchiveError struct {
	Entry  string
	Detail string // e.g. the link target or the limit
	Reason error  // one of the Err* reasons above
}

func (e *HostileArchiveError) Error() string {
	msg := fmt.Sprintf("%v: %q: %v", ErrHostileArchive, e.Entry, e.Reason)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + "; nothing was installed: use the official release tarball or check the mirror"
}

func (e *HostileArchiveError) Unwrap() []error { return []error{ErrHostileArchive, e.Reason} }

// ErrCorruptArchive means the stream is not a gzipped tar (or ends early).
var ErrCorruptArchive = errors.New("release archive is not a valid .tgz")
