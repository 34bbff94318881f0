package systemdtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// hierarchy is one mounted cgroup hierarchy: where it is mounted, how to
// mount it again inside the namespace, and this process's cgroup in it.
type hierarchy struct {
	mountPoint string
	fstype     string // cgroup or cgroup2
	options    string // for mount -o (v1 only): the controllers or name=
	own        string // this process's cgroup path, from /proc/self/cgroup
}

// cgroupHierarchies lists every mounted cgroup hierarchy with this
// process's cgroup in it.
func cgroupHierarchies() ([]hierarchy, error) {
	mounts, err := readLines("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	owns, err := readLines("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	var hs []hierarchy
	for _, line := range mounts {
		// id parent major:minor root mountpoint opts... - fstype source superopts
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if sep < 5 || sep+3 >= len(fields) {
			continue
		}
		h := hierarchy{mountPoint: fields[4], fstype: fields[sep+1]}
		if fields[3] != "/" {
			continue // a bind mount of a subtree: not a hierarchy's root
		}
		switch h.fstype {
		case "cgroup2":
		case "cgroup":
			var opts []string
			for _, o := range strings.Split(fields[sep+3], ",") {
				if o != "rw" && o != "ro" {
					opts = append(opts, o)
				}
			}
			if len(opts) == 1 && strings.HasPrefix(opts[0], "name=") {
				opts = append([]string{"none"}, opts...)
			}
			h.options = strings.Join(opts, ",")
		default:
			continue
		}
		if h.own, err = ownCgroup(owns, h); err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil, errors.New("systemdtest: no cgroup hierarchy is mounted; systemd cannot run here")
	}
	return hs, nil
}

// ownCgroup finds h's line in /proc/self/cgroup ("id:controllers:path").
func ownCgroup(lines []string, h hierarchy) (string, error) {
	want := map[string]bool{}
	for _, o := range strings.Split(h.options, ",") {
		if o != "none" && o != "" {
			want[o] = true
		}
	}
	for _, line := range lines {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if h.fstype == "cgroup2" {
			if parts[0] == "0" && parts[1] == "" {
				return parts[2], nil
			}
			continue
		}
		have := strings.Split(parts[1], ",")
		if len(have) == len(want) && !slices.ContainsFunc(have, func(c string) bool { return !want[c] }) {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("systemdtest: this process has no cgroup in the hierarchy at %s", h.mountPoint)
}

// createCgroups makes the directory name below this process's own cgroup in
// every hierarchy, so the namespace's cgroup root is a cgroup of its own
// (its units then never mix with another instance's). A v1 cpuset
// directory accepts tasks only once it has CPUs and memory nodes, copied
// from its parent. It returns the directories created, also on error.
func createCgroups(hs []hierarchy, name string) ([]string, error) {
	var dirs []string
	for _, h := range hs {
		parent := filepath.Join(h.mountPoint, h.own)
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return dirs, fmt.Errorf("systemdtest: create cgroup %s (the tests run as root): %w", dir, err)
		}
		dirs = append(dirs, dir)
		if slices.Contains(strings.Split(h.options, ","), "cpuset") {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(parent, f))
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, f), v, 0o644)
				}
				if err != nil {
					return dirs, fmt.Errorf("systemdtest: set up cpuset cgroup %s: %w", dir, err)
				}
			}
		}
	}
	return dirs, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("systemdtest: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("systemdtest: read %s: %w", path, err)
	}
	return lines, nil
}
