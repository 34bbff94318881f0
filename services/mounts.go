package services

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MountedError says mounts remain under a directory: they could not be
// unmounted, so nothing under it was deleted.
type MountedError struct {
	Dir    string
	Mounts []string // the mount points still there
	Err    error    // the first unmount error, if any
}

func (e *MountedError) Error() string {
	return fmt.Sprintf("services: %s: %d mount(s) remain under it (%s): %v", e.Dir, len(e.Mounts), strings.Join(e.Mounts, ", "), e.Err)
}

func (e *MountedError) Unwrap() error { return e.Err }

// MountsUnder lists the mount points at or under dir in this process's
// mount namespace, deepest first (a point mounted several times over
// appears as often).
func MountsUnder(dir string) ([]string, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == real || strings.HasPrefix(mp, real+"/") || real == "/" {
			found = append(found, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("services: read mountinfo: %w", err)
	}
	// Deepest first; mountinfo lists a stack in mount order, so keep the
	// order among equals and take the top of a stack first.
	slices.Reverse(found)
	slices.SortStableFunc(found, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return found, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space...).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// UnmountUnder unmounts everything mounted at or under dir, deepest first,
// and returns the mount points it unmounted. A busy mount is detached
// (MNT_DETACH): it leaves the tree at once and goes away when unused. A
// mount that cannot be unmounted gives a *MountedError.
func UnmountUnder(dir string) ([]string, error) {
	var done []string
	var firstErr error
	for range 64 { // a bound: each round removes at least one mount or stops
		mounts, err := MountsUnder(dir)
		if err != nil {
			return done, err
		}
		if len(mounts) == 0 {
			return done, nil
		}
		progress := false
		for _, m := range mounts {
			err := unix.Unmount(m, 0)
			if errors.Is(err, unix.EBUSY) {
				err = unix.Unmount(m, unix.MNT_DETACH)
			}
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("unmount %s: %w", m, err)
				}
				continue
			}
			done = append(done, m)
			progress = true
		}
		if !progress {
			return done, &MountedError{Dir: dir, Mounts: mounts, Err: firstErr}
		}
	}
	mounts, _ := MountsUnder(dir)
	return done, &MountedError{Dir: dir, Mounts: mounts, Err: firstErr}
}

// RemoveWorkerDir removes a unit's worker directory: it unmounts whatever
// is mounted under it first and never deletes through a mount (with a mount
// left, nothing is deleted). A directory that does not exist is no error.
func RemoveWorkerDir(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || dir == "/" {
		return &ValidationError{Field: "worker dir", Problem: fmt.Sprintf("%q is not a clean absolute path below /", dir)}
	}
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := UnmountUnder(dir); err != nil {
		return err
	}
	// Checked again right before deleting: nothing may have been mounted
	// since (the worker is stopped; this is the last line of defence).
	mounts, err := MountsUnder(dir)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return &MountedError{Dir: dir, Mounts: mounts}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("services: remove %s: %w", dir, err)
	}
	return nil
}
