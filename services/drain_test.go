package services

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fakeconcourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// fakeWorker is a worker unit running the fake concourse under the
// private systemd.
type fakeWorker struct {
	unit unitname.Name
	name string
	fake fakeconcourse.Fake
	log  string
	work string
}

type fakeWorkerOpts struct {
	drainAfter   time.Duration // how long the fake takes to land or retire
	drainTimeout time.Duration
	grace        time.Duration
	helper       []string // default: this test binary's drain-worker
	mountsUnder  bool     // the fake mounts volumes in its work dir; ExecStopPost unmounts them
}

// installFakeWorker installs (does not start) a worker unit running the fake.
func installFakeWorker(t *testing.T, m *Manager, o fakeWorkerOpts) fakeWorker {
	t.Helper()
	ctx := testContext(t)
	dir := scratchDir(t)
	fake, err := fakeconcourse.Install(dir, testBinary, fakeconcourse.Options{DrainAfter: o.drainAfter})
	require.NoError(t, err)
	w := fakeWorker{unit: uniqueUnit(t, m), fake: fake, log: filepath.Join(dir, "worker.log"), work: filepath.Join(dir, "work")}
	w.name = WorkerUnitName(w.unit)
	env, err := fakeconcourse.MinimalEnv(concourse.RoleWorker, dir)
	require.NoError(t, err)
	unit := WorkerUnit{
		Unit:         w.unit,
		Command:      []string{fake.Binary, "worker"},
		DrainHelper:  o.helper,
		WorkDir:      dir,
		LogFile:      w.log,
		DrainTimeout: o.drainTimeout,
		StopGrace:    o.grace,
		RestartDelay: 100 * time.Millisecond,
		WantedBy:     "default.target",
	}
	if unit.DrainHelper == nil {
		unit.DrainHelper = drainHelper(t)
	}
	if o.mountsUnder {
		env["CONCOURSE_WORK_DIR"] = w.work
		unit.MountsUnder = w.work
		require.NoError(t, fake.Set(fakeconcourse.MountVolumes, true))
	}
	unit.EnvironmentFile = testEnvFile(t, env)
	uf, err := unit.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, uf)
	require.NoError(t, err)
	return w
}

// startFakeWorker installs and starts a fake worker and waits until it runs.
func startFakeWorker(t *testing.T, m *Manager, o fakeWorkerOpts) fakeWorker {
	t.Helper()
	w := installFakeWorker(t, m, o)
	require.NoError(t, m.Start(testContext(t), w.name))
	w.waitFor(t, "started pid")
	return w
}

func (w fakeWorker) received(t *testing.T) []string {
	t.Helper()
	lines, err := w.fake.Received()
	require.NoError(t, err)
	return lines
}

// events drops the "started pid N" and "mounted" lines.
func (w fakeWorker) events(t *testing.T) []string {
	var out []string
	for _, l := range w.received(t) {
		if !strings.HasPrefix(l, "started pid ") && !strings.HasPrefix(l, "mounted ") {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits until the fake has recorded n lines starting with prefix
// (default 1), a deadlock guard.
func (w fakeWorker) waitFor(t *testing.T, prefix string) {
	t.Helper()
	require.Eventually(t, func() bool {
		lines, _ := w.fake.Received()
		return len(fakeconcourse.Lines(lines, prefix)) > 0
	}, time.Minute, 20*time.Millisecond, "the fake never recorded %q", prefix)
}

// TestStopLands: a stop sends the land signal; the worker lands by itself
// within the drain timeout, and Stop says it drained.
func TestStopLands(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: 300 * time.Millisecond, drainTimeout: time.Minute})

	res, err := m.Stop(ctx, w.name)
	require.NoError(t, err)

	assert.Equal(t, Drained, res.Outcome, "%+v", res)
	assert.Equal(t, "SIGUSR1", res.Signal)
	assert.GreaterOrEqual(t, res.Draining, 300*time.Millisecond, "it took the fake's landing time")
	assert.Equal(t, []string{"received SIGUSR1", "landed"}, w.events(t))
	st, err := m.State(ctx, w.name)
	require.NoError(t, err)
	assert.Equal(t, "inactive", st.ActiveState)
	assert.Equal(t, "success", st.Result)

	res, err = m.Stop(ctx, w.name)
	require.NoError(t, err)
	assert.Equal(t, NotRunning, res.Outcome, "stopping a stopped worker sends nothing")
}

// TestStopWithWebGoneIsNotHeard: a worker that cannot reach the TSA while
// draining exits 1; Stop reports that the ATC did not hear of it.
func TestStopWithWebGoneIsNotHeard(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: 100 * time.Millisecond, drainTimeout: time.Minute})
	require.NoError(t, w.fake.Set(fakeconcourse.GatewayGone, true))

	res, err := m.Stop(ctx, w.name)
	require.NoError(t, err)

	assert.Equal(t, NotHeard, res.Outcome, "%+v", res)
	assert.Equal(t, int32(1), res.ExecMainCode, "exited")
	assert.Equal(t, int32(1), res.ExecMainStatus)
	assert.Equal(t, []string{"received SIGUSR1", "gateway gone"}, w.events(t))
	assert.Contains(t, m.LogTail(ctx, w.name), fakeconcourse.GatewaysGoneMessage)
}

