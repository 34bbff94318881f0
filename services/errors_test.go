package services

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/services/systemdtest"
)

// installRaw installs a hand-written unit (for cases the renderers never
// produce) under a fresh name.
func installRaw(t *testing.T, m *Manager, opts ...*unit.UnitOption) string {
	t.Helper()
	name := WorkerUnitName(uniqueUnit(t, m))
	installRawAs(t, m, name, opts...)
	return name
}

// installWeb renders and installs a web unit.
func installWeb(t *testing.T, m *Manager, w WebUnit) string {
	t.Helper()
	uf, err := w.Render()
	require.NoError(t, err)
	_, err = m.Install(testContext(t), uf)
	require.NoError(t, err)
	return uf.Name
}

func installRawAs(t *testing.T, m *Manager, name string, opts ...*unit.UnitOption) {
	t.Helper()
	content, err := io.ReadAll(unit.Serialize(opts))
	require.NoError(t, err)
	_, err = m.Install(testContext(t), UnitFile{Name: name, Content: content})
	require.NoError(t, err)
}

// TestProgramThatExitsIsAFailedStartWithItsLog: the start job succeeds
// (Type=exec), the program then exits 1; Start reports a failed start with
// the unit's state and the program's own last words.
func TestProgramThatExitsIsAFailedStartWithItsLog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// A generous settle window: the failure is reported as soon as it is
	// seen, the window only bounds how long a healthy start is watched.
	m, _ := newManager(t, Config{StartSettle: 30 * time.Second})
	name := installWeb(t, m, WebUnit{
		Unit:            uniqueUnit(t, m),
		Command:         testCommand(t, "fail"),
		EnvironmentFile: testEnvFile(t, nil),
		LogFile:         filepath.Join(scratchDir(t), "web.log"),
		WantedBy:        "default.target",
	})

	err := m.Start(ctx, name)
	var se *StartFailedError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, name, se.Unit)
	assert.Equal(t, "start", se.Op)
	assert.Equal(t, "exit-code", se.Status.Result)
	assert.Equal(t, int32(1), se.Status.ExecMainCode)
	assert.Equal(t, int32(1), se.Status.ExecMainStatus)
	// Restart=on-failure: systemd is waiting to try again.
	assert.Equal(t, "auto-restart", se.Status.SubState)
	assert.Contains(t, se.Status.LogTail, "testprog: failing on purpose with exit status 1")
	assert.Contains(t, err.Error(), "failing on purpose", "the program's words are in the message")
}

// TestProgramThatCannotRunFailsTheJob: a missing executable fails the start
// job itself (Type=exec).
func TestProgramThatCannotRunFailsTheJob(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name := installWeb(t, m, WebUnit{
		Unit:     uniqueUnit(t, m),
		Command:  []string{filepath.Join(scratchDir(t), "no-such-concourse"), "web"},
		LogFile:  filepath.Join(scratchDir(t), "web.log"),
		WantedBy: "default.target",
	})

	err := m.Start(ctx, name)
	var se *StartFailedError
	require.ErrorAs(t, err, &se)
	assert.False(t, se.ExitedAfterStart, "the job itself failed")
	assert.Equal(t, "exit-code", se.Status.Result)
	assert.Equal(t, int32(203), se.Status.ExecMainStatus, "203 is systemd's EXIT_EXEC")
}

// TestDependencyFailed: a unit whose required unit fails to start is not
// started, and Start says it was a dependency.
func TestDependencyFailed(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	dep := installRaw(t, m,
		unit.NewUnitOption("Service", "Type", "exec"),
		unit.NewUnitOption("Service", "ExecStart", filepath.Join(scratchDir(t), "missing")))
	name := installRaw(t, m,
		unit.NewUnitOption("Unit", "Requires", dep),
		unit.NewUnitOption("Unit", "After", dep),
		unit.NewUnitOption("Service", "ExecStart", "/bin/sleep infinity"))

	err := m.Start(ctx, name)
	var de *DependencyFailedError
	require.ErrorAs(t, err, &de, "%v", err)
	assert.Equal(t, name, de.Unit)
	assert.Equal(t, "inactive", de.Status.ActiveState, "it never ran")
	var se *StartFailedError
	assert.False(t, errors.As(err, &se))
}

// TestMissingUnit: every operation on a unit systemd does not know says so.
func TestMissingUnit(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	const name = "no-such-unit-for-services-tests.service"

	ops := map[string]func() error{
		"start":   func() error { return m.Start(ctx, name) },
		"stop":    func() error { _, err := m.Stop(ctx, name); return err },
		"restart": func() error { _, err := m.Restart(ctx, name); return err },
		"retire":  func() error { _, err := m.Retire(ctx, name, nil); return err },
		"state":   func() error { _, err := m.State(ctx, name); return err },
	}
	for op, call := range ops {
		t.Run(op, func(t *testing.T) {
			err := call()
			var nf *UnitNotFoundError
			require.ErrorAs(t, err, &nf)
			assert.Equal(t, name, nf.Unit)
		})
	}
	assert.NoDirExists(t, m.rooted(drainStateDir(name)), "retire of a missing unit leaves nothing behind")
}

