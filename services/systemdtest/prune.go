package systemdtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Files in an instance's Root that let a later Start clean up after an
// instance whose starter AND reaper were killed.
const (
	cgroupsFile   = "cgroups"    // the instance's cgroup directories, one a line
	reaperPIDFile = "reaper.pid" // the reaper's PID
)

// recordForPrune writes what pruneLeftovers needs.
func (i *Instance) recordForPrune() error {
	if err := os.WriteFile(filepath.Join(i.Root, cgroupsFile), []byte(strings.Join(i.Cgroups, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("systemdtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(i.Root, reaperPIDFile), []byte(strconv.Itoa(i.ReaperPID())+"\n"), 0o644); err != nil {
		return fmt.Errorf("systemdtest: %w", err)
	}
	return nil
}

// pruneLeftovers removes the roots and cgroups of instances whose starter
// and reaper are both gone (their namespace died with the reaper). Roots are
// named "<starter pid>-<random>".
func pruneLeftovers() error {
	entries, err := os.ReadDir(BaseDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("systemdtest: %w", err)
	}
	var errs []error
	for _, e := range entries {
		starter, _, _ := strings.Cut(e.Name(), "-")
		root := filepath.Join(BaseDir, e.Name())
		pid, err := strconv.Atoi(starter)
		if err != nil || processAlive(pid) {
			continue
		}
		reaper, err := os.ReadFile(filepath.Join(root, reaperPIDFile))
		if err != nil {
			continue // still starting, or not ours
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(reaper))); err != nil || processAlive(pid) {
			continue // the reaper is cleaning up
		}
		cgroups, _ := os.ReadFile(filepath.Join(root, cgroupsFile))
		for _, d := range strings.Fields(string(cgroups)) {
			errs = append(errs, removeCgroupTree(d))
		}
		errs = append(errs, os.RemoveAll(root))
	}
	return errors.Join(errs...)
}

// removeCgroupTree rmdirs a cgroup and its children, deepest first: rmdir
// removes nothing but empty cgroups.
func removeCgroupTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("systemdtest: walk cgroup %s: %w", root, err)
	}
	slices.Reverse(dirs)
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("systemdtest: remove cgroup %s: %w", d, err)
		}
	}
	return nil
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
	// The state letter follows the command name, in parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}
