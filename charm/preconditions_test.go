package charm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
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

func TestUnitOfSlug(t *testing.T) {
	t.Parallel()
	for slug, unit := range map[string]string{"concourse-0": "concourse/0", "concourse-ci-machine-12": "concourse-ci-machine/12", "odd": "odd", "odd-x": "odd-x"} {
		assert.Equal(t, unit, unitOfSlug(slug))
	}
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

// Every kind of this block has its line, fitting `juju status` whole with
// the long names Juju gives (the charm's default application name, an
// LXD container on a machine).
func TestPruneAndPreconditionAdvice(t *testing.T) {
	t.Parallel()
	const app = "concourse-ci-machine"
	worker := concourse.WorkerName("prod", unitname.MustParse(app+"/12"))
	unreachable := &concourse.UnreachableError{Op: "list workers", URL: "http://127.0.0.1:8236/api/v1/workers", Err: errors.New("connection refused")}
	tests := []struct {
		err   error
		state relation.StatusState
		line  string
	}{
		{&PruneError{Workers: []string{worker}, Err: unreachable}, relation.Active,
			"pruning stalled worker prod-concourse-ci-machine-12: web's API did not answer; retried on update-status"},
		{&PruneError{Workers: []string{"a", "b"}, Err: unreachable}, relation.Active, "pruning stalled workers a, b: web's API did not answer; retried on update-status"},
		{&PruneError{Workers: []string{"w"}, Err: &concourse.LoginError{URL: "http://x/sky/issuer/token", User: "admin", Status: 401}}, relation.Active,
			"pruning stalled worker w: web refused the admin's login; prune it with fly"},
		{&PruneError{Workers: []string{"w"}, Err: &NotReadyError{Reason: "web has not started yet"}}, relation.Active, "pruning stalled worker w: web has not started yet"},
		{&PruneError{Workers: []string{"w"}, Err: &concourse.APIError{Op: "list workers", URL: "http://x/api/v1/workers", Status: 500}}, relation.Active,
			"pruning stalled worker w: concourse API list workers: http://x/api/v1/workers answered 500 Internal Server Error"},
		{&PruneGaveUpError{Worker: "w", Unit: "concourse/2", State: "retiring", After: 70 * time.Minute}, relation.Active,
			"gave up pruning worker w after 1h10m (retiring): prune it with fly once it stalls"},
		{&PruneGaveUpError{Worker: "w", Unit: "concourse/2", After: 2 * time.Hour}, relation.Active,
			"gave up pruning worker w after 2h0m (no answer from web): prune it with fly once it stalls"},
		{&NoNestingError{Container: "juju-1a2b3c-1", Runtime: "containerd"}, relation.Blocked,
			"Worker needs LXD nesting: lxc config set juju-1a2b3c-1 security.nesting=true; restart it (or the charm's lxd-profile)"},
		{&NoNestingError{Container: "juju-1a2b3c-0-lxd-1", Runtime: "guardian"}, relation.Blocked,
			"Worker needs LXD nesting: lxc config set juju-1a2b3c-0-lxd-1 security.nesting=true; restart it"},
		{&NoNestingError{Runtime: "guardian"}, relation.Blocked,
			"Worker needs LXD nesting: lxc config set CONTAINER security.nesting=true; restart it (or the charm's lxd-profile)"},
		{&SharedContainerdError{Other: app + "/0"}, relation.Blocked,
			"containerd is taken here: juju config concourse-ci-machine worker-runtime=houdini (or guardian), or one unit per machine"},
	}
	h := &hook{app: app}
	covered := map[string]bool{}
	for _, tc := range tests {
		a, ok := adviceFor(tc.err)
		require.True(t, ok, "%v", tc.err)
		covered[a.kind] = true
		assert.Equal(t, tc.state, adviceState(tc.err), "%v", tc.err)
		line := h.adviceLine(tc.err)
		assert.Equal(t, tc.line, line)
		assert.LessOrEqual(t, len(line), relation.MaxStatusLen, line)
	}
	// With room, the line names the unit that has containerd.
	assert.Equal(t, "containerd is taken by ci/0: juju config ci worker-runtime=houdini (or guardian), or one unit per machine",
		(&hook{app: "ci"}).adviceLine(fmt.Errorf("worker: %w", &SharedContainerdError{Other: "ci/0"})))
	for _, a := range adviceTable() {
		if strings.HasPrefix(a.kind, "Prune") || a.kind == "NoNestingError" || a.kind == "SharedContainerdError" {
			assert.True(t, covered[a.kind], "no case for %s", a.kind)
		}
	}
}