// slowStart is a unit whose start job takes 30 s (ExecStartPre).
func slowStart(t *testing.T, m *Manager, extra ...*unit.UnitOption) string {
	t.Helper()
	return installRaw(t, m, append([]*unit.UnitOption{
		unit.NewUnitOption("Service", "ExecStartPre", "/bin/sleep 30"),
		unit.NewUnitOption("Service", "ExecStart", "/bin/sleep infinity"),
	}, extra...)...)
}

// TestJobTimeout: a start job still running when this package's wait ends
// is a timeout (not the caller's cancel); the job is left to systemd.
func TestJobTimeout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{JobTimeout: 500 * time.Millisecond})
	name := slowStart(t, m)

	err := m.Start(ctx, name)
	var te *JobTimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, name, te.Unit)
	assert.False(t, te.BySystemd)
	assert.GreaterOrEqual(t, te.Waited, 500*time.Millisecond)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "not the caller's deadline")

	st, err := m.State(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "activating", st.ActiveState, "the job goes on in systemd")
}

// TestJobTimeoutBySystemd: systemd's own job timeout (JobTimeoutSec) is a
// timeout too, told apart by BySystemd.
func TestJobTimeoutBySystemd(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name := slowStart(t, m, unit.NewUnitOption("Unit", "JobTimeoutSec", "500ms"))

	err := m.Start(ctx, name)
	var te *JobTimeoutError
	require.ErrorAs(t, err, &te, "%v", err)
	assert.True(t, te.BySystemd)
}

// TestCallerCancelIsNotATimeout: the caller's cancel (or its own deadline)
// while the job runs is reported as such, not as a job timeout.
func TestCallerCancelIsNotATimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		want error
	}{
		{"cancel", context.WithCancel, context.Canceled},
		{"caller's deadline", func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Second)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, _ := newManager(t, Config{JobTimeout: time.Minute})
			name := slowStart(t, m)
			ctx, cancel := tt.ctx(testContext(t))
			defer cancel()
			if tt.want == context.Canceled {
				// Cancel once the job is under way, so the wait is what
				// the cancel interrupts.
				go func() {
					for {
						st, err := m.State(testContext(t), name)
						if err == nil && st.ActiveState == "activating" {
							cancel()
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}()
			}

			err := m.Start(ctx, name)
			var ce *CancelledError
			require.ErrorAs(t, err, &ce, "%v", err)
			assert.ErrorIs(t, err, tt.want)
			var te *JobTimeoutError
			assert.False(t, errors.As(err, &te))
			st, err := m.State(testContext(t), name)
			require.NoError(t, err)
			assert.Equal(t, "activating", st.ActiveState, "the job was under way when the caller gave up")
		})
	}
}

// TestLogTailFallsBackToTheJournal: a unit that logs to the journal (no
// LogFile) gets its lines from journalctl. The private systemd has no
// journald, so a stand-in journalctl answers and records how it was asked.
func TestLogTailFallsBackToTheJournal(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := scratchDir(t)
	journalctl := filepath.Join(dir, "journalctl")
	argsFile := filepath.Join(dir, "args")
	require.NoError(t, os.WriteFile(journalctl, []byte("#!/bin/sh\necho \"$@\" > "+argsFile+
		"\necho 'web: cannot reach PostgreSQL'\necho 'web: exiting'\n"), 0o755))
	m, _ := newManager(t, Config{JournalCommand: []string{journalctl}, StartSettle: 30 * time.Second})
	name := installWeb(t, m, WebUnit{Unit: uniqueUnit(t, m), Command: testCommand(t, "fail"), EnvironmentFile: testEnvFile(t, nil), WantedBy: "default.target"})

	err := m.Start(ctx, name)
	var se *StartFailedError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, []string{"web: cannot reach PostgreSQL", "web: exiting"}, se.Status.LogTail)
	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	assert.Equal(t, "--unit="+name+" --lines=20 --output=cat --no-pager --quiet", strings.TrimSpace(string(args)))
}

// TestBusNotThere: no socket, and a systemd that went away, are both bus
// errors.
func TestBusNotThere(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	t.Run("no socket", func(t *testing.T) {
		t.Parallel()
		addr := filepath.Join(t.TempDir(), "private")
		_, err := Connect(ctx, Config{Endpoint: PrivateSocket(addr)})
		var be *BusError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, "unix:path="+addr, be.Address)
	})

	t.Run("systemd went away", func(t *testing.T) {
		t.Parallel()
		fixture.Require(t) // systemd must be startable at all
		inst, err := systemdtest.Start(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = inst.Stop() })
		m, err := Connect(ctx, Config{Endpoint: PrivateSocket(inst.PrivateSocket), Root: inst.ManagerRoot})
		require.NoError(t, err)
		defer m.Close()
		require.NoError(t, inst.Stop())

		var be *BusError
		require.ErrorAs(t, m.Start(ctx, "anything.service"), &be)
		_, err = m.State(ctx, "anything.service")
		require.ErrorAs(t, err, &be)
	})
}
