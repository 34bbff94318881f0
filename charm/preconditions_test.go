package charm

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeHost writes files under a fresh root: path relative to the root ->
// content.
func fakeHost(t *testing.T, files map[string]string) Host {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return Host{Root: root}
}

// Mount tables as an LXD container shows them, with and without
// security.nesting (the two /dev/.lxc mounts).
const (
	mountsWithoutNesting = `1263 1262 0:97 / / rw,relatime shared:577 - zfs default/containers/juju-1a2b3c-1 rw,xattr,posixacl
1264 1263 0:100 / /dev rw,relatime shared:578 - tmpfs none rw,size=492k,mode=755,uid=1000000,gid=1000000
1279 1263 0:102 / /proc rw,nosuid,nodev,noexec,relatime shared:586 - proc proc rw
1280 1279 0:44 /proc/cpuinfo /proc/cpuinfo rw,nosuid,nodev,relatime shared:587 - fuse.lxcfs lxcfs rw,user_id=0,group_id=0,allow_other
`
	mountsWithNesting = mountsWithoutNesting + `1301 1264 0:104 / /dev/.lxc/proc rw,relatime shared:599 - proc proc rw
1302 1264 0:105 / /dev/.lxc/sys rw,relatime shared:600 - sysfs sysfs rw
`
)

func TestHostContainer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"systemd says lxc", map[string]string{"run/systemd/container": "lxc\n"}, "lxc"},
		{"systemd says docker", map[string]string{"run/systemd/container": "docker\n", "proc/1/environ": "container=lxc\x00"}, "docker"},
		{"PID 1's environment", map[string]string{"proc/1/environ": "HOME=/\x00container=lxc\x00TERM=linux\x00"}, "lxc"},
		{"a machine", map[string]string{"proc/1/environ": "HOME=/\x00TERM=linux\x00"}, ""},
		{"nothing readable", nil, ""},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, fakeHost(t, tc.files).Container(), tc.name)
	}
}

func TestHostLXCNesting(t *testing.T) {
	t.Parallel()
	nesting, err := fakeHost(t, map[string]string{"proc/self/mountinfo": mountsWithNesting}).LXCNesting()
	require.NoError(t, err)
	assert.True(t, nesting)
	nesting, err = fakeHost(t, map[string]string{"proc/self/mountinfo": mountsWithoutNesting}).LXCNesting()
	require.NoError(t, err)
	assert.False(t, nesting)
	_, err = fakeHost(t, nil).LXCNesting()
	assert.Error(t, err, "an unreadable mount table is not an answer")

	// This machine's own mount table reads (a container or not).
	_, err = Host{}.LXCNesting()
	assert.NoError(t, err)
}

func TestHostHostname(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "juju-1a2b3c-1", fakeHost(t, map[string]string{"proc/sys/kernel/hostname": "juju-1a2b3c-1\n"}).Hostname())
	assert.Equal(t, "", fakeHost(t, nil).Hostname())
}

// preconditionHook is a hook of worker unit concourse/1 on host, with
// runtime rt.
func preconditionHook(t *testing.T, host Host, rt string, stateDir string) *hook {
	t.Helper()
	cfg, err := ParseConfig(map[string]any{"worker-runtime": rt})
	require.NoError(t, err)
	return &hook{
		hc:    relation.Context{Unit: unitname.MustParse("concourse/1")},
		self:  "concourse/1",
		cfg:   cfg,
		d:     Deps{Host: host, StateDir: stateDir},
		local: &localState{},
	}
}

// In an LXD container without nesting, containerd and guardian workers
// are refused (they create containers); houdini runs. With nesting, or
// outside LXD, all three run.
func TestWorkerNeedsNestingInLXD(t *testing.T) {
	t.Parallel()
	noNesting := map[string]string{"run/systemd/container": "lxc\n", "proc/self/mountinfo": mountsWithoutNesting, "proc/sys/kernel/hostname": "juju-1a2b3c-1\n"}
	nesting := map[string]string{"run/systemd/container": "lxc\n", "proc/self/mountinfo": mountsWithNesting}
	unreadable := map[string]string{"run/systemd/container": "lxc\n"}
	docker := map[string]string{"run/systemd/container": "docker\n", "proc/self/mountinfo": mountsWithoutNesting}
	for _, rt := range []string{"containerd", "guardian", "houdini"} {
		for name, files := range map[string]map[string]string{"no nesting": noNesting, "nesting": nesting, "unreadable mounts": unreadable, "docker": docker} {
			err := preconditionHook(t, fakeHost(t, files), rt, t.TempDir()).workerPreconditions()
			if name == "no nesting" && rt != "houdini" {
				var nn *NoNestingError
				require.ErrorAs(t, err, &nn, "%s %s", rt, name)
				assert.Equal(t, NoNestingError{Container: "juju-1a2b3c-1", Runtime: rt}, *nn)
				continue
			}
			assert.NoError(t, err, "%s %s", rt, name)
		}
	}
}

