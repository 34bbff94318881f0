package charm_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/charm/charmtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeMachineFile writes a file under the world's fake machine root.
func fakeMachineFile(t *testing.T, w *charmtest.World, rel, content string) {
	t.Helper()
	p := filepath.Join(w.HostRoot(), rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// Every unit is in an LXD container without nesting: workers with
// containerd do not start and say what to set; web runs. Once nesting is
// on (the container restarted with it), they start; houdini never needed
// it.
func TestWorkerBlockedInLXDWithoutNesting(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 2})
	fakeMachineFile(t, w, "run/systemd/container", "lxc\n")
	fakeMachineFile(t, w, "proc/sys/kernel/hostname", "juju-1a2b3c-1\n")
	fakeMachineFile(t, w, "proc/self/mountinfo", "1263 1262 0:97 / / rw,relatime - zfs default/containers/juju-1a2b3c-1 rw\n")
	settle(t, w)
	assert.Equal(t, "blocked: Worker needs LXD nesting: lxc config set juju-1a2b3c-1 security.nesting=true; restart it (or the charm's lxd-profile)", status(w, "concourse/1"))
	assert.Empty(t, w.Machine("concourse/1").Running())
	assert.Equal(t, "active: web 7.14.3", status(w, "concourse/0"))

	fakeMachineFile(t, w, "proc/self/mountinfo", "1263 1262 0:97 / / rw,relatime - zfs default/containers/juju-1a2b3c-1 rw\n"+
		"1301 1264 0:104 / /dev/.lxc/proc rw,relatime - proc proc rw\n1302 1264 0:105 / /dev/.lxc/sys rw,relatime - sysfs sysfs rw\n")
	w.Model.Tick(5 * time.Minute)
	converge(t, w)
	assert.Equal(t, "active: worker 7.14.3", status(w, "concourse/1"))

	fakeMachineFile(t, w, "proc/self/mountinfo", "1263 1262 0:97 / / rw,relatime - zfs default/containers/juju-1a2b3c-1 rw\n")
	w.Model.SetConfig("concourse", map[string]any{"worker-runtime": "houdini"})
	converge(t, w)
	assert.Equal(t, "active: worker 7.14.3", status(w, "concourse/1"), "houdini creates no containers")
}

// Two worker units on one machine, both with containerd: the first keeps
// containerd, the second is refused and says how to fix it; with another
// runtime both run; when the first leaves, the second takes containerd.
func TestSecondContainerdWorkerOnAMachineIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, charmtest.Options{Units: 3, OneMachine: true})
	settle(t, w)
	running := func(u string) bool { _, ok := w.Machine(u).Running()[charm.RoleWorker]; return ok }
	first, second := "concourse/1", "concourse/2"
	if running(second) {
		first, second = second, first
	}
	require.True(t, running(first), "one containerd worker runs")
	assert.False(t, running(second))
	assert.Equal(t, "blocked: containerd is taken by "+first+": juju config concourse worker-runtime=houdini (or guardian), or one unit per machine", status(w, second))

	w.Model.SetConfig("concourse", map[string]any{"worker-runtime": "guardian"})
	converge(t, w)
	assert.True(t, running(first) && running(second), "guardian workers share a machine")

	// Back to containerd while both run: the first unit whose hook runs
	// keeps it, and the other stops.
	w.Model.SetConfig("concourse", map[string]any{"worker-runtime": "containerd"})
	settle(t, w)
	assert.NotEqual(t, running("concourse/1"), running("concourse/2"), "exactly one containerd worker")
	holder, refused := "concourse/1", "concourse/2"
	if running(refused) {
		holder, refused = refused, holder
	}
	assert.Contains(t, status(w, refused), "containerd is taken by "+holder)

	w.Model.RemoveUnit(holder)
	settle(t, w)
	w.Model.Tick(5 * time.Minute)
	converge(t, w)
	assert.True(t, running(refused), "containerd is free once its holder left")
	assert.Equal(t, "active: worker 7.14.3", status(w, refused))
}
