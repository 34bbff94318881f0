package systemdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// standInTargets are the targets a system manager may reach for at start,
// at shutdown or when a unit names them. Each gets a NON-EMPTY stand-in: an
// empty unit file counts as masked, and a masked default.target makes
// systemd fall back to rescue.target and the distro's sysinit.target, whose
// tmpfiles run empties the host's /tmp.
var standInTargets = []string{
	"default", "sysinit", "basic", "sockets", "timers", "paths", "slices",
	"local-fs", "local-fs-pre", "remote-fs", "network", "network-pre",
	"network-online", "nss-lookup", "time-sync", "multi-user", "graphical",
	"shutdown", "umount", "final", "emergency", "rescue",
}

// busProxy is the unit (a .socket and a .service) that makes systemd's
// private socket reachable from outside the namespace. sd-bus only accepts
// a peer whose PID it can see (SO_PEERCRED gives PID 0 for a process outside
// its PID namespace) and drops the connection otherwise; the proxy runs
// inside, so systemd sees it, and relays the bytes of each connection.
const busProxy = "systemdtest-bus-proxy"

// writeStandIns writes the stand-in targets into dir, and the bus proxy
// listening on socket (a path outside the namespace's tmpfs mounts).
func writeStandIns(dir, socket string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		busProxy + ".socket": fmt.Sprintf("[Unit]\nDescription=systemdtest: systemd's private socket for clients outside the namespace\n"+
			"[Socket]\nListenStream=%s\nSocketMode=0600\n", socket),
		busProxy + ".service": "[Unit]\nDescription=systemdtest: relay to systemd's private socket\n" +
			"[Service]\nExecStart=/lib/systemd/systemd-socket-proxyd /run/systemd/private\n",
	}
	for _, t := range standInTargets {
		content := fmt.Sprintf("[Unit]\nDescription=systemdtest stand-in for %s.target\n", t)
		if t == "default" {
			content += "Wants=" + busProxy + ".socket\n"
		}
		files[t+".target"] = content
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// initScript is what the namespace's first process runs before it becomes
// systemd. unitDir and emptyDir must not contain a colon or whitespace.
func initScript(hs []hierarchy, unitDir, emptyDir string) string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	b.WriteString("# Nothing mounted here may reach the host.\n")
	b.WriteString("mount --make-rprivate /\n")
	b.WriteString("# Remount each cgroup hierarchy: in the new cgroup namespace its root is\n")
	b.WriteString("# the instance's own cgroup, so systemd sees that as the root.\n")
	for _, h := range hs {
		if h.fstype == "cgroup2" {
			fmt.Fprintf(&b, "umount %s\nmount -t cgroup2 cgroup2 %s\n", h.mountPoint, h.mountPoint)
		} else {
			fmt.Fprintf(&b, "umount %s\nmount -t cgroup -o %s cgroup %s\n", h.mountPoint, h.options, h.mountPoint)
		}
	}
	b.WriteString("mount -t tmpfs -o mode=0755 tmpfs /run\n")
	b.WriteString("mkdir -p /etc/systemd/system /var/lib/systemd\n")
	b.WriteString("mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system\n")
	b.WriteString("mount -t tmpfs -o mode=0755 tmpfs /var/lib/systemd\n")
	b.WriteString("mkdir -p /run/systemd/system\n")
	b.WriteString("# NO trailing colon: it would append the distro's unit directories.\n")
	fmt.Fprintf(&b, "export SYSTEMD_UNIT_PATH=%s:/etc/systemd/system:/run/systemd/system\n", unitDir)
	fmt.Fprintf(&b, "export SYSTEMD_GENERATOR_PATH=%s SYSTEMD_ENVIRONMENT_GENERATOR_PATH=%s\n", emptyDir, emptyDir)
	b.WriteString("export container=other\n")
	b.WriteString("exec /lib/systemd/systemd --system --unit=default.target --show-status=no --log-target=console\n")
	return b.String()
}

// reaperScript runs as `sh -c reaperScript reaper ROOT INIT CGROUP...`,
// with its standard input the read end of a pipe that only the starting
// process can write to. It starts the namespace as its own child (which
// dies with it: --pdeathsig), prints the child's PID, waits for the pipe to
// break, and then takes everything down (see doc.go).
const reaperScript = `
root=$1 init=$2
shift 2
# The namespace's parent joins the instance's cgroups BEFORE unsharing the
# cgroup namespace, then becomes unshare, whose child becomes systemd.
sh -c 'for d in "$@"; do echo $$ > "$d/cgroup.procs" || exit 1; done
exec setpriv --pdeathsig KILL -- unshare --mount --pid --fork --uts --ipc --cgroup --kill-child=SIGKILL /bin/bash "$0"' \
	"$init" "$@" </dev/null >>"$root/systemd.log" 2>&1 &
ns=$!
trap '' HUP INT TERM PIPE
echo "$ns"
read -r _ || :

status=0
pid1=$(cut -d' ' -f1 "/proc/$ns/task/$ns/children" 2>/dev/null || :)
if [ -n "$pid1" ] && [ -S "/proc/$pid1/root/run/systemd/private" ]; then
	ctl() { timeout 10 nsenter -t "$pid1" -m -p -- systemctl "$@" </dev/null; }
	# Stop every service, so systemd removes what they made (PrivateTmp
	# directories on the host); killing them makes the stops quick.
	ctl stop --no-block '*.service' >/dev/null 2>&1 || :
	i=0
	while [ $i -lt 100 ] && [ -n "$(ctl list-units --type=service --state=active,activating,deactivating,reloading --no-legend --plain 2>/dev/null)" ]; do
		ctl kill --kill-whom=all --signal=SIGKILL '*.service' >/dev/null 2>&1 || :
		sleep 0.1
		i=$((i + 1))
	done
fi
# unshare's child, the namespace's PID 1, gets SIGKILL when unshare dies,
# and the kernel kills everything in the namespace with it.
kill -KILL "$ns" 2>/dev/null || :
wait "$ns" 2>/dev/null || :

for d in "$@"; do
	i=0
	while left=$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null) && [ -n "$left" ]; do
		if [ $i -ge 200 ]; then
			echo "systemdtest reaper: processes $left survived in $d" >&2
			status=1
			break
		fi
		kill -KILL $left 2>/dev/null || :
		sleep 0.05
		i=$((i + 1))
	done
	if [ -d "$d" ]; then
		# rmdir only: it removes nothing but empty cgroups, deepest first.
		find "$d" -depth -type d -exec rmdir {} + || status=1
	fi
done

# Never delete through a mount: unmount whatever a test left under root.
awk -v r="$root/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
	umount -l "$m" || echo "systemdtest reaper: cannot unmount $m" >&2
done
rm -rf --one-file-system "$root" || status=1
rmdir "$(dirname "$root")" 2>/dev/null || :
exit $status
`
