package services

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLifecycle: render, install, start (active with a main PID and an
// active-since time), stop, start again, restart (a NEW main PID).
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	u := uniqueUnit(t, m)
	before := time.Now().Add(-time.Second) // ActiveEnterTimestamp has µs precision

	uf, err := WebUnit{
		Unit:            u,
		Command:         testCommand(t, "forever"),
		EnvironmentFile: testEnvFile(t, nil),
		WorkDir:         scratchDir(t),
		LogFile:         filepath.Join(scratchDir(t), "web.log"),
		WantedBy:        "default.target",
	}.Render()
	require.NoError(t, err)
	name := uf.Name
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

	res, err := m.Stop(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, Stopped, res.Outcome, "web has no drain helper")
	assert.Empty(t, res.Signal)
	st, err = m.State(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, "inactive", st.ActiveState)
	assert.Zero(t, st.MainPID)
	assert.Equal(t, "success", st.Result, "SIGTERM is a clean stop for web")
	res, err = m.Stop(ctx, name)
	require.NoError(t, err, "stopping a stopped unit is a no-op")
	assert.Equal(t, NotRunning, res.Outcome)

	require.NoError(t, m.Start(ctx, name))
	st, err = m.State(ctx, name)
	require.NoError(t, err)
	require.True(t, st.Active())
	pidBeforeRestart := st.MainPID

	res, err = m.Restart(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, Stopped, res.Outcome)
	st, err = m.State(ctx, name)
	require.NoError(t, err)
	assert.True(t, st.Active())
	assert.NotZero(t, st.MainPID)
	assert.NotEqual(t, pidBeforeRestart, st.MainPID, "restart must run a new process")
}

// TestEnableDisable: Install enables the unit, persistently or for this
// boot only as configured; Disable and Enable switch it; Uninstall removes
// every trace.
func TestEnableDisable(t *testing.T) {
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
			uf, err := WebUnit{Unit: uniqueUnit(t, m), Command: testCommand(t, "forever"), EnvironmentFile: testEnvFile(t, nil), WantedBy: "default.target"}.Render()
			require.NoError(t, err)
			name := uf.Name
			isEnabled := func() string {
				out, _ := inst.Systemctl(ctx, "is-enabled", name)
				return string(out)
			}

			changed, err := m.Install(ctx, uf)
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, tt.wantState+"\n", isEnabled())

			changed, err = m.Disable(ctx, name)
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, "disabled\n", isEnabled())
			changed, err = m.Disable(ctx, name)
			require.NoError(t, err)
			assert.False(t, changed, "disabling twice changes nothing")
			require.NoError(t, m.Start(ctx, name), "a disabled unit still starts")

			changed, err = m.Enable(ctx, name)
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, tt.wantState+"\n", isEnabled())

			_, err = m.Stop(ctx, name)
			require.NoError(t, err)
			changed, err = m.Uninstall(ctx, name)
			require.NoError(t, err)
			assert.True(t, changed)
			assert.NoFileExists(t, filepath.Join(inst.UnitDir, name))
			assert.NotRegexp(t, "^enabled", isEnabled())
			_, err = m.State(ctx, name)
			var nf *UnitNotFoundError
			require.ErrorAs(t, err, &nf)

			changed, err = m.Uninstall(ctx, name)
			require.NoError(t, err)
			assert.False(t, changed, "uninstalling twice changes nothing")
		})
	}
}

// TestInstallAsksSystemdWhetherToReload: Install reloads when systemd's
// loaded definition is stale, even if the file already has the new content
// (an Install interrupted after writing it), and not otherwise.
func TestInstallAsksSystemdWhetherToReload(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	unit := WebUnit{Unit: uniqueUnit(t, m), Command: testCommand(t, "forever"), WantedBy: "default.target", Description: "first"}
	uf, err := unit.Render()
	require.NoError(t, err)
	name := uf.Name
	loaded := func() (string, bool) {
		props, err := m.conn.GetUnitPropertiesContext(ctx, name)
		require.NoError(t, err)
		return props["Description"].(string), props["NeedDaemonReload"].(bool)
	}

	changed, err := m.Install(ctx, uf)
	require.NoError(t, err)
	assert.True(t, changed)
	// Running keeps the unit loaded: systemd forgets an unused inactive
	// unit and loads it afresh on the next question.
	require.NoError(t, m.Start(ctx, name))
	desc, stale := loaded()
	assert.Equal(t, "first", desc)
	assert.False(t, stale)

	reloads := m.DaemonReloads()
	for range 3 {
		changed, err = m.Install(ctx, uf)
		require.NoError(t, err)
		assert.False(t, changed)
	}
	assert.Equal(t, reloads, m.DaemonReloads(), "an up-to-date unit is not reloaded")

	// An earlier Install wrote the new content and was killed before it
	// could reload.
	unit.Description = "second"
	uf, err = unit.Render()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(m.UnitPath(name), uf.Content, 0o644))
	_, stale = loaded()
	require.True(t, stale, "systemd knows its definition is stale")

	changed, err = m.Install(ctx, uf)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, reloads+1, m.DaemonReloads())
	desc, stale = loaded()
	assert.Equal(t, "second", desc, "systemd has loaded the new content")
	assert.False(t, stale)
}

// TestInstallRejectsBadUnitAndKeepsOldFile: bad input writes nothing.
func TestInstallRejectsBadUnitAndKeepsOldFile(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, Config{})
	u := uniqueUnit(t, m)
	good, err := WebUnit{Unit: u, Command: testCommand(t, "forever"), WantedBy: "default.target"}.Render()
	require.NoError(t, err)
	_, err = m.Install(ctx, good)
	require.NoError(t, err)

	var ve *ValidationError
	_, err = WebUnit{Unit: u, Command: testCommand(t, "forever"), User: "root\nExecStartPre=/bin/evil"}.Render()
	require.ErrorAs(t, err, &ve)
	_, err = m.Install(ctx, UnitFile{Name: "../escape.service", Content: good.Content})
	require.ErrorAs(t, err, &ve)
	_, err = m.Install(ctx, UnitFile{Name: good.Name})
	require.ErrorAs(t, err, &ve)

	assert.FileExists(t, m.UnitPath(good.Name))
	changed, err := m.Install(ctx, good)
	require.NoError(t, err)
	assert.False(t, changed, "the good file must be untouched")
}
