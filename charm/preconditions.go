package charm

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// Worker preconditions: what the machine must offer a worker's runtime
// before it may start. Both checks read plain files, so that a test fakes
// the machine with a directory (Host.Root) and another unit's state
// directory (Host.StateBase).

// Host is where the charm looks at the machine it runs on, besides
// systemd.
type Host struct {
	// Root is the machine's root directory, under which the charm reads
	// /run and /proc ("" is "/"). Tests give a directory holding the
	// files they fake.
	Root string
	// StateBase is the directory that holds the state directory of every
	// unit of this charm on the machine (production: the parent of
	// Deps.StateDir), where the charm looks for other units on its
	// machine. "" means the unit is alone on its machine (test worlds in
	// which every unit has one).
	StateBase string
}

func (h Host) path(rel string) string {
	root := h.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, rel)
}

// Container is the container manager the machine runs under, as systemd
// reports it in /run/systemd/container ("lxc" for LXD, Incus and LXC,
// "docker", ...), or, without systemd as PID 1, PID 1's `container`
// variable; "" when neither says.
func (h Host) Container() string {
	if data, err := os.ReadFile(h.path("run/systemd/container")); err == nil {
		return strings.TrimSpace(string(data))
	}
	data, err := os.ReadFile(h.path("proc/1/environ"))
	if err != nil {
		return ""
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := strings.CutPrefix(string(kv), "container="); ok {
			return v
		}
	}
	return ""
}

// LXCNesting says whether an LXC-family container lets its processes
// create containers. LXD starts a container with security.nesting=true
// with an extra proc and sysfs mounted at /dev/.lxc/proc and /dev/.lxc/sys
// ("mount extra /proc and /sys to work around kernel restrictions on
// remounting them when covered", lxd/instance/drivers/driver_lxc.go;
// Incus, and LXC's nesting.conf, do the same), and only then: the mount
// table shows it without privileges and without asking LXD.
func (h Host) LXCNesting() (bool, error) {
	data, err := os.ReadFile(h.path("proc/self/mountinfo"))
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		// The fifth field is the mount point.
		if f := strings.Fields(line); len(f) > 4 && (f[4] == "/dev/.lxc/proc" || f[4] == "/dev/.lxc/sys") {
			return true, nil
		}
	}
	return false, nil
}

// Hostname is the machine's hostname (an LXD container's name, as Juju
// names both alike), or "" when unreadable.
func (h Host) Hostname() string {
	data, err := os.ReadFile(h.path("proc/sys/kernel/hostname"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// NoNestingError says the worker's runtime cannot create containers: the
// machine is an LXD container without security.nesting.
type NoNestingError struct {
	Container string // its name, from the hostname ("" when unknown)
	Runtime   string
}

func (e *NoNestingError) Error() string {
	name := e.Container
	if name == "" {
		name = "this machine"
	}
	return fmt.Sprintf("runtime %s cannot create containers: %s is an LXD container without security.nesting", e.Runtime, name)
}

// SharedContainerdError says another unit of this charm on the machine
// runs a containerd worker: containerd's socket
// (/run/containerd/containerd.sock) is one per machine, so a second
// containerd worker would take over the first one's.
type SharedContainerdError struct {
	Other string // the unit that keeps it
}

func (e *SharedContainerdError) Error() string {
	return fmt.Sprintf("%s already runs a containerd worker on this machine, and containerd's socket is one per machine", e.Other)
}

// workerPreconditions says why this unit's worker cannot run on its
// machine (nil: nothing here stops it). Houdini creates no containers and
// shares nothing, so it always may.
func (h *hook) workerPreconditions() error {
	runtime := concourse.Runtime(h.cfg.WorkerRuntime)
	if runtime == concourse.RuntimeHoudini {
		return nil
	}
	if host := h.d.Host; host.Container() == "lxc" {
		// An unreadable mount table proves nothing: the worker starts, and
		// says itself if it cannot create containers.
		if nesting, err := host.LXCNesting(); err == nil && !nesting {
			return &NoNestingError{Container: host.Hostname(), Runtime: h.cfg.WorkerRuntime}
		}
	}
	if runtime != concourse.RuntimeContainerd {
		return nil
	}
	other, err := h.containerdHolder()
	if err != nil {
		return fmt.Errorf("look for other units on this machine: %w", err)
	}
	if other != "" {
		return &SharedContainerdError{Other: other}
	}
	return nil
}

// containerdHolder names another unit of this charm on the machine that
// keeps containerd from this one: any that runs (or is about to run) a
// containerd worker, when this unit does not; when both do (both started
// before either looked), the one whose name sorts first. Juju runs one
// hook at a time on a machine, so the first unit to claim containerd
// keeps it.
func (h *hook) containerdHolder() (string, error) {
	base := h.d.Host.StateBase
	if base == "" {
		return "", nil
	}
	entries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	own := filepath.Clean(h.d.StateDir)
	mine := h.local.WorkerRuntime == string(concourse.RuntimeContainerd)
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		if !e.IsDir() || dir == own {
			continue
		}
		other, err := loadLocalState(dir)
		if err != nil || other.WorkerRuntime != string(concourse.RuntimeContainerd) {
			continue // unreadable, or no containerd worker
		}
		if !mine || e.Name() < filepath.Base(own) {
			if n, err := unitname.ParseSlug(e.Name()); err == nil {
				return n.String(), nil
			}
			return e.Name(), nil // not a unit's directory: name it as it is
		}
	}
	return "", nil
}
