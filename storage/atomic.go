package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// WriteFileAtomic replaces path with data so that readers see either the old
// file or the whole new one, also after a crash: the data goes to a temporary
// file in the same directory, is fsynced, renamed over path, and the directory
// is fsynced. perm is applied exactly (the umask does not narrow it).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicWriter{}.write(path, data, perm)
}

// atomicWriter holds the knobs of WriteFileAtomic. The zero value is the
// production behaviour.
type atomicWriter struct {
	// plainTemp skips O_TMPFILE and always uses a named temporary file, as
	// on filesystems that refuse O_TMPFILE (tests force it with this).
	plainTemp bool
	// noSync skips the fsyncs, for advisory files whose loss on power
	// failure is harmless (the lock holder record).
	noSync bool
}

func (w atomicWriter) write(path string, data []byte, perm os.FileMode) error {
	if err := w.writeAtomic(path, data, perm); err != nil {
		return fmt.Errorf("write %s atomically: %w", path, err)
	}
	return nil
}

func (w atomicWriter) writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp := tempName(path)
	if !w.plainTemp {
		err := w.linkTmpfile(dir, tmp, data, perm)
		if err == nil {
			return w.commit(tmp, path, dir)
		}
		if !tmpfileUnsupported(err) {
			return err
		}
	}
	if err := w.writeNamedTemp(tmp, data, perm); err != nil {
		return err
	}
	return w.commit(tmp, path, dir)
}

// tempName is path's sibling <base>.tmp-atomic-<random>.
func tempName(path string) string {
	return filepath.Join(filepath.Dir(path), filepath.Base(path)+TempInfix+randomHex(6))
}

// linkTmpfile writes data to an anonymous O_TMPFILE inode and links it in as
// tmp only once it is complete, so a crash mid-write leaves no file behind.
func (w atomicWriter) linkTmpfile(dir, tmp string, data []byte, perm os.FileMode) error {
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

func (w atomicWriter) writeNamedTemp(tmp string, data []byte, perm os.FileMode) error {
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

// fill writes data, sets perm exactly and syncs.
func (w atomicWriter) fill(f *os.File, data []byte, perm os.FileMode) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm.Perm()); err != nil {
		return err
	}
	if w.noSync {
		return nil
	}
	return f.Sync()
}

// commit renames the complete temporary file over path and makes the rename
// durable. The temporary file is removed if the rename fails.
func (w atomicWriter) commit(tmp, path, dir string) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if w.noSync {
		return nil
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a rename or removal in it survives a crash.
// Filesystems that cannot fsync a directory answer EINVAL; that is accepted.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// removeIfExists removes path, treating "already gone" as success.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
