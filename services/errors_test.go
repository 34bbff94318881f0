package services

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
)

// TestProgramThatExitsGivesJobErrorWithLog: the start job succeeds
// (Type=exec), the program then exits 1; Start reports it with the unit's
// state and the program's own last words.
func TestProgramThatExitsGivesJobErrorWithLog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// A generous settle window: the failure is reported as soon as it is
	// seen, the window only bounds how long a healthy start is watched.
	m, _ := newManager(t, Config{StartSettle: 30 * time.Second})
	name := uniqueUnit(t, m)
	logFile := filepath.Join(scratchDir(t), "web.log")
	uf, err := WebUnit{
		Name:            name,
		Command:         testCommand(t, "fail"),
		EnvironmentFile: testEnvFile(t, nil),
		LogFile:         logFile,
		WantedBy:        "default.target",
	}.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, uf)
	require.NoError(t, err)

	err = m.Start(ctx, name)
	require.ErrorIs(t, err, ErrUnitFailed)
	var jobErr *JobError
	require.ErrorAs(t, err, &jobErr)
	assert.Equal(t, name, jobErr.Unit)
	assert.Equal(t, "start", jobErr.Op)
	// Either the job already saw the exit (result "failed") or the settle
	// watch did: both are this failure, told apart only by timing.
	assert.True(t, jobErr.ExitedAfterStart || jobErr.Result == "failed", "%+v", jobErr)
	assert.Equal(t, "exit-code", jobErr.UnitResult)
	assert.Equal(t, int32(1), jobErr.ExecMainStatus)
	// Restart=on-failure: systemd is waiting to try again.
	assert.Equal(t, "auto-restart", jobErr.SubState)
	assert.Contains(t, jobErr.LogTail, "testprog: failing on purpose with exit status 1")
	assert.Contains(t, err.Error(), "failing on purpose", "the operator sees the program's words")
	assert.Contains(t, err.Error(), "systemctl status "+name)

	assert.False(t, errors.Is(err, ErrUnitNotFound))
	assert.False(t, errors.Is(err, ErrJobTimeout))
	assert.False(t, errors.Is(err, ErrBusUnavailable))
}

// TestProgramThatCannotRunFailsTheJob: a missing executable fails the start
// job itself (Type=exec), result "failed".
func TestProgramThatCannotRunFailsTheJob(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name := uniqueUnit(t, m)
	uf, err := WorkerUnit{
		Name:     name,
		Command:  []string{filepath.Join(scratchDir(t), "no-such-concourse"), "worker"},
		LogFile:  filepath.Join(scratchDir(t), "worker.log"),
		WantedBy: "default.target",
	}.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, uf)
	require.NoError(t, err)

	err = m.Start(ctx, name)
	var jobErr *JobError
	require.ErrorAs(t, err, &jobErr)
	assert.Equal(t, "failed", jobErr.Result)
	assert.False(t, jobErr.ExitedAfterStart)
	assert.Equal(t, "exit-code", jobErr.UnitResult)
	assert.Equal(t, int32(203), jobErr.ExecMainStatus, "203 is systemd's EXIT_EXEC")
	assert.ErrorIs(t, err, ErrUnitFailed)
}

// TestMissingUnit: every operation on a unit systemd does not know says so.
func TestMissingUnit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	const name = "no-such-unit-for-services-tests.service"

	ops := map[string]func() error{
		"start":   func() error { return m.Start(ctx, name) },
		"stop":    func() error { return m.Stop(ctx, name) },
		"restart": func() error { return m.Restart(ctx, name) },
		"retire":  func() error { return m.Retire(ctx, name) },
		"state":   func() error { _, err := m.State(ctx, name); return err },
	}
	for op, call := range ops {
		t.Run(op, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, ErrUnitNotFound)
			var nf *UnitNotFoundError
			require.ErrorAs(t, err, &nf)
			assert.Equal(t, name, nf.Unit)
			assert.Contains(t, err.Error(), "install it first")
			assert.False(t, errors.Is(err, ErrUnitFailed))
		})
	}
	assert.NoDirExists(t, m.UnitPath(name)+".d", "retire of a missing unit leaves nothing behind")
}

// TestJobTimeout: a start job still running when the wait ends is its own
// error; the job is left to systemd (the cleanup stops the unit).
func TestJobTimeout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{JobTimeout: 500 * time.Millisecond})
	name := uniqueUnit(t, m)
	content, err := io.ReadAll(unit.Serialize([]*unit.UnitOption{
		unit.NewUnitOption("Service", "ExecStartPre", "/bin/sleep 5"),
		unit.NewUnitOption("Service", "ExecStart", "/bin/sleep infinity"),
	}))
	require.NoError(t, err)
	_, err = m.Install(ctx, UnitFile{Name: name, Content: content})
	require.NoError(t, err)

	err = m.Start(ctx, name)
	require.ErrorIs(t, err, ErrJobTimeout)
	var te *JobTimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, name, te.Unit)
	assert.Equal(t, "start", te.Op)
	assert.GreaterOrEqual(t, te.Waited, 500*time.Millisecond)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, errors.Is(err, ErrUnitFailed))

	st, err := m.State(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "activating", st.ActiveState, "the job goes on in systemd")
}

// TestCallerCancelIsNotATimeout: a cancelled ctx is reported as such.
func TestCallerCancelIsNotATimeout(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, Config{})
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	err := m.Start(ctx, "anything.service")
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.Is(err, ErrJobTimeout))
}

// TestBusNotThere: no socket, and a systemd that went away, are both bus
// errors that say what to check.
func TestBusNotThere(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	t.Run("no socket", func(t *testing.T) {
		t.Parallel()
		addr := filepath.Join(t.TempDir(), "private")
		_, err := Connect(ctx, Config{Endpoint: PrivateSocket(addr)})
		require.ErrorIs(t, err, ErrBusUnavailable)
		var be *BusError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, "unix:path="+addr, be.Address)
		assert.Contains(t, err.Error(), "check that systemd is running")
	})

	t.Run("systemd went away", func(t *testing.T) {
		t.Parallel()
		fixture.Require(t) // systemd must be startable at all
		inst, err := systemdtest.Start(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = inst.Stop() })
		m, err := Connect(ctx, Config{Endpoint: PrivateSocket(inst.PrivateSocket), UnitDir: inst.UnitDir})
		require.NoError(t, err)
		defer m.Close()
		require.NoError(t, inst.Stop())

		err = m.Start(ctx, "anything.service")
		require.ErrorIs(t, err, ErrBusUnavailable)
		_, err = m.State(ctx, "anything.service")
		require.ErrorIs(t, err, ErrBusUnavailable)
	})
}
