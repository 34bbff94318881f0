// Package systemdtest runs a REAL system-mode systemd, PID 1 of private
// namespaces, so tests (and the demo) drive systemd exactly as the charm
// does in production: over systemd's own socket /run/systemd/private, with
// unit files in /etc/systemd/system.
//
// It follows ../../../shared/notes/systemd-in-namespaces.md to the letter
// (a systemd that falls back to the distro targets empties the host's /tmp):
// every target systemd may reach for is a non-empty stand-in in the
// instance's own unit directory, SYSTEMD_UNIT_PATH has no trailing colon,
// generators are disabled, and /run, /etc/systemd/system and
// /var/lib/systemd are tmpfs mounts private to the namespace.
//
// # Nothing outlives the test
//
// The process that starts an Instance gets a reaper: a small shell that is
// the parent of the namespace and holds the read end of a pipe whose write
// end only the starting process has. When that process ends for any reason
// (Stop, a panic, SIGKILL, SIGINT, a test timeout), the pipe breaks and the
// reaper stops every service in the instance (so systemd removes what units
// made, such as PrivateTmp directories), kills the namespace's PID 1 (the
// kernel then kills everything in the namespace), removes the instance's
// cgroups and its root directory, and exits. If the reaper itself is killed,
// the namespace dies with it (PR_SET_PDEATHSIG on the namespace's parent),
// and only the files listed below may be left, for the next Start to prune.
//
// # Paths outside the instance's root
//
// Everything an Instance writes is under its Root, a fresh directory in
// BaseDir, except:
//   - BaseDir itself (removed by the last reaper when empty);
//   - one cgroup directory "systemdtest-<root name>" in every mounted cgroup
//     hierarchy, below the starting process's own cgroup there;
//   - while a unit with PrivateTmp=yes runs: /tmp/systemd-private-<boot
//     id>-<unit>-* and the same under /var/tmp (systemd removes them when the
//     unit stops, and the reaper stops every unit).
//
// Units see the host's filesystem at the same paths, except the tmpfs mounts
// above, so files units use belong in ScratchDir (not under /tmp or
// /var/tmp, which a PrivateTmp=yes unit sees replaced).
package systemdtest
