package services

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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
	// Root is systemd's root directory as this process sees it: "" (or "/")
	// in production; /proc/<pid>/root for a systemd in another mount
	// namespace (the tests'). Paths systemd reports or its processes use
	// (a unit's FragmentPath, DrainStateRoot) are read under it.
	Root string
	// UnitDir receives unit files; it must be on the manager's unit search
	// path. Zero means DefaultUnitDir under Root.
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
	// JournalCommand is the journalctl argv prefix LogTail runs for units
	// that log to the journal; zero means {"journalctl"}.
	JournalCommand []string
}

func (c Config) withDefaults() Config {
	if c.Endpoint.Address == "" {
		c.Endpoint = SystemManager()
	}
	if c.UnitDir == "" {
		c.UnitDir = filepath.Join("/", c.Root, DefaultUnitDir)
	}
	if len(c.JournalCommand) == 0 {
		c.JournalCommand = []string{"journalctl"}
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
	if cfg.Root != "" && !filepath.IsAbs(cfg.Root) {
		return nil, &ValidationError{Field: "Config.Root", Problem: fmt.Sprintf("%q is not an absolute path", cfg.Root)}
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

// rooted maps a path as systemd and its processes see it to this process's
// view (Config.Root).
func (m *Manager) rooted(path string) string { return filepath.Join("/", m.cfg.Root, path) }

// Close closes the D-Bus connections.
func (m *Manager) Close() { m.conn.Close() }

// DaemonReloads is how many daemon-reloads this Manager has issued.
func (m *Manager) DaemonReloads() int64 { return m.reloads.Load() }

// daemonReload is the only place that reloads systemd, so the count is true.
func (m *Manager) daemonReload(ctx context.Context) error {
	if err := m.conn.ReloadContext(ctx); err != nil {
		return m.busError(ctx, "daemon-reload", "", err)
	}
	m.reloads.Add(1)
	return nil
}

// callError classifies an error from a D-Bus call about one unit: systemd's
// NoSuchUnit becomes *UnitNotFoundError, anything else goes to busError.
func (m *Manager) callError(ctx context.Context, op, name string, err error) error {
	if isNoSuchUnit(err) {
		return &UnitNotFoundError{Unit: name, Op: op}
	}
	return m.busError(ctx, op, name, err)
}

// busError classifies an error from a D-Bus call: a lost connection
// becomes a *BusError, the caller's context ending a *CancelledError;
// systemd's own error replies pass through (wrapped).
func (m *Manager) busError(ctx context.Context, op, name string, err error) error {
	if !m.conn.Connected() {
		return &BusError{Address: m.cfg.Endpoint.Address, Op: strings.TrimSpace(op + " " + name), Err: err}
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return &CancelledError{Unit: name, Op: op, Err: ctx.Err()}
	}
	return fmt.Errorf("services: %s %s: systemd said: %w", op, name, err)
}
