package systemdtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SystemdRunDir is the directory whose existence tells `systemd --user` (and
// sd_booted) that systemd is running; the user manager refuses to start
// without it.
const SystemdRunDir = "/run/systemd/system"

// systemdTraces are directories a root `systemd --user` creates as a side
// effect (unit-root: the mount point it uses to set up namespaces for
// ProtectSystem= and friends). Like SystemdRunDir, they are removed by the
// last user when they did not exist before the first one.
var systemdTraces = []string{"/run/systemd/unit-root"}

// registryDir records which live processes use SystemdRunDir and whether this
// package created it. It sits outside /run/systemd so that removing
// SystemdRunDir never touches it.
const registryDir = "/run/concourse-ci-machine-systemdtest"

// runDirUsers shares one directory between processes: users register by PID
// under an flock, and the directory is removed only by the last user and only
// when a user created it. A crashed user (PID gone) is pruned by the next one.
type runDirUsers struct {
	dir      string   // the shared directory (SystemdRunDir in production)
	traces   []string // directories systemd may create; see systemdTraces
	registry string   // where users and the "created" markers live
}

func defaultRunDirUsers() runDirUsers {
	return runDirUsers{dir: SystemdRunDir, traces: systemdTraces, registry: registryDir}
}

// traceMarker records that trace did not exist before our first user.
func (r runDirUsers) traceMarker(trace string) string {
	return filepath.Join(r.registry, "trace-"+strings.ReplaceAll(strings.Trim(trace, "/"), "/", "-"))
}

func (r runDirUsers) createdMarker() string { return filepath.Join(r.registry, "created") }
func (r runDirUsers) usersDir() string      { return filepath.Join(r.registry, "users") }

// withLock runs fn while holding an exclusive flock on the registry's lock
// file, so concurrent test binaries see a consistent registry.
func (r runDirUsers) withLock(fn func() error) error {
	if err := os.MkdirAll(r.usersDir(), 0o755); err != nil {
		return fmt.Errorf("systemdtest: create registry %s: %w", r.registry, err)
	}
	f, err := os.OpenFile(filepath.Join(r.registry, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("systemdtest: open registry lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("systemdtest: lock registry: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the fd unlocks anyway
	return fn()
}

// userFile names one user: a process may run several instances, so the
// instance's own name follows the PID (which says whether it is alive).
func (r runDirUsers) userFile(pid int, instance string) string {
	return filepath.Join(r.usersDir(), strconv.Itoa(pid)+"."+instance)
}

// acquire registers an instance in process pid as a user of the directory,
// creating the directory (and remembering that we did) when it does not
// exist.
func (r runDirUsers) acquire(pid int, instance string) error {
	return r.withLock(func() error {
		if _, err := os.Stat(r.dir); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(r.dir, 0o755); err != nil {
				return fmt.Errorf("systemdtest: create %s (run the tests as root): %w", r.dir, err)
			}
			if err := os.WriteFile(r.createdMarker(), nil, 0o644); err != nil {
				return fmt.Errorf("systemdtest: record creation of %s: %w", r.dir, err)
			}
		} else if err != nil {
			return fmt.Errorf("systemdtest: stat %s: %w", r.dir, err)
		}
		for _, trace := range r.traces {
			if _, err := os.Stat(trace); errors.Is(err, fs.ErrNotExist) {
				if err := os.WriteFile(r.traceMarker(trace), nil, 0o644); err != nil {
					return fmt.Errorf("systemdtest: record absence of %s: %w", trace, err)
				}
			}
		}
		return os.WriteFile(r.userFile(pid, instance), nil, 0o644)
	})
}

// release unregisters an instance, prunes users whose process is gone, and
// removes the directory when nobody uses it any more and this package
// created it. It reports whether it removed the directory.
func (r runDirUsers) release(pid int, instance string) (removed bool, err error) {
	err = r.withLock(func() error {
		if err := os.Remove(r.userFile(pid, instance)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("systemdtest: unregister %d.%s: %w", pid, instance, err)
		}
		live, err := r.pruneDeadUsers()
		if err != nil {
			return err
		}
		if live > 0 {
			return nil
		}
		for _, trace := range r.traces {
			if _, err := os.Stat(r.traceMarker(trace)); err != nil {
				continue // it was there before us
			}
			// Remove only if empty: anything in it is not ours.
			if err := os.Remove(trace); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) {
				return fmt.Errorf("systemdtest: remove %s: %w", trace, err)
			}
			if err := os.Remove(r.traceMarker(trace)); err != nil {
				return fmt.Errorf("systemdtest: %w", err)
			}
		}
		if _, err := os.Stat(r.createdMarker()); errors.Is(err, fs.ErrNotExist) {
			return nil // it existed before us: never ours to remove
		}
		// Remove (not RemoveAll): if a real systemd put something there, keep it.
		if err := os.Remove(r.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("systemdtest: remove %s: %w", r.dir, err)
		}
		removed = true
		return os.Remove(r.createdMarker())
	})
	return removed, err
}

// pruneDeadUsers drops registrations of processes that no longer exist and
// returns how many live users remain.
func (r runDirUsers) pruneDeadUsers() (int, error) {
	entries, err := os.ReadDir(r.usersDir())
	if err != nil {
		return 0, fmt.Errorf("systemdtest: read registry: %w", err)
	}
	live := 0
	for _, e := range entries {
		pidText, _, _ := strings.Cut(e.Name(), ".")
		pid, err := strconv.Atoi(pidText)
		if err == nil && processAlive(pid) {
			live++
			continue
		}
		if err := os.Remove(filepath.Join(r.usersDir(), e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("systemdtest: prune %s: %w", e.Name(), err)
		}
	}
	return live, nil
}

// processAlive reports whether pid names a running (non-zombie) process.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state letter follows the command name, which is in parentheses
	// and may itself contain spaces or parentheses.
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
		}
	}
	return false
}