// writeClaim writes a unit's local state as the charm does, claiming rt.
func writeClaim(t *testing.T, base, slug, rt string) {
	t.Helper()
	dir := filepath.Join(base, slug)
	s := &localState{WorkerRuntime: rt}
	require.NoError(t, s.save(dir))
}

// Another unit's claim on containerd, in its state directory next to this
// unit's, keeps this unit's containerd worker off the machine; the first
// to claim keeps it; when both claim, the one whose name sorts first.
func TestContainerdHolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		others map[string]string // slug -> claimed runtime
		mine   string
		rt     string
		want   string // the unit that keeps containerd, "" when this one may run
	}{
		{"alone", nil, "", "containerd", ""},
		{"another unit claims containerd", map[string]string{"concourse-2": "containerd"}, "", "containerd", "concourse/2"},
		{"another application's unit", map[string]string{"ci-workers-0": "containerd"}, "", "containerd", "ci-workers/0"},
		{"the other runs houdini", map[string]string{"concourse-0": "houdini"}, "", "containerd", ""},
		{"the other runs no worker", map[string]string{"concourse-0": ""}, "", "containerd", ""},
		{"both claim: the first name keeps it", map[string]string{"concourse-0": "containerd"}, "containerd", "containerd", "concourse/0"},
		{"both claim: this one sorts first", map[string]string{"concourse-2": "containerd"}, "containerd", "containerd", ""},
		{"this unit wants guardian", map[string]string{"concourse-0": "containerd"}, "", "guardian", ""},
		{"this unit wants houdini", map[string]string{"concourse-0": "containerd"}, "", "houdini", ""},
	}
	for _, tc := range tests {
		base := t.TempDir()
		for slug, rt := range tc.others {
			writeClaim(t, base, slug, rt)
		}
		require.NoError(t, os.WriteFile(filepath.Join(base, "stray-file"), nil, 0o600))
		h := preconditionHook(t, Host{Root: t.TempDir(), StateBase: base}, tc.rt, filepath.Join(base, "concourse-1"))
		h.local.WorkerRuntime = tc.mine
		err := h.workerPreconditions()
		if tc.want == "" {
			assert.NoError(t, err, tc.name)
			continue
		}
		var shared *SharedContainerdError
		require.ErrorAs(t, err, &shared, tc.name)
		assert.Equal(t, tc.want, shared.Other, tc.name)
	}

	// Without a state base the unit is alone on its machine.
	h := preconditionHook(t, Host{Root: t.TempDir()}, "containerd", t.TempDir())
	assert.NoError(t, h.workerPreconditions())
	// A state base that is not there yet holds no other unit.
	h = preconditionHook(t, Host{Root: t.TempDir(), StateBase: filepath.Join(t.TempDir(), "absent")}, "containerd", t.TempDir())
	assert.NoError(t, h.workerPreconditions())
}

// The pending workers survive in the local state, with their clock
// readings under "at" (which the model checker ignores).
func TestPendingPrunesPersist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := &localState{Prune: []pendingPrune{{Worker: "m-concourse-2", Unit: "concourse/2", State: "running", At: at}}}
	require.NoError(t, s.save(dir))
	data, err := os.ReadFile(filepath.Join(dir, localStateFile))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"at": "2026-12-01T10:00:00Z"`)
	back, err := loadLocalState(dir)
	require.NoError(t, err)
	assert.Equal(t, s.Prune, back.Prune)
}

// The lines of prune.go and preconditions.go that depend on room (the
// table of advice_test.go has one case of each kind): with a short
// application name the containerd line names the unit that has it; a long
// container name drops the lxd-profile; several workers, one unknown state.
func TestPruneAndPreconditionLines(t *testing.T) {
	t.Parallel()
	h := &hook{app: testApp, self: testUnit}
	for err, line := range map[error]string{
		&NoNestingError{Container: "juju-1a2b3c-0-lxd-1", Runtime: "guardian"}:                      "Worker needs LXD nesting: lxc config set juju-1a2b3c-0-lxd-1 security.nesting=true; restart it",
		&NoNestingError{Runtime: "guardian"}:                                                        "Worker needs LXD nesting: lxc config set CONTAINER security.nesting=true; restart it (or the charm's lxd-profile)",
		&PruneGaveUpError{Worker: "w", Unit: "concourse/2", After: 2 * time.Hour}:                   "gave up pruning worker w after 2h0m (no answer from web): prune it with fly once it stalls",
		&PruneError{Workers: []string{"w"}, Err: &NotReadyError{Reason: "web has not started yet"}}: "pruning stalled worker w: web has not started yet",
	} {
		assert.Equal(t, line, h.adviceLine(err))
		assert.LessOrEqual(t, len(line), relation.MaxStatusLen)
	}
	assert.Equal(t, "containerd is taken by ci/0: juju config ci worker-runtime=houdini (or guardian), or one unit per machine",
		(&hook{app: "ci"}).adviceLine(fmt.Errorf("worker: %w", &SharedContainerdError{Other: "ci/0"})))
}
