package storage

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
)

// Default extraction limits: a Concourse release unpacks to a few hundred MB
// in about a thousand entries.
const (
	DefaultMaxReleaseBytes   = 2 << 30
	DefaultMaxReleaseEntries = 50_000
)

// ExtractLimits bound what an archive may unpack to; zero takes the default.
type ExtractLimits struct {
	MaxBytes   int64 // sum of the regular files' sizes
	MaxEntries int
}

func (l ExtractLimits) withDefaults() ExtractLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxReleaseBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxReleaseEntries
	}
	return l
}

// ExtractStats says what was unpacked.
type ExtractStats struct {
	Entries int
	Bytes   int64
}

// extractBufferSize is the copy buffer: large writes keep syscalls few.
const extractBufferSize = 1 << 20

// ExtractRelease unpacks a gzipped tar from r into dir, which must be an empty
// directory made for this one archive. It refuses (*HostileArchiveError)
// absolute paths, "..", links leaving dir, writes through symlinks, devices,
// fifos, setuid/setgid bits, duplicate entries, and archives over the limits.
// All files are created through an os.Root on dir, so even a bug in these
// checks cannot write outside it. Files and directories get the archive's
// modes exactly, whatever the umask (owners keep rwx on directories, so the
// release can be removed). A stream that is not a .tgz is a
// *CorruptArchiveError, one that ends early a *TruncatedArchiveError. When
// the disk fills it stops at once and returns the ENOSPC (or EDQUOT), with
// the bytes written so far in the stats.
//
// On error dir is left as it is; the caller removes it.
func ExtractRelease(ctx context.Context, r io.Reader, dir string, limits ExtractLimits) (ExtractStats, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ExtractStats{}, fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(r, extractBufferSize))
	if err != nil {
		return ExtractStats{}, corruptOrTransfer(err)
	}
	x := &extractor{
		root:   root,
		limits: limits.withDefaults(),
		kinds:  map[string]byte{},
		buf:    make([]byte, extractBufferSize),
	}
	if err := x.run(ctx, tar.NewReader(gz)); err != nil {
		return x.stats, err
	}
	// Read to the gzip trailer so its CRC is checked and the whole
	// stream is hashed.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return x.stats, corruptOrTransfer(err)
	}
	if err := x.checkSymlinks(); err != nil {
		return x.stats, err
	}
	return x.stats, nil
}

// Kinds of entry the extractor made, by cleaned name.
const (
	kindDir     = 'd'
	kindFile    = 'f'
	kindSymlink = 'l'
)

type extractor struct {
	root     *os.Root
	limits   ExtractLimits
	kinds    map[string]byte
	symlinks []string
	buf      []byte
	stats    ExtractStats
	total    int64 // bytes the regular files' headers declare so far
}

func (x *extractor) run(ctx context.Context, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return corruptOrTransfer(err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		x.stats.Entries++
		if x.stats.Entries > x.limits.MaxEntries {
			return &HostileArchiveError{Entry: hdr.Name, Reason: ErrTooManyEntries, Detail: fmt.Sprintf("limit %d", x.limits.MaxEntries)}
		}
		if hdr.Typeflag == tar.TypeReg {
			x.total += hdr.Size
			if x.total > x.limits.MaxBytes {
				return &HostileArchiveError{Entry: hdr.Name, Reason: ErrArchiveTooLarge, Detail: "limit " + bytesize.Format(x.limits.MaxBytes)}
			}
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	return nil
}

// corruptOrTransfer keeps a transfer error retryable (and cancellation as it
// is), calls an early end truncation, and anything else a corrupt archive.
func corruptOrTransfer(err error) error {
	if _, ok := errors.AsType[*transferError](err); ok || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &TruncatedArchiveError{}
	}
	return &CorruptArchiveError{Err: err}
}

func (x *extractor) entry(hdr *tar.Header, tr *tar.Reader) error {
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the archive's own root
	}
	if hdr.Mode&(0o4000|0o2000) != 0 {
		return &HostileArchiveError{Entry: hdr.Name, Reason: ErrSetuidBit, Detail: fmt.Sprintf("mode %o", hdr.Mode)}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.listedDir(hdr.Name, name, fs.FileMode(hdr.Mode).Perm()|0o700)
	case tar.TypeReg: // the reader turns the old TypeRegA into TypeReg
		return x.file(hdr, name, tr)
	case tar.TypeSymlink:
		return x.symlink(hdr, name)
	case tar.TypeLink:
		return x.hardlink(hdr, name)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return &HostileArchiveError{Entry: hdr.Name, Reason: ErrSpecialFile, Detail: fmt.Sprintf("type %q", hdr.Typeflag)}
	default:
		return &HostileArchiveError{Entry: hdr.Name, Reason: ErrUnsupportedEntry, Detail: fmt.Sprintf("type %q", hdr.Typeflag)}
	}
}

