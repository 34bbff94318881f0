package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// Volume is the shared volume mounted at one root directory.
type Volume struct {
	root string
	cfg  config
}

// OpenVolume checks that root exists, is a directory and is writable (by
// writing and removing a probe file: root passes access(2) everywhere), then
// creates the layout with its modes. When root is missing or not writable it
// returns a *VolumeError and writes nothing.
//
// A volume whose probe fails for lack of space (ENOSPC, EDQUOT) but whose
// layout already exists is opened all the same: the space may be held by a
// dead holder's partial release, which the next Lock removes (it writes
// nothing before that). A full volume without its layout is refused with
// ErrVolumeFull and left as it is.
func OpenVolume(root string, opts ...Option) (*Volume, error) {
	abs, err := checkRoot(root)
	if err != nil {
		return nil, err
	}
	v := &Volume{root: abs, cfg: newConfig(opts)}
	if err := probeWritable(abs, v.cfg.noSync); err != nil {
		if !errors.Is(err, ErrVolumeFull) || !v.layoutExists() {
			return nil, err
		}
	}
	if err := v.createLayout(); err != nil {
		return nil, err
	}
	return v, nil
}

// layoutExists reports whether every layout directory is already there as a
// real directory (modes are not checked: createLayout resets them).
func (v *Volume) layoutExists() bool {
	for _, d := range layoutDirs() {
		if !isRealDir(v.Path(d.name)) {
			return false
		}
	}
	return true
}

// Root is the volume's absolute root directory.
func (v *Volume) Root() string { return v.root }

// Path joins elem onto the root.
func (v *Volume) Path(elem ...string) string {
	return filepath.Join(append([]string{v.root}, elem...)...)
}

// ReleaseDir is <root>/releases/<version>. It returns "" for a version that
// cannot name a release directory (see validateVersion), so a bad version
// never names a path.
func (v *Volume) ReleaseDir(ver version.Version) string {
	if ValidateRelease(ver) != nil {
		return ""
	}
	return v.releaseDir(ver)
}

// releaseDir is ReleaseDir for a version already checked.
func (v *Volume) releaseDir(ver version.Version) string {
	return v.Path(ReleasesDir, ver.String())
}

// checkRoot cleans root and checks it is an existing directory, without
// writing anything.
func checkRoot(root string) (string, error) {
	if root == "" {
		return "", &VolumeError{Path: root, Reason: ErrVolumeInvalidPath, Err: errors.New("empty path")}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", &VolumeError{Path: root, Reason: ErrVolumeInvalidPath, Err: err}
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &VolumeError{Path: abs, Reason: ErrVolumeMissing, Err: err}
	case errors.Is(err, syscall.ENOTDIR):
		return "", &VolumeError{Path: abs, Reason: ErrVolumeNotDirectory, Err: err}
	case err != nil:
		return "", &VolumeError{Path: abs, Reason: ErrVolumeUnusable, Err: err}
	case !fi.IsDir():
		return "", &VolumeError{Path: abs, Reason: ErrVolumeNotDirectory}
	}
	return abs, nil
}

// probeWritable writes one byte to a fresh file under root (synced unless
// noSync) and removes it.
func probeWritable(root string, noSync bool) error {
	name := filepath.Join(root, ProbePrefix+fsutil.RandomHex(8))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return writeProbeError(root, err)
	}
	_, werr := f.Write([]byte{'x'})
	if werr == nil && !noSync {
		werr = f.Sync()
	}
	cerr := f.Close()
	// A lock holder's cleanup may have removed the probe already.
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && werr == nil {
		werr = rerr
	}
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		return writeProbeError(root, werr)
	}
	return nil
}

func writeProbeError(root string, err error) error {
	reason := ErrVolumeUnusable
	switch {
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		reason = ErrVolumeReadOnly
	case isNoSpace(err):
		reason = ErrVolumeFull
	}
	return &VolumeError{Path: root, Reason: reason, Err: err}
}

// createLayout makes the layout's directories (safe when several units do it
// at once) and sets their modes explicitly, as the umask may have masked them.
func (v *Volume) createLayout() error {
	for _, d := range layoutDirs() {
		if err := ensureDir(v.Path(d.name), d.mode); err != nil {
			return &VolumeError{Path: v.root, Reason: ErrVolumeLayoutConflict, Err: err}
		}
	}
	return nil
}

// ensureDir creates path with mode, or accepts an existing real directory
// (never a symlink, which could lead out of the volume) and resets its mode.
func ensureDir(path string, mode os.FileMode) error {
	err := os.Mkdir(path, mode)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is %s, not a directory", path, describeType(fi.Mode()))
	}
	if fi.Mode().Perm() != mode {
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
	}
	return nil
}

// describeType names a non-directory file type for messages.
func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsRegular():
		return "a regular file"
	default:
		return "a special file (" + m.Type().String() + ")"
	}
}
