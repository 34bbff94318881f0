package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"golang.org/x/sys/unix"
)

// durability is how the volume makes what it wrote survive a power loss.
// Its order is the release's safety: the unpacked data is synced before the
// release directory is renamed into place (and so before any marker names
// it), and the directory that received the rename is synced after. Tests
// replace it to check that order.
type durability interface {
	// syncData makes every file written under dir durable.
	syncData(dir string) error
	// rename moves from to to (same filesystem).
	rename(from, to string) error
	// syncDir makes dir's entries (a rename, a removal) durable.
	syncDir(dir string) error
}

// osDurability is the production durability; noSync (WithoutSync) turns
// every sync into a no-op.
type osDurability struct{ noSync bool }

// syncData uses syncfs(2) on dir's filesystem: one call writes back every
// file of the release together, which the kernel orders better than an
// fsync per file, and it reports write-back errors (Linux 5.8+).
func (d osDurability) syncData(dir string) error {
	if d.noSync {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

func (osDurability) rename(from, to string) error { return os.Rename(from, to) }

func (d osDurability) syncDir(dir string) error {
	if d.noSync {
		return nil
	}
	return fsutil.SyncDir(dir)
}

// syncDir syncs dir with the volume's durability.
func (v *Volume) syncDir(dir string) error { return v.cfg.durable.syncDir(dir) }

// isNoSpace tells a full disk or an exhausted quota.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// noSpace returns a full disk or an exhausted quota as e, with the system's
// error and the space free now (after any cleanup); any other error, or one
// already a *NoSpaceError, is returned as it is.
func (v *Volume) noSpace(err error, e *NoSpaceError) error {
	if !isNoSpace(err) {
		return err
	}
	if _, ok := errors.AsType[*NoSpaceError](err); ok {
		return err
	}
	e.Err, e.Free = err, v.freeBytes()
	return e
}

// fileNoSpace is noSpace for a write of the file at path.
func (v *Volume) fileNoSpace(err error, path string) error {
	return v.noSpace(err, &NoSpaceError{Path: filepath.Dir(path), File: filepath.Base(path), Need: -1, Basis: SpaceUnknown})
}
