package services

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startWorker installs and starts a worker unit running the test program in
// mode, with the given drain timeout, and waits until the program has set
// up its signal handler (so the test never races the handler).
func startWorker(t *testing.T, m *Manager, drainTimeout time.Duration, mode string, args ...string) (name, marker string) {
	t.Helper()
	ctx := testContext(t)
	name = uniqueUnit(t, m)
	marker = filepath.Join(scratchDir(t), "marker")
	uf, err := WorkerUnit{
		Name:            name,
		Command:         testCommand(t, mode, append(args, marker)...),
		EnvironmentFile: testEnvFile(t, nil),
		WorkDir:         scratchDir(t),
		LogFile:         filepath.Join(scratchDir(t), "worker.log"),
		DrainTimeout:    drainTimeout,
		WantedBy:        "default.target",
	}.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, uf)
	require.NoError(t, err)
	require.NoError(t, m.Start(ctx, name))
	waitForFile(t, marker, "ready")
	return name, marker
}

func markerLines(t *testing.T, marker string) []string {
	t.Helper()
	data, err := os.ReadFile(marker)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// TestWorkerStopLandsAndWaits: stopping a worker sends the land signal and
// lets it take its time (2 s of "running builds") within the drain timeout.
func TestWorkerStopLandsAndWaits(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name, marker := startWorker(t, m, 30*time.Second, "drain", "2s")

	require.NoError(t, m.Stop(ctx, name))

	assert.Equal(t, []string{"ready", "received SIGUSR1", "finished"}, markerLines(t, marker),
		"the worker got the land signal and finished its work before it stopped")
	st, err := m.State(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "inactive", st.ActiveState)
	assert.Equal(t, "success", st.Result, "a landed worker exits cleanly, not killed")
	assert.Equal(t, int32(0), st.ExecMainStatus)
}

// TestWorkerIgnoringLandIsKilledAtDrainTimeout: a worker that does not exit
// is SIGKILLed when the drain timeout runs out, and Stop says so.
func TestWorkerIgnoringLandIsKilledAtDrainTimeout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	const drainTimeout = 3 * time.Second
	name, marker := startWorker(t, m, drainTimeout, "ignore")

	stopAsked := time.Now()
	err := m.Stop(ctx, name)
	stopped := time.Since(stopAsked)

	require.ErrorIs(t, err, ErrKilledAtStopTimeout)
	var ke *KilledAtStopTimeoutError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, drainTimeout, ke.Timeout)
	assert.Contains(t, err.Error(), "raise the drain timeout")
	// systemd cannot kill before the timeout: a lower bound, not a race.
	assert.GreaterOrEqual(t, stopped, drainTimeout, "builds get the whole drain timeout")

	assert.Equal(t, []string{"ready", "received SIGUSR1, ignoring it"}, markerLines(t, marker))
	st, err := m.State(ctx, name)
	require.NoError(t, err)
	assert.False(t, st.running(), "state %+v", st)
	assert.Equal(t, "timeout", st.Result)
	assert.Zero(t, st.MainPID)
}

// TestWorkerRestartLands: a restart drains the old process too.
func TestWorkerRestartLands(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name, marker := startWorker(t, m, 30*time.Second, "drain", "1s")
	before, err := m.State(ctx, name)
	require.NoError(t, err)

	require.NoError(t, m.Restart(ctx, name))

	after, err := m.State(ctx, name)
	require.NoError(t, err)
	assert.True(t, after.Active())
	assert.NotEqual(t, before.MainPID, after.MainPID)
	lines := markerLines(t, marker)
	require.GreaterOrEqual(t, len(lines), 3)
	assert.Equal(t, []string{"ready", "received SIGUSR1", "finished"}, lines[:3])
}

// TestWorkerRetire: Retire sends the retire signal, waits for the worker
// to finish, and leaves the unit's stop path as it was (land).
func TestWorkerRetire(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name, marker := startWorker(t, m, 30*time.Second, "drain", "1s")
	reloads := m.DaemonReloads()

	require.NoError(t, m.Retire(ctx, name))

	assert.Equal(t, []string{"ready", "received SIGUSR2", "finished"}, markerLines(t, marker))
	st, err := m.State(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "inactive", st.ActiveState)
	assert.Equal(t, "success", st.Result)
	assert.NoFileExists(t, filepath.Join(m.UnitPath(name)+".d", retireDropInName), "the retire drop-in is gone")
	assert.Equal(t, reloads+2, m.DaemonReloads(), "one reload to add the drop-in, one to remove it")

	// The next ordinary stop lands again.
	require.NoError(t, os.Remove(marker))
	require.NoError(t, m.Start(ctx, name))
	waitForFile(t, marker, "ready")
	require.NoError(t, m.Stop(ctx, name))
	assert.Equal(t, []string{"ready", "received SIGUSR1", "finished"}, markerLines(t, marker))
}

// TestRetireRemovesDropInWhenCancelled: even when the caller gives up, the
// unit is not left retiring on its next stop.
func TestRetireRemovesDropInWhenCancelled(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, Config{})
	name, _ := startWorker(t, m, 3*time.Second, "ignore")
	ctx, cancel := context.WithTimeout(testContext(t), 500*time.Millisecond)
	defer cancel()

	err := m.Retire(ctx, name)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NoFileExists(t, filepath.Join(m.UnitPath(name)+".d", retireDropInName))
}

// TestRetireStoppedWorkerIsNoOp: nothing runs, so nothing is drained and
// systemd is not reloaded.
func TestRetireStoppedWorkerIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name := uniqueUnit(t, m)
	uf, err := WorkerUnit{Name: name, Command: testCommand(t, "forever"), WantedBy: "default.target"}.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, uf)
	require.NoError(t, err)
	reloads := m.DaemonReloads()

	require.NoError(t, m.Retire(ctx, name))
	assert.Equal(t, reloads, m.DaemonReloads())
	assert.NoDirExists(t, m.UnitPath(name)+".d")
}
