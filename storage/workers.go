package storage

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// workerDirName is the directory name of a unit's worker dir: "app/N"
// becomes "app-N". The mapping is one-to-one because N has no '-'.
func workerDirName(unit string) (string, error) {
	n, err := parseUnit(unit)
	if err != nil {
		return "", err
	}
	return n.Slug(), nil
}

// WorkerDir creates workers/<app>-<N>/ with mode 0700 if needed and returns
// its path. The unit name is validated first, and an existing entry must be a
// real directory inside the volume (a symlink there is refused), so the path
// never leads out of the volume.
func (v *Volume) WorkerDir(unit string) (string, error) {
	n, err := parseUnit(unit)
	if err != nil {
		return "", err
	}
	return v.workerDir(n)
}

// workerDir is WorkerDir for a parsed unit name.
func (v *Volume) workerDir(n unitname.Name) (string, error) {
	unit, name := n.String(), n.Slug()
	parent := v.Path(WorkersDir)
	if err := ensureDir(parent, WorkersMode); err != nil {
		return "", fmt.Errorf("worker directory for %s: %w", unit, &VolumeError{Path: v.root, Reason: ErrVolumeLayoutConflict, Err: err})
	}
	dir := filepath.Join(parent, name)
	if err := ensureDir(dir, WorkerDirMode); err != nil {
		return "", fmt.Errorf("worker directory for %s: %w", unit, &VolumeError{Path: v.root, Reason: ErrVolumeLayoutConflict, Err: err})
	}
	if err := v.checkInside(dir); err != nil {
		return "", fmt.Errorf("worker directory for %s: %w", unit, err)
	}
	return dir, nil
}

// checkInside resolves symlinks on both sides and refuses a path that does
// not end up under the volume's root.
func (v *Volume) checkInside(path string) error {
	root, err := filepath.EvalSymlinks(v.root)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%w: %s resolves to %s", ErrOutsideVolume, path, real)
	}
	return nil
}