// TestStopStuckWorkerIsTerminated: a worker that ignores the drain signal
// gets SIGTERM when the drain timeout runs out, not SIGKILL.
func TestStopStuckWorkerIsTerminated(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	const drainTimeout = time.Second
	w := startFakeWorker(t, m, fakeWorkerOpts{drainTimeout: drainTimeout, grace: time.Minute})
	require.NoError(t, w.fake.Set(fakeconcourse.Stuck, true))

	res, err := m.Stop(ctx, w.name)
	require.NoError(t, err)

	assert.Equal(t, Terminated, res.Outcome, "%+v", res)
	assert.GreaterOrEqual(t, res.Draining, drainTimeout, "builds get the whole drain timeout")
	assert.Equal(t, []string{"received SIGUSR1", "stuck: ignoring SIGUSR1", "received SIGTERM", "exiting on SIGTERM"}, w.events(t))
}

// TestStopWorkerIgnoringTermIsKilled: SIGKILL comes only after the grace.
func TestStopWorkerIgnoringTermIsKilled(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainTimeout: 500 * time.Millisecond, grace: 500 * time.Millisecond})
	require.NoError(t, w.fake.Set(fakeconcourse.Stuck, true))
	require.NoError(t, w.fake.Set(fakeconcourse.IgnoreTerm, true))

	res, err := m.Stop(ctx, w.name)
	require.NoError(t, err)

	assert.Equal(t, Killed, res.Outcome, "%+v", res)
	assert.Equal(t, int32(2), res.ExecMainCode, "killed by a signal")
	assert.Equal(t, int32(9), res.ExecMainStatus, "SIGKILL")
	assert.Equal(t, []string{"received SIGUSR1", "stuck: ignoring SIGUSR1", "received SIGTERM", "ignoring SIGTERM"}, w.events(t))
}

// TestRestartDrainsAndWaitsForTheDrain: a restart drains the old process
// (the result says so) and starts a new one; the wait covers the drain
// although it is longer than Config.JobTimeout.
func TestRestartDrainsAndWaitsForTheDrain(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{JobTimeout: 500 * time.Millisecond})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: 1500 * time.Millisecond, drainTimeout: time.Minute})
	before, err := m.State(ctx, w.name)
	require.NoError(t, err)

	res, err := m.Restart(ctx, w.name)
	require.NoError(t, err)

	assert.Equal(t, Drained, res.Outcome, "%+v", res)
	assert.Equal(t, "SIGUSR1", res.Signal)
	after, err := m.State(ctx, w.name)
	require.NoError(t, err)
	assert.True(t, after.Active())
	assert.NotEqual(t, before.MainPID, after.MainPID)
	assert.Len(t, fakeconcourse.PIDs(w.received(t)), 2, "a second run started")
	assert.Equal(t, []string{"received SIGUSR1", "landed"}, w.events(t))
}

// TestRetireDeliversRetireSignal: Retire makes systemd's stop deliver the
// retire signal (what the fake received is what systemd did), and the next
// ordinary stop lands again.
func TestRetireDeliversRetireSignal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, inst := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: 200 * time.Millisecond, drainTimeout: time.Minute})

	res, err := m.Retire(ctx, w.name, nil)
	require.NoError(t, err)

	assert.Equal(t, Drained, res.Outcome, "%+v", res)
	assert.Equal(t, "SIGUSR2", res.Signal)
	assert.Equal(t, []string{"received SIGUSR2", "retired"}, w.events(t))
	assert.NoFileExists(t, filepath.Join(inst.ManagerRoot, drainStateDir(w.name), retireFlagFile))

	require.NoError(t, m.Start(ctx, w.name))
	require.Eventually(t, func() bool { return len(fakeconcourse.PIDs(w.received(t))) == 2 }, time.Minute, 20*time.Millisecond)
	res, err = m.Stop(ctx, w.name)
	require.NoError(t, err)
	assert.Equal(t, "SIGUSR1", res.Signal)
	assert.Equal(t, []string{"received SIGUSR2", "retired", "received SIGUSR1", "landed"}, w.events(t))
}

// TestRetireTimeoutSendsTermSoTheWorkerDeletesItself: a worker still
// retiring at the drain timeout gets SIGTERM (on which Concourse deletes a
// retiring worker's registration), not SIGKILL.
func TestRetireTimeoutSendsTermSoTheWorkerDeletesItself(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: time.Hour, drainTimeout: time.Second, grace: time.Minute})

	res, err := m.Retire(ctx, w.name, nil)
	require.NoError(t, err)

	assert.Equal(t, Terminated, res.Outcome, "%+v", res)
	assert.Equal(t, "SIGUSR2", res.Signal)
	assert.Equal(t, []string{"received SIGUSR2", "received SIGTERM", "deleted registration", "exiting on SIGTERM"}, w.events(t))
}

