package systemdtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const helperRoleEnv = "SYSTEMDTEST_HELPER_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(helperRoleEnv) {
	case "":
		os.Exit(m.Run())
	case "register-and-crash":
		// A test binary that registered as a user of the run dir and died
		// without releasing it.
		r := runDirUsers{dir: os.Getenv("SYSTEMDTEST_DIR"), registry: os.Getenv("SYSTEMDTEST_REGISTRY")}
		if err := r.acquire(os.Getpid(), "crashed"); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	default:
		os.Exit(2)
	}
}

// TestInstanceStartsAndStopsCleanly starts a real private systemd, runs a
// unit in it, and checks that Stop leaves no process, directory or cgroup.
func TestInstanceStartsAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := Start(ctx)
	require.NoError(t, err, "a private systemd --user could not be started (the tests need root and the systemd and dbus packages; .ci/run installs them)")
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = inst.Stop()
		}
	})

	assert.DirExists(t, inst.UnitDir)
	assert.FileExists(t, inst.PrivateSocket)
	assert.True(t, strings.HasPrefix(inst.BusAddress, "unix:path="+inst.RuntimeDir))
	st, err := os.Stat(inst.RuntimeDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "XDG_RUNTIME_DIR must be private")

	// A unit in the instance's cgroup, to prove Stop takes it down too.
	unit := "[Service]\nExecStart=/bin/sleep 1000\n"
	require.NoError(t, os.WriteFile(filepath.Join(inst.UnitDir, "probe.service"), []byte(unit), 0o644))
	_, err = inst.Systemctl(ctx, "daemon-reload")
	require.NoError(t, err)
	_, err = inst.Systemctl(ctx, "start", "probe.service")
	require.NoError(t, err)
	out, err := inst.Systemctl(ctx, "show", "-p", "MainPID", "--value", "probe.service")
	require.NoError(t, err)
	unitPID, err := strconv.Atoi(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	require.NotZero(t, unitPID)
	cg, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(unitPID), "cgroup"))
	require.NoError(t, err)
	assert.Contains(t, string(cg), "systemdtest-"+filepath.Base(inst.RuntimeDir)+"/app.slice/probe.service",
		"units must live in the instance's own cgroup, not the machine's /app.slice")

	systemdPID, dbusPID := inst.systemd.Process.Pid, inst.dbus.Process.Pid
	require.NoError(t, inst.Stop())
	stopped = true

	for name, pid := range map[string]int{"systemd": systemdPID, "dbus-daemon": dbusPID, "unit": unitPID} {
		assert.False(t, processAlive(pid), "%s (pid %d) still running after Stop", name, pid)
	}
	assert.NoDirExists(t, inst.RuntimeDir)
	assert.NoDirExists(t, inst.ConfigDir)
	for _, root := range inst.cgroup.roots {
		assert.NoDirExists(t, root)
	}
	require.NoError(t, inst.Stop(), "a second Stop is harmless")
}

func TestRunDirUsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		preexisting bool
		otherLive   bool
		wantRemoved bool
	}{
		{name: "created by us, last user: removed", wantRemoved: true},
		{name: "existed before: never removed", preexisting: true},
		{name: "another live user: kept", otherLive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			trace := filepath.Join(base, "run", "systemd", "unit-root")
			r := runDirUsers{dir: filepath.Join(base, "run", "systemd", "system"), traces: []string{trace}, registry: filepath.Join(base, "registry")}
			if tt.preexisting {
				require.NoError(t, os.MkdirAll(r.dir, 0o755))
				require.NoError(t, os.MkdirAll(trace, 0o755))
			}
			require.NoError(t, r.acquire(1_000_001, "a")) // this "process"
			require.NoError(t, os.MkdirAll(trace, 0o755)) // what systemd does
			if tt.otherLive {
				// Our own PID is certainly alive.
				require.NoError(t, r.acquire(os.Getpid(), "b"))
			}
			require.DirExists(t, r.dir)

			removed, err := r.release(1_000_001, "a")
			require.NoError(t, err)
			assert.Equal(t, tt.wantRemoved, removed)
			if tt.wantRemoved {
				assert.NoDirExists(t, r.dir)
				assert.NoDirExists(t, trace)
				assert.NoFileExists(t, r.createdMarker())
				assert.NoFileExists(t, r.traceMarker(trace))
			} else {
				assert.DirExists(t, r.dir)
				assert.DirExists(t, trace)
			}
		})
	}
}

// TestRunDirUsersPrunesCrashedUser: a process that registered and died
// without releasing does not keep the directory forever.
func TestRunDirUsersPrunesCrashedUser(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	r := runDirUsers{dir: filepath.Join(base, "system"), registry: filepath.Join(base, "registry")}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperRoleEnv+"=register-and-crash",
		"SYSTEMDTEST_DIR="+r.dir, "SYSTEMDTEST_REGISTRY="+r.registry)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper: %s", out)
	childPID := cmd.ProcessState.Pid()
	require.FileExists(t, r.userFile(childPID, "crashed"))
	require.DirExists(t, r.dir, "the helper created it")

	require.NoError(t, r.acquire(os.Getpid(), "live"))
	removed, err := r.release(os.Getpid(), "live")
	require.NoError(t, err)
	assert.True(t, removed, "the crashed helper must not count as a user")
	assert.NoDirExists(t, r.dir)
	assert.NoFileExists(t, r.userFile(childPID, "crashed"))
}

func TestProcessAlive(t *testing.T) {
	t.Parallel()
	assert.True(t, processAlive(os.Getpid()))
	assert.False(t, processAlive(0))
	assert.False(t, processAlive(-1))

	cmd := exec.Command("/bin/true")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	// Before Wait the child is a zombie once it exits, which counts as gone.
	require.Eventually(t, func() bool { return !processAlive(pid) }, time.Minute, 10*time.Millisecond)
	require.NoError(t, cmd.Wait())
	assert.Equal(t, 0, cmd.ProcessState.ExitCode())
}

// TestRunDirUsersTwoInstancesInOneProcess: a test binary may run a second
// instance next to its fixture; stopping it must not pull the directory out
// from under the fixture.
func TestRunDirUsersTwoInstancesInOneProcess(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	r := runDirUsers{dir: filepath.Join(base, "system"), registry: filepath.Join(base, "registry")}
	require.NoError(t, r.acquire(os.Getpid(), "fixture"))
	require.NoError(t, r.acquire(os.Getpid(), "second"))

	removed, err := r.release(os.Getpid(), "second")
	require.NoError(t, err)
	assert.False(t, removed)
	assert.DirExists(t, r.dir)

	removed, err = r.release(os.Getpid(), "fixture")
	require.NoError(t, err)
	assert.True(t, removed)
	assert.NoDirExists(t, r.dir)
}
