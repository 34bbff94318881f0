package services

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// Defaults for Config fields left zero.
const (
	// DefaultUnitDir is where the system manager reads administrator units.
	DefaultUnitDir = "/etc/systemd/system"
	// DefaultJobTimeout bounds a start job (and is added to a unit's own
	// stop timeout for stop and restart jobs).
	DefaultJobTimeout = 90 * time.Second
	// DefaultStartSettle is how long a started service must stay up before
	// Start calls it a success: Concourse exits within a second or two on a
	// bad flag, an unreachable database or a missing key.
	DefaultStartSettle = 3 * time.Second
	// DefaultLogTailLines is how many log lines a JobError carries.
	DefaultLogTailLines = 20
)

// Config says which systemd to drive and how.
type Config struct {
	// Endpoint is where systemd answers; zero means SystemManager().
	Endpoint Endpoint
	// UnitDir receives unit files; it must be on the manager's unit search
	// path. Zero means DefaultUnitDir.
	UnitDir string
	// EnableRuntime enables units under /run only (lost at reboot) instead
	// of persistently.
	EnableRuntime bool
	// JobTimeout bounds waiting for a job; zero means DefaultJobTimeout.
	JobTimeout time.Duration
	// StartSettle is how long a service must stay up after its start job
	// for Start/Restart to succeed; zero means DefaultStartSettle, a
	// negative value disables the check.
	StartSettle time.Duration
	// LogTailLines is how many log lines errors carry; zero means
	// DefaultLogTailLines.
	LogTailLines int
}

func (c Config) withDefaults() Config {
	if c.Endpoint.Address == "" {
		c.Endpoint = SystemManager()
	}
	if c.UnitDir == "" {
		c.UnitDir = DefaultUnitDir
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.StartSettle == 0 {
		c.StartSettle = DefaultStartSettle
	}
	if c.LogTailLines <= 0 {
		c.LogTailLines = DefaultLogTailLines
	}
	return c
}

// Manager drives systemd units over one D-Bus connection pair. It is safe
// for concurrent use.
type Manager struct {
	cfg  Config
	conn *sdbus.Conn
	// reloads counts daemon-reloads this Manager issued, so callers and
	// tests can see that unchanged units cause none.
	reloads atomic.Int64
}

// Connect opens a connection to systemd at cfg.Endpoint and checks that it
// answers. Close the Manager when done.
func Connect(ctx context.Context, cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	if !filepath.IsAbs(cfg.UnitDir) {
		return nil, &ValidationError{Field: "Config.UnitDir", Problem: fmt.Sprintf("%q is not an absolute path", cfg.UnitDir)}
	}
	conn, err := connect(cfg.Endpoint)
	if err != nil {
		return nil, &BusError{Address: cfg.Endpoint.Address, Op: "connect", Err: err}
	}
	m := &Manager{cfg: cfg, conn: conn}
	if _, err := conn.SystemStateContext(ctx); err != nil {
		conn.Close()
		return nil, &BusError{Address: cfg.Endpoint.Address, Op: "connect", Err: err}
	}
	return m, nil
}

// Close closes the D-Bus connections.
func (m *Manager) Close() { m.conn.Close() }

// DaemonReloads is how many daemon-reloads this Manager has issued.
func (m *Manager) DaemonReloads() int64 { return m.reloads.Load() }

// daemonReload is the only place that reloads systemd, so the count is true.
func (m *Manager) daemonReload(ctx context.Context) error {
	if err := m.conn.ReloadContext(ctx); err != nil {
		return m.busError("daemon-reload", err)
	}
	m.reloads.Add(1)
	return nil
}

// callError classifies an error from a D-Bus call about one unit: systemd's
// NoSuchUnit becomes *UnitNotFoundError, anything else goes to busError.
func (m *Manager) callError(op, name string, err error) error {
	if isNoSuchUnit(err) {
		return &UnitNotFoundError{Unit: name, Op: op}
	}
	return m.busError(op+" "+name, err)
}

// busError classifies an error from a D-Bus call: a lost connection or a
// cancelled call becomes a BusError, systemd's own error replies pass through
// (wrapped) for the caller to classify further.
func (m *Manager) busError(op string, err error) error {
	if !m.conn.Connected() {
		return &BusError{Address: m.cfg.Endpoint.Address, Op: op, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("services: %s: %w", op, err)
	}
	return fmt.Errorf("services: %s: systemd said: %w", op, err)
}
