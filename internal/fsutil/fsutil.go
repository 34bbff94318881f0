// Package fsutil is the one home of the file mechanics every room needs:
// atomic replacement of a file (temporary file, fsync, rename, directory
// fsync), directory fsync and removal that treats "already gone" as done.
// It imports nothing of the charm's.
package fsutil

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// TempInfix marks the temporary files of an atomic write:
// <name>.tmp-atomic-<random>. Whoever cleans a directory after a crash may
// remove strays that carry it.
const TempInfix = ".tmp-atomic-"

// WriteFile replaces path with data so that readers see either the old file
// or the whole new one, also after a crash: the data goes to a temporary
// file in the same directory, is fsynced, renamed over path, and the
// directory is fsynced. perm is applied exactly (the umask does not narrow
// it) before the data is written, so a secret is never readable by others.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Writer{}.WriteFile(path, data, perm)
}

// WriteFileIfChanged writes data atomically unless path already holds
// exactly data with mode perm; it reports whether it wrote.
func WriteFileIfChanged(path string, data []byte, perm fs.FileMode) (bool, error) {
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if st, statErr := os.Stat(path); statErr == nil && bytes.Equal(old, data) && st.Mode().Perm() == perm.Perm() {
			return false, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := WriteFile(path, data, perm); err != nil {
		return false, err
	}
	return true, nil
}

// Writer holds the knobs of an atomic write. The zero value is the
// production behaviour.
type Writer struct {
	// PlainTemp skips O_TMPFILE and always uses a named temporary file, as
	// on filesystems that refuse O_TMPFILE (tests force it with this).
	PlainTemp bool
	// NoSync skips the fsyncs, for advisory files whose loss on power
	// failure is harmless (a lock holder record) and for models that run
	// thousands of hooks.
	NoSync bool
}

// WriteFile is the package-level WriteFile with w's knobs.
func (w Writer) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if err := w.writeAtomic(path, data, perm); err != nil {
		return fmt.Errorf("write %s atomically: %w", path, err)
	}
	return nil
}

func (w Writer) writeAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp := TempName(path)
	if !w.PlainTemp {
		err := w.linkTmpfile(dir, tmp, data, perm)
		if err == nil {
			return w.Commit(tmp, path)
		}
		if !tmpfileUnsupported(err) {
			return err
		}
	}
	if err := w.writeNamedTemp(tmp, data, perm); err != nil {
		return err
	}
	return w.Commit(tmp, path)
}

// TempName is path's sibling <base>.tmp-atomic-<random>.
func TempName(path string) string {
	return filepath.Join(filepath.Dir(path), filepath.Base(path)+TempInfix+RandomHex(6))
}

// RandomHex returns 2n random hex digits, for unique file names.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// linkTmpfile writes data to an anonymous O_TMPFILE inode and links it in as
// tmp only once it is complete, so a crash mid-write leaves no file behind.
func (w Writer) linkTmpfile(dir, tmp string, data []byte, perm fs.FileMode) error {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer f.Close()
	if err := w.fill(f, data, perm); err != nil {
		return err
	}
	// Linking an O_TMPFILE through /proc needs no CAP_DAC_READ_SEARCH,
	// unlike AT_EMPTY_PATH.
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "linkat", Old: proc, New: tmp, Err: err}
	}
	return nil
}

// tmpfileUnsupported tells the errors of a filesystem (or a missing /proc)
// that cannot do O_TMPFILE+linkat, after which the plain path is used.
func tmpfileUnsupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.ENOSYS)
}

func (w Writer) writeNamedTemp(tmp string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm.Perm())
	if err != nil {
		return err
	}
	if err := w.fill(f, data, perm); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// fill sets perm exactly, writes data and syncs. The mode comes first so the
// bytes are never readable under a wider mode than asked for.
func (w Writer) fill(f *os.File, data []byte, perm fs.FileMode) error {
	if err := f.Chmod(perm.Perm()); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if w.NoSync {
		return nil
	}
	return f.Sync()
}

// Commit renames the complete temporary file tmp over path and makes the
// rename durable. The temporary file is removed if the rename fails.
func (w Writer) Commit(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if w.NoSync {
		return nil
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory so a rename or removal in it survives a crash.
// Filesystems that cannot fsync a directory answer EINVAL; that is accepted.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// RemoveIfExists removes the file path, treating "already gone" as success.
func RemoveIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveAllIfExists removes path and everything under it and syncs its
// directory; it reports whether there was anything to remove.
func RemoveAllIfExists(path string) (bool, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.RemoveAll(path); err != nil {
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	return true, SyncDir(filepath.Dir(path))
}