// entryName cleans a tar name and refuses absolute paths and "..".
func entryName(raw string) (string, error) {
	if raw == "" || strings.ContainsRune(raw, 0) {
		return "", &HostileArchiveError{Entry: raw, Reason: ErrBadEntryName}
	}
	if strings.HasPrefix(raw, "/") {
		return "", &HostileArchiveError{Entry: raw, Reason: ErrAbsolutePath}
	}
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return "", &HostileArchiveError{Entry: raw, Reason: ErrPathTraversal}
		}
	}
	return path.Clean(raw), nil
}

// parent makes sure every directory above name exists and is a real
// directory this archive made (never a symlink or a file), creating missing
// ones as tar does.
func (x *extractor) parent(raw, name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	switch x.kinds[dir] {
	case kindDir:
		return nil
	case kindSymlink, kindFile:
		return &HostileArchiveError{Entry: raw, Reason: ErrThroughSymlink, Detail: dir + " is not a directory"}
	}
	return x.mkdir(raw, dir, ReleaseDirMode)
}

// listedDir is a directory entry: made if needed, and given the archive's
// mode even when it was made before, as the parent of an earlier entry.
func (x *extractor) listedDir(raw, name string, perm fs.FileMode) error {
	if x.kinds[name] != kindDir {
		return x.mkdir(raw, name, perm)
	}
	return x.root.Chmod(name, perm)
}

// mkdir makes a new directory with exactly perm: Mkdir alone would leave
// it narrowed by the umask (0700 under umask 077), and the services' users
// could not reach the binaries.
func (x *extractor) mkdir(raw, name string, perm fs.FileMode) error {
	switch x.kinds[name] {
	case kindDir:
		return nil
	case kindFile, kindSymlink:
		return &HostileArchiveError{Entry: raw, Reason: ErrDuplicateEntry, Detail: name + " exists and is not a directory"}
	}
	if err := x.parent(raw, name); err != nil {
		return err
	}
	if err := x.root.Mkdir(name, perm); err != nil {
		return err
	}
	x.kinds[name] = kindDir
	return x.root.Chmod(name, perm)
}

// claim checks that name is new and its parents are real directories.
func (x *extractor) claim(raw, name string) error {
	if _, exists := x.kinds[name]; exists {
		return &HostileArchiveError{Entry: raw, Reason: ErrDuplicateEntry}
	}
	return x.parent(raw, name)
}

func (x *extractor) file(hdr *tar.Header, name string, tr *tar.Reader) error {
	if err := x.claim(hdr.Name, name); err != nil {
		return err
	}
	perm := fs.FileMode(hdr.Mode).Perm()
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	x.kinds[name] = kindFile
	n, err := io.CopyBuffer(onlyWriter{f}, tr, x.buf)
	x.stats.Bytes += n
	if err != nil {
		f.Close()
		// The disk failed, not the archive; corruptOrTransfer passes a failed
		// download through as it is.
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) || isNoSpace(err) {
			return err
		}
		return corruptOrTransfer(err)
	}
	// The umask must not strip the executable bits the release relies on.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// onlyWriter hides os.File's ReadFrom, whose generic fallback would use a
// small buffer instead of ours.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

func (x *extractor) symlink(hdr *tar.Header, name string) error {
	target := hdr.Linkname
	if target == "" || strings.HasPrefix(target, "/") {
		return &HostileArchiveError{Entry: hdr.Name, Reason: ErrLinkEscapes, Detail: "target " + target}
	}
	if resolved := path.Join(path.Dir(name), target); resolved == ".." || strings.HasPrefix(resolved, "../") {
		return &HostileArchiveError{Entry: hdr.Name, Reason: ErrLinkEscapes, Detail: "target " + target}
	}
	if err := x.claim(hdr.Name, name); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return err
	}
	x.kinds[name] = kindSymlink
	x.symlinks = append(x.symlinks, name)
	return nil
}

func (x *extractor) hardlink(hdr *tar.Header, name string) error {
	// entryName refuses absolute and ".." targets; both are escapes here.
	target, err := entryName(hdr.Linkname)
	if err != nil {
		return &HostileArchiveError{Entry: hdr.Name, Reason: ErrLinkEscapes, Detail: "target " + hdr.Linkname}
	}
	if x.kinds[target] != kindFile {
		return &HostileArchiveError{Entry: hdr.Name, Reason: ErrLinkTarget, Detail: "target " + hdr.Linkname}
	}
	if err := x.claim(hdr.Name, name); err != nil {
		return err
	}
	if err := x.root.Link(target, name); err != nil {
		return err
	}
	x.kinds[name] = kindFile
	return nil
}

// checkSymlinks resolves every symlink inside the root once all exist: a
// chain of links that each look inside can still lead out together. A link
// to something missing inside the release is allowed.
func (x *extractor) checkSymlinks() error {
	for _, name := range x.symlinks {
		_, err := x.root.Stat(name)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		target, _ := x.root.Readlink(name)
		return &HostileArchiveError{Entry: name, Reason: ErrLinkEscapes, Detail: fmt.Sprintf("target %s: %v", target, err)}
	}
	return nil
}
