package services

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// unitFileMode: unit files hold no secrets (those live in the environment
// file) and systemd tools run by operators read them.
const unitFileMode = 0o644

// UnitPath is where Install puts the unit named name.
func (m *Manager) UnitPath(name string) string { return filepath.Join(m.cfg.UnitDir, name) }

// Install writes the unit file (atomically, only when its content differs),
// reloads systemd when systemd says its loaded definition is stale (also
// after an earlier Install wrote the file and was interrupted before the
// reload), and enables the unit. It removes a worker's retire flag left by
// an interrupted Retire. It reports whether anything changed; a unit that
// fails validation changes nothing.
func (m *Manager) Install(ctx context.Context, uf UnitFile) (bool, error) {
	if err := checkUnitName("UnitFile.Name", uf.Name); err != nil {
		return false, err
	}
	if len(uf.Content) == 0 {
		return false, &ValidationError{Field: "UnitFile.Content", Problem: "is empty"}
	}
	if err := os.MkdirAll(m.cfg.UnitDir, 0o755); err != nil {
		return false, fmt.Errorf("services: create %s: %w", m.cfg.UnitDir, err)
	}
	written, err := fsutil.WriteFileIfChanged(m.UnitPath(uf.Name), uf.Content, unitFileMode)
	if err != nil {
		return false, err
	}
	if _, err := m.clearRetireFlag(uf.Name); err != nil {
		return written, err
	}
	st, err := m.state(ctx, "install", uf.Name)
	if err != nil && !isNotFound(err) {
		return written, err
	}
	reloaded := false
	if st.NeedDaemonReload || st.LoadState != "loaded" {
		if err := m.daemonReload(ctx); err != nil {
			return written, err
		}
		reloaded = true
	}
	enabled, err := m.Enable(ctx, uf.Name)
	return written || reloaded || enabled, err
}

// Enable creates the unit's [Install] symlinks so that it starts at boot;
// it reports whether any was created (none when already enabled).
func (m *Manager) Enable(ctx context.Context, name string) (bool, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return false, err
	}
	_, changes, err := m.conn.EnableUnitFilesContext(ctx, []string{name}, m.cfg.EnableRuntime, false)
	if err != nil {
		return false, m.callError(ctx, "enable", name, err)
	}
	return len(changes) > 0, nil
}

// Disable removes the unit's [Install] symlinks, so a reboot does not start
// it (an upgrade disables a stopped worker until it is done); the unit stays
// installed and can still be started. It reports whether anything changed.
func (m *Manager) Disable(ctx context.Context, name string) (bool, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return false, err
	}
	changes, err := m.conn.DisableUnitFilesContext(ctx, []string{name}, m.cfg.EnableRuntime)
	if err != nil {
		return false, m.callError(ctx, "disable", name, err)
	}
	return len(changes) > 0, nil
}

// Uninstall disables the unit and removes its file, drop-ins and drain
// state, reloading systemd when anything was removed. Stop (or Retire) the
// unit first: a running unit keeps running from its loaded definition. It
// reports whether anything changed; a unit that is already gone is not an
// error.
func (m *Manager) Uninstall(ctx context.Context, name string) (bool, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return false, err
	}
	changed := false
	if _, err := os.Stat(m.UnitPath(name)); err == nil {
		disabled, err := m.Disable(ctx, name)
		if err != nil && !isNotFound(err) {
			return false, err
		}
		changed = disabled
	}
	for _, p := range []string{m.UnitPath(name), m.UnitPath(name) + ".d", m.rooted(drainStateDir(name))} {
		removed, err := fsutil.RemoveAllIfExists(p)
		if err != nil {
			return changed, err
		}
		changed = changed || removed
	}
	if !changed {
		return false, nil
	}
	if err := m.daemonReload(ctx); err != nil {
		return true, err
	}
	// Forget a failed state so the unit does not linger in `systemctl --failed`.
	_ = m.conn.ResetFailedUnitContext(ctx, name)
	return true, nil
}
