package systemdtest

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// instanceCgroup is one cgroup per Instance, in each hierarchy systemd uses
// to track processes. A user manager treats the parent of its own
// ".../init.scope" as its root and puts units under <root>/app.slice. Started
// from the machine's /init.scope, two instances would share /app.slice and
// one stopping "x.service" would kill the other's; a cgroup of its own keeps
// every instance apart, and lets Stop kill anything a unit left behind.
type instanceCgroup struct {
	roots []string // <hierarchy mount>/<name>, one per tracking hierarchy
}

// newInstanceCgroup creates <mount>/<name>/init.scope in the name=systemd
// (cgroup v1) hierarchy and in the cgroup v2 one, where mounted. Controller
// hierarchies (cpu, memory, cpuset...) are left alone: systemd mirrors the
// unit paths there itself, and a fresh v1 cpuset refuses tasks.
func newInstanceCgroup(name string) (instanceCgroup, error) {
	mounts, err := trackingHierarchies()
	if err != nil {
		return instanceCgroup{}, err
	}
	if len(mounts) == 0 {
		return instanceCgroup{}, errors.New("systemdtest: no cgroup2 or name=systemd hierarchy mounted; systemd cannot run here")
	}
	var cg instanceCgroup
	for _, m := range mounts {
		root := filepath.Join(m, name)
		if err := os.MkdirAll(filepath.Join(root, "init.scope"), 0o755); err != nil {
			return cg, fmt.Errorf("systemdtest: create cgroup %s (run as root): %w", root, err)
		}
		cg.roots = append(cg.roots, root)
	}
	return cg, nil
}

// procsFiles are the files a process writes its PID to in order to enter
// the instance's init.scope.
func (c instanceCgroup) procsFiles() []string {
	files := make([]string, 0, len(c.roots))
	for _, r := range c.roots {
		files = append(files, filepath.Join(r, "init.scope", "cgroup.procs"))
	}
	return files
}

// trackingHierarchies lists the mount points of the cgroup2 hierarchy and
// of the v1 name=systemd hierarchy.
func trackingHierarchies() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("systemdtest: read mountinfo: %w", err)
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts... - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 {
			continue
		}
		fstype, superOpts := fields[sep+1], fields[sep+3]
		switch {
		case fstype == "cgroup2":
			mounts = append(mounts, fields[4])
		case fstype == "cgroup" && slices.Contains(strings.Split(superOpts, ","), "name=systemd"):
			mounts = append(mounts, fields[4])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("systemdtest: read mountinfo: %w", err)
	}
	return mounts, nil
}

// killAll SIGKILLs every process left in the instance's cgroups and waits
// until they are gone, then removes the (now empty) cgroup directories.
func (c instanceCgroup) killAll() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := c.pids()
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("systemdtest: processes %v survived SIGKILL in %v", pids, c.roots)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var errs []error
	for _, r := range c.roots {
		errs = append(errs, removeCgroupTree(r))
	}
	return errors.Join(errs...)
}

// pids lists the processes in every cgroup under the instance's roots.
func (c instanceCgroup) pids() []int {
	var pids []int
	for _, r := range c.roots {
		_ = filepath.WalkDir(r, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			data, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && processAlive(pid) {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroupTree rmdirs a cgroup and its children, deepest first (cgroup
// directories cannot be removed with their control files, only rmdir'd).
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
