package services

import (
	"context"
	"errors"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

// State is what systemd says about a service unit right now.
type State struct {
	Unit        string
	LoadState   string // loaded, not-found, error, masked...
	ActiveState string // active, inactive, failed, activating, deactivating
	SubState    string // running, dead, failed, auto-restart, stop-sigterm...
	// Result is the service's last result: success, exit-code, signal,
	// timeout, core-dump... (reset to success when it starts).
	Result string
	// MainPID is the main process, 0 when not running.
	MainPID uint32
	// NRestarts counts automatic restarts (Restart=on-failure).
	NRestarts uint32
	// ExecMainCode and ExecMainStatus say how the last main process ended:
	// code 1 (exited) with its exit status, 2 (killed) or 3 (dumped core)
	// with the signal number; 0 while none has ended.
	ExecMainCode   int32
	ExecMainStatus int32
	// ActiveSince is when the unit last became active; zero if never.
	ActiveSince time.Time
	// StopTimeout is the unit's TimeoutStopSec (for a worker: drain timeout
	// plus grace plus a margin).
	StopTimeout time.Duration
	// NeedDaemonReload: the unit's files changed since systemd loaded them.
	NeedDaemonReload bool
	// HasExecStop: the unit runs a stop command (a worker's drain helper).
	HasExecStop bool
}

// status is the part of a State that errors carry.
func (s State) status() UnitStatus {
	return UnitStatus{ActiveState: s.ActiveState, SubState: s.SubState, Result: s.Result,
		ExecMainCode: s.ExecMainCode, ExecMainStatus: s.ExecMainStatus}
}

// Active reports whether the unit is active (running).
func (s State) Active() bool { return s.ActiveState == "active" }

// running reports whether a stop would have something to stop.
func (s State) running() bool {
	switch s.ActiveState {
	case "active", "activating", "deactivating", "reloading":
		return true
	}
	return false
}

// State reads the unit's state. A unit systemd cannot find gives a
// *UnitNotFoundError.
func (m *Manager) State(ctx context.Context, name string) (State, error) {
	if err := checkUnitName("unit name", name); err != nil {
		return State{}, err
	}
	return m.state(ctx, "state", name)
}

func (m *Manager) state(ctx context.Context, op, name string) (State, error) {
	u, err := m.conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return State{}, m.busError(ctx, op, name, err)
	}
	st := State{
		Unit:        name,
		LoadState:   prop[string](u, "LoadState"),
		ActiveState: prop[string](u, "ActiveState"),
		SubState:    prop[string](u, "SubState"),
		// A unit file written but not yet loaded also needs a reload.
		NeedDaemonReload: prop[bool](u, "NeedDaemonReload"),
	}
	if st.LoadState == "not-found" {
		return st, &UnitNotFoundError{Unit: name, Op: op}
	}
	if usec := prop[uint64](u, "ActiveEnterTimestamp"); usec > 0 {
		st.ActiveSince = time.UnixMicro(int64(usec))
	}
	s, err := m.conn.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return st, m.busError(ctx, op, name, err)
	}
	st.Result = prop[string](s, "Result")
	st.MainPID = prop[uint32](s, "MainPID")
	st.NRestarts = prop[uint32](s, "NRestarts")
	st.ExecMainCode = prop[int32](s, "ExecMainCode")
	st.ExecMainStatus = prop[int32](s, "ExecMainStatus")
	st.HasExecStop = len(prop[[][]any](s, "ExecStop")) > 0
	st.StopTimeout = time.Duration(prop[uint64](s, "TimeoutStopUSec")) * time.Microsecond
	return st, nil
}

// prop reads one property, zero when absent or of another type (older
// systemd versions lack some properties).
func prop[T any](props map[string]any, key string) T {
	v, _ := props[key].(T)
	return v
}

// isNoSuchUnit reports whether systemd answered that it has no such unit.
func isNoSuchUnit(err error) bool {
	const noSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
	var val godbus.Error
	if errors.As(err, &val) {
		return val.Name == noSuchUnit
	}
	var ptr *godbus.Error
	return errors.As(err, &ptr) && ptr.Name == noSuchUnit
}

// isNotFound reports whether err says systemd has no such unit.
func isNotFound(err error) bool {
	var nf *UnitNotFoundError
	return errors.As(err, &nf)
}
