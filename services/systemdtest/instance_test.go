package systemdtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	case "start-and-hang":
		os.Exit(startAndHang())
	default:
		os.Exit(2)
	}
}

// traces is what a helper process reports about the instance it started.
type traces struct {
	Root, Reaper    string
	PIDs            map[string]int // what must die: systemd, the unit, the reaper
	Cgroups         []string
	PrivateTmpGlobs []string
}

// startAndHang is a process that starts an instance, runs a unit with
// PrivateTmp=yes in it, reports what it made, and waits to be killed.
func startAndHang() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inst, err := Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	unit := fmt.Sprintf("leak-probe-%d.service", os.Getpid())
	pid, err := startProbe(ctx, inst, unit, "PrivateTmp=yes\n")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tr := traces{
		Root:    inst.Root,
		PIDs:    map[string]int{"systemd": inst.PID, "unit": pid, "reaper": inst.ReaperPID()},
		Cgroups: inst.Cgroups,
		PrivateTmpGlobs: []string{
			"/tmp/systemd-private-*-" + unit + "-*",
			"/var/tmp/systemd-private-*-" + unit + "-*",
		},
	}
	if err := json.NewEncoder(os.Stdout).Encode(tr); err != nil {
		return 1
	}
	select {}
}

// startProbe starts a unit that sleeps and returns its main PID as this
// process sees it.
func startProbe(ctx context.Context, inst *Instance, unit, extra string) (int, error) {
	content := "[Service]\nExecStart=/bin/sleep 1000\n" + extra
	if err := os.WriteFile(filepath.Join(inst.UnitDir, unit), []byte(content), 0o644); err != nil {
		return 0, err
	}
	if _, err := inst.Systemctl(ctx, "daemon-reload"); err != nil {
		return 0, err
	}
	if _, err := inst.Systemctl(ctx, "start", unit); err != nil {
		return 0, err
	}
	out, err := inst.Systemctl(ctx, "show", "-p", "MainPID", "--value", unit)
	if err != nil {
		return 0, err
	}
	nsPID, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 32)
	if err != nil || nsPID == 0 {
		return 0, fmt.Errorf("no main PID for %s: %q", unit, out)
	}
	pid := inst.HostPID(uint32(nsPID))
	if pid == 0 {
		return 0, fmt.Errorf("main PID %d of %s not found from outside", nsPID, unit)
	}
	return pid, nil
}

// TestInstanceIsASystemManager: the instance is a real system-mode systemd,
// PID 1 of its own namespaces, and units run in its cgroup.
func TestInstanceIsASystemManager(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := Start(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inst.Stop() })

	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(inst.PID), "exe"))
	require.NoError(t, err)
	assert.Equal(t, "/usr/lib/systemd/systemd", exe)
	assert.Equal(t, inst.PID, inst.HostPID(1), "systemd is PID 1 of its namespace")
	out, err := inst.Systemctl(ctx, "show", "-p", "Virtualization", "-p", "Environment", "--value")
	require.NoError(t, err)
	assert.Contains(t, string(out), "container-other")
	assert.FileExists(t, inst.PrivateSocket)
	assert.DirExists(t, inst.UnitDir)

	// Unit files written from outside land in the namespace's tmpfs, never
	// in the host's /etc/systemd/system.
	unit := fmt.Sprintf("probe-%d.service", time.Now().UnixNano())
	pid, err := startProbe(ctx, inst, unit, "")
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join("/etc/systemd/system", unit))
	cg, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	require.NoError(t, err)
	assert.Contains(t, string(cg), "systemdtest-"+filepath.Base(inst.Root)+"/system.slice/"+unit,
		"units live in the instance's own cgroup")

	require.NoError(t, inst.Stop())
	assertAllGone(t, traces{Root: inst.Root, Cgroups: inst.Cgroups,
		PIDs: map[string]int{"systemd": inst.PID, "unit": pid, "reaper": inst.ReaperPID()}})
	require.NoError(t, inst.Stop(), "a second Stop is harmless")
}

// TestKilledStarterLeavesNothing: a process that started an instance (with
// a PrivateTmp=yes unit running) is SIGKILLed; no process of the instance
// survives and nothing it made is left, not even the documented paths.
func TestKilledStarterLeavesNothing(t *testing.T) {
	t.Parallel()
	tr := startHelper(t)
	killAndWait(t, tr.PIDs["starter"])
	assertAllGone(t, tr)
}

// TestKilledStarterAndReaper: when the reaper is killed too, the namespace
// still dies with it (PR_SET_PDEATHSIG), and what is left is exactly the
// documented list: the next Start prunes the root and the cgroups; the
// PrivateTmp directories of units that were running stay (doc.go).
func TestKilledStarterAndReaper(t *testing.T) {
	t.Parallel()
	tr := startHelper(t)
	// The reaper first: once the starter is gone it would start cleaning up.
	killAndWait(t, tr.PIDs["reaper"])
	killAndWait(t, tr.PIDs["starter"])
	for what, pid := range tr.PIDs {
		require.Eventually(t, func() bool { return !processAlive(pid) }, time.Minute, 20*time.Millisecond,
			"%s (pid %d) survived", what, pid)
	}
	assert.DirExists(t, tr.Root, "nobody was left to remove it")

	require.NoError(t, pruneLeftovers())
	for _, g := range tr.PrivateTmpGlobs {
		found, _ := filepath.Glob(g)
		assert.Len(t, found, 1, "documented leftover %s", g)
		for _, f := range found {
			require.NoError(t, os.RemoveAll(f))
		}
	}
	assertAllGone(t, tr)
}

// startHelper starts a process that starts an instance and hangs; the
// process is killed when the test ends at the latest.
func startHelper(t *testing.T) traces {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperRoleEnv+"=start-and-hang")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var tr traces
	require.NoError(t, json.NewDecoder(bufio.NewReader(stdout)).Decode(&tr), "the helper did not report")
	tr.PIDs["starter"] = cmd.Process.Pid
	for what, pid := range tr.PIDs {
		require.True(t, processAlive(pid), "%s (pid %d) runs before the kill", what, pid)
	}
	for _, g := range tr.PrivateTmpGlobs {
		found, _ := filepath.Glob(g)
		require.Len(t, found, 1, "the unit's PrivateTmp directory %s", g)
	}
	return tr
}

func killAndWait(t *testing.T, pid int) {
	t.Helper()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !processAlive(pid) }, time.Minute, 20*time.Millisecond)
}

// assertAllGone waits (a deadlock guard, not a timing expectation) until
// every process and path of an instance is gone.
func assertAllGone(t *testing.T, tr traces) {
	t.Helper()
	for what, pid := range tr.PIDs {
		require.Eventually(t, func() bool { return !processAlive(pid) }, time.Minute, 20*time.Millisecond,
			"%s (pid %d) survived", what, pid)
	}
	assert.NoDirExists(t, tr.Root)
	for _, d := range tr.Cgroups {
		assert.NoDirExists(t, d)
	}
	for _, g := range tr.PrivateTmpGlobs {
		found, _ := filepath.Glob(g)
		assert.Empty(t, found, "left behind: %s", g)
	}
}