// TestRetireOfStoppedWorkerRunsOfflineCommand: a stopped worker cannot hear
// a signal; Retire runs the caller's retire command instead, and says when
// it fails.
func TestRetireOfStoppedWorkerRunsOfflineCommand(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	w := installFakeWorker(t, m, fakeWorkerOpts{})
	offline := []string{w.fake.Binary, "retire-worker", "--name", "worker-1", "--tsa-host", "10.0.0.1:2222",
		"--tsa-public-key", "/keys/tsa_host_key.pub", "--tsa-worker-private-key", "/keys/worker_key"}
	reloads := m.DaemonReloads()

	res, err := m.Retire(ctx, w.name, offline)
	require.NoError(t, err)
	assert.Equal(t, RetiredOffline, res.Outcome)
	assert.Equal(t, []string{"retire-worker --name=worker-1 --tsa-host=10.0.0.1:2222"}, w.events(t))
	assert.Equal(t, reloads, m.DaemonReloads(), "nothing about the unit changed")

	require.NoError(t, w.fake.Set(fakeconcourse.GatewayGone, true))
	_, err = m.Retire(ctx, w.name, offline)
	var oe *OfflineRetireError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, w.name, oe.Unit)
	assert.Contains(t, oe.Output, "failed to connect to TSA 10.0.0.1:2222")

	res, err = m.Retire(ctx, w.name, nil)
	require.NoError(t, err)
	assert.Equal(t, NotRunning, res.Outcome, "no command: nothing to do")
}

// TestStaleRetireFlagIsRemoved: a Retire interrupted between setting its
// flag and the stop leaves the flag; the next Stop lands (and says it found
// the flag), and the next Install removes it too.
func TestStaleRetireFlagIsRemoved(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, inst := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: 100 * time.Millisecond, drainTimeout: time.Minute})
	flag := filepath.Join(inst.ManagerRoot, drainStateDir(w.name), retireFlagFile)
	require.NoError(t, os.MkdirAll(filepath.Dir(flag), 0o755))
	require.NoError(t, os.WriteFile(flag, nil, 0o644)) // as Retire leaves it when killed

	res, err := m.Stop(ctx, w.name)
	require.NoError(t, err)
	assert.True(t, res.StaleRetireRemoved)
	assert.Equal(t, "SIGUSR1", res.Signal)
	assert.Equal(t, []string{"received SIGUSR1", "landed"}, w.events(t))

	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	uf, err := os.ReadFile(m.UnitPath(w.name))
	require.NoError(t, err)
	_, err = m.Install(ctx, UnitFile{Name: w.name, Content: uf})
	require.NoError(t, err)
	assert.NoFileExists(t, flag)
}

// TestRetireCancelledRemovesFlag: when the caller gives up mid-retire, the
// flag goes anyway, so the next stop does not retire.
func TestRetireCancelledRemovesFlag(t *testing.T) {
	t.Parallel()
	m, inst := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: time.Hour, drainTimeout: 2 * time.Second})
	ctx, cancel := context.WithCancel(testContext(t))
	go func() {
		w.waitFor(t, "received SIGUSR2")
		cancel()
	}()

	_, err := m.Retire(ctx, w.name, nil)
	var ce *CancelledError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NoFileExists(t, filepath.Join(inst.ManagerRoot, drainStateDir(w.name), retireFlagFile))
}

// TestMissingDrainHelperIsReported: without its helper the worker is
// stopped by systemd's KillSignal alone (no drain), and Stop says so.
func TestMissingDrainHelperIsReported(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainTimeout: time.Minute,
		helper: []string{"/nonexistent/concourse-ci-machine", "drain-worker"}})

	_, err := m.Stop(ctx, w.name)
	var he *DrainHelperError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, w.name, he.Unit)
	assert.Equal(t, []string{"received SIGTERM", "exiting on SIGTERM"}, w.events(t), "no drain signal was sent")
}

// TestStopUnmountsWhatTheWorkerMounted: the worker mounts its volumes again
// on every start; after every stop nothing stays mounted under its work
// dir (in systemd's mount namespace, where the worker mounted them).
func TestStopUnmountsWhatTheWorkerMounted(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, inst := newManager(t, Config{})
	w := startFakeWorker(t, m, fakeWorkerOpts{drainAfter: 100 * time.Millisecond, drainTimeout: time.Minute, mountsUnder: true})
	mountsInside := func() []string {
		data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(inst.PID), "mountinfo"))
		require.NoError(t, err)
		var under []string
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], w.work+"/") {
				under = append(under, f[4])
			}
		}
		return under
	}
	for run := range 2 {
		require.NotEmpty(t, mountsInside(), "run %d: the worker mounted its volumes", run)
		_, err := m.Stop(ctx, w.name)
		require.NoError(t, err)
		assert.Empty(t, mountsInside(), "run %d: mounts left after the stop", run)
		require.NoError(t, m.Start(ctx, w.name))
		require.Eventually(t, func() bool { return len(fakeconcourse.Lines(w.received(t), "mounted ")) == run+2 },
			time.Minute, 20*time.Millisecond)
	}
}
