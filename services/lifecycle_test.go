package services

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLifecycle: render, install, start (active with a main PID and an
// active-since time), stop, start again, restart (a NEW main PID), over both
// ways of reaching systemd.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	inst := fixture.Require(t)
	for name, ep := range endpoints(inst) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			m, _ := newManager(t, Config{Endpoint: ep})
			name := uniqueUnit(t, m)
			before := time.Now().Add(-time.Second) // ActiveEnterTimestamp has µs precision

			uf, err := WebUnit{
				Name:            name,
				Command:         testCommand(t, "forever"),
				EnvironmentFile: testEnvFile(t, nil),
				WorkDir:         scratchDir(t),
				LogFile:         filepath.Join(scratchDir(t), "web.log"),
				WantedBy:        "default.target",
			}.Render()
			require.NoError(t, err)
			changed, err := m.Install(ctx, uf)
			require.NoError(t, err)
			assert.True(t, changed)

			require.NoError(t, m.Start(ctx, name))
			st, err := m.State(ctx, name)
			require.NoError(t, err)
			assert.True(t, st.Active(), "state %+v", st)
			assert.Equal(t, "running", st.SubState)
			assert.NotZero(t, st.MainPID)
			assert.True(t, st.ActiveSince.After(before), "active since %v", st.ActiveSince)
			firstPID := st.MainPID

			require.NoError(t, m.Start(ctx, name), "starting a running unit is a no-op")
			st, err = m.State(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, firstPID, st.MainPID)

			require.NoError(t, m.Stop(ctx, name))
			st, err = m.State(ctx, name)
			require.NoError(t, err)
			assert.False(t, st.Active())
			assert.Equal(t, "inactive", st.ActiveState)
			assert.Zero(t, st.MainPID)
			assert.Equal(t, "success", st.Result, "SIGTERM is a clean stop for web")
			require.NoError(t, m.Stop(ctx, name), "stopping a stopped unit is a no-op")

			require.NoError(t, m.Start(ctx, name))
			st, err = m.State(ctx, name)
			require.NoError(t, err)
			require.True(t, st.Active())
			pidBeforeRestart := st.MainPID

			require.NoError(t, m.Restart(ctx, name))
			st, err = m.State(ctx, name)
			require.NoError(t, err)
			assert.True(t, st.Active())
			assert.NotZero(t, st.MainPID)
			assert.NotEqual(t, pidBeforeRestart, st.MainPID, "restart must run a new process")
		})
	}
}

// TestInstallEnablesUnit: Install enables the unit, persistently or for
// this boot only as configured, and Uninstall removes every trace.
func TestInstallEnablesUnit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		runtime   bool
		wantState string
	}{
		{"persistent", false, "enabled"},
		{"runtime", true, "enabled-runtime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			m, inst := newManager(t, Config{EnableRuntime: tt.runtime})
			name := uniqueUnit(t, m)
			uf, err := WorkerUnit{Name: name, Command: testCommand(t, "forever"), WantedBy: "default.target"}.Render()
			require.NoError(t, err)

			changed, err := m.Install(ctx, uf)
			require.NoError(t, err)
			assert.True(t, changed)
			out, err := inst.Systemctl(ctx, "is-enabled", name)
			require.NoError(t, err)
			assert.Equal(t, tt.wantState+"\n", string(out))

			changed, err = m.Uninstall(ctx, name)
			require.NoError(t, err)
			assert.True(t, changed)
			assert.NoFileExists(t, filepath.Join(inst.UnitDir, name))
			out, _ = inst.Systemctl(ctx, "is-enabled", name)
			assert.NotContains(t, string(out), "enabled")
			_, err = m.State(ctx, name)
			require.ErrorIs(t, err, ErrUnitNotFound)

			changed, err = m.Uninstall(ctx, name)
			require.NoError(t, err)
			assert.False(t, changed, "uninstalling twice changes nothing")
		})
	}
}

// TestInstallReloadsOnlyOnChange: unchanged content causes no daemon-reload;
// changed content does, and systemd then has the new definition loaded.
func TestInstallReloadsOnlyOnChange(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name := uniqueUnit(t, m)
	unit := WebUnit{Name: name, Command: testCommand(t, "forever"), WantedBy: "default.target", Description: "first"}
	uf, err := unit.Render()
	require.NoError(t, err)

	changed, err := m.Install(ctx, uf)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, int64(1), m.DaemonReloads())

	for range 3 {
		changed, err = m.Install(ctx, uf)
		require.NoError(t, err)
		assert.False(t, changed)
	}
	assert.Equal(t, int64(1), m.DaemonReloads(), "unchanged content must not reload systemd")

	unit.Description = "second"
	uf, err = unit.Render()
	require.NoError(t, err)
	changed, err = m.Install(ctx, uf)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, int64(2), m.DaemonReloads())

	props, err := m.conn.GetUnitPropertiesContext(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "second", props["Description"], "systemd must have loaded the new content")
	assert.Equal(t, false, props["NeedDaemonReload"])
}

// TestInstallRejectsBadUnitAndKeepsOldFile: bad input writes nothing.
func TestInstallRejectsBadUnitAndKeepsOldFile(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	name := uniqueUnit(t, m)
	good, err := WebUnit{Name: name, Command: testCommand(t, "forever"), WantedBy: "default.target"}.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, good)
	require.NoError(t, err)

	_, err = WebUnit{Name: name, Command: testCommand(t, "forever"), User: "root\nExecStartPre=/bin/evil"}.Render()
	require.ErrorIs(t, err, ErrInvalidValue)

	_, err = m.Install(ctx, UnitFile{Name: "../escape.service", Content: good.Content})
	require.ErrorIs(t, err, ErrInvalidValue)
	_, err = m.Install(ctx, UnitFile{Name: name})
	require.ErrorIs(t, err, ErrInvalidValue)

	assert.FileExists(t, m.UnitPath(name))
	changed, err := m.Install(ctx, good)
	require.NoError(t, err)
	assert.False(t, changed, "the good file must be untouched")
}
