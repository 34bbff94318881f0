package storage

import (
	"errors"
	"fmt"
	"os"
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
