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

// Install writes the unit file (atomically), reloads systemd only when the
// content changed, and enables the unit. It reports whether anything
// changed. A unit that fails validation changes nothing.
func (m *Manager) Install(ctx context.Context, uf UnitFile) (bool, error) {
	if err := checkUnitName("UnitFile.Name", uf.Name); err != nil {
		return false, err
	}
	if len(uf.Content) == 0 {
		return false, &ValidationError{Field: "UnitFile.Content", Problem: "is empty; render the unit first (WebUnit.Render, WorkerUnit.Render)"}
	}
	if err := os.MkdirAll(m.cfg.UnitDir, 0o755); err != nil {
		return false, fmt.Errorf("services: create %s: %w", m.cfg.UnitDir, err)
	}
	written, err := fsutil.WriteFileIfChanged(m.UnitPath(uf.Name), uf.Content, unitFileMode)
	if err != nil {
		return false, err
	}
	if written {
		if err := m.daemonReload(ctx); err != nil {
			return true, err
		}
	}
	enabled, err := m.enable(ctx, uf.Name)
	return written || enabled, err
}

// enable creates the unit's [Install] symlinks; it reports whether any was
// created (none when already enabled).
func (m *Manager) enable(ctx context.Context, name string) (bool, error) {
	_, changes, err := m.conn.EnableUnitFilesContext(ctx, []string{name}, m.cfg.EnableRuntime, false)
	if err != nil {
		return false, m.callError("enable", name, err)
	}
	return len(changes) > 0, nil
}

// Uninstall disables the unit and removes its file and drop-ins, reloading
// systemd when anything was removed. Stop (or Retire) the unit first: a
// running unit keeps running from its loaded definition. It reports whether
// anything changed; a unit that is already gone is not an error.
func (m *Manager) Uninstall(ctx context.Context, name string) (bool, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return false, err
	}
	changed := false
	if _, err := os.Stat(m.UnitPath(name)); err == nil {
		changes, err := m.conn.DisableUnitFilesContext(ctx, []string{name}, m.cfg.EnableRuntime)
		if err != nil && !isNoSuchUnit(err) {
			return false, m.busError("disable "+name, err)
		}
		changed = len(changes) > 0
	}
	for _, p := range []string{m.UnitPath(name), m.UnitPath(name) + ".d"} {
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
