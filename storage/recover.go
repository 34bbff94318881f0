package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// recoverStale runs right after the lock is taken. A progress marker found
// now was left by a holder that died (a live one would still hold the lock):
// it is removed and reported by Recovered. Partial release directories and
// stray temporary files are removed in any case, since only a lock holder
// creates them and nobody else holds the lock now. A holder that died
// before writing its marker thus leaves nothing behind either.
func (l *Lock) recoverStale() error {
	marker := l.v.Path(ProgressFile)
	p, err := l.v.ReadProgress()
	var corrupt *CorruptMarkerError
	switch {
	case errors.As(err, &corrupt):
		p = &Progress{} // stale all the same; nothing in it is worth keeping
	case err != nil:
		return fmt.Errorf("recover after the previous holder: %w", err)
	}
	for _, dir := range []string{l.v.root, l.v.Path(ReleasesDir)} {
		if err := l.removeUnfinished(dir); err != nil {
			return fmt.Errorf("recover after the previous holder: %w", err)
		}
	}
	if p != nil {
		if err := fsutil.RemoveIfExists(marker); err != nil {
			return fmt.Errorf("remove the stale progress marker: %w", err)
		}
		l.recovered = p
		l.removed = append(l.removed, marker)
	}
	if len(l.removed) > 0 {
		return l.v.syncDir(l.v.root)
	}
	return nil
}

// removeUnfinished removes the partial and temporary entries directly in dir.
func (l *Lock) removeUnfinished(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !isUnfinishedName(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(path); err != nil {
			return err
		}
		l.removed = append(l.removed, path)
	}
	return nil
}

// isUnfinishedName tells the names of entries that only exist while a
// process is working: partial release directories, atomic-write temps and
// write probes (a probe removed under a live OpenVolume does no harm: it
// accepts the probe being gone).
func isUnfinishedName(name string) bool {
	return strings.Contains(name, PartialInfix) || strings.Contains(name, TempInfix) ||
		strings.HasPrefix(name, ProbePrefix)
}

// isRealDir reports whether path is a directory and not a symlink.
func isRealDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.IsDir()
}
