package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// The charm's own environment variables. Production leaves them unset and
// gets the defaults; a local harness (the demo, the tests) points dispatch
// at a private systemd and a scratch state directory with them. README.md
// lists them.
const (
	// EnvSystemdSocket is the path of systemd's private D-Bus socket
	// (systemd's own, no bus daemon): /run/systemd/private by default. A
	// D-Bus address (it has "=": unix:path=...) is refused: the charm
	// speaks to systemd directly, never through a bus daemon.
	EnvSystemdSocket = "CONCOURSE_CHARM_SYSTEMD_SOCKET"
	// EnvSystemdRoot is systemd's root directory as this process sees it
	// ("/" by default; /proc/<pid>/root for a systemd in other
	// namespaces): unit files and paths systemd reports are read under it.
	EnvSystemdRoot = "CONCOURSE_CHARM_SYSTEMD_ROOT"
	// EnvUnitDir is where unit files go, as systemd sees the path
	// (/etc/systemd/system by default).
	EnvUnitDir = "CONCOURSE_CHARM_UNIT_DIR"
	// EnvStateDir holds each unit's machine-local state, environment
	// files included (/var/lib/concourse-ci-machine by default).
	EnvStateDir = "CONCOURSE_CHARM_STATE_DIR"
)

// DefaultStateDir is where units keep machine-local state.
const DefaultStateDir = "/var/lib/concourse-ci-machine"

// runDispatch is the charm's dispatch: Juju runs this binary for every hook
// and action with JUJU_DISPATCH_PATH set. A non-zero exit makes Juju drop
// the hook's relation writes and retry it.
func runDispatch(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	hc, err := relation.ParseContext(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "concourse-ci-machine: %v\n", err)
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "concourse-ci-machine: find this program: %v\n", err)
		return 1
	}
	stateBase := orEnv(getenv, EnvStateDir, DefaultStateDir)
	socket := orEnv(getenv, EnvSystemdSocket, services.SystemdPrivateSocket)
	if strings.Contains(socket, "=") || !filepath.IsAbs(socket) {
		fmt.Fprintf(stderr, "concourse-ci-machine: %s=%q: give the absolute path of systemd's private socket (e.g. %s), not a D-Bus address: the charm speaks to systemd without a bus daemon\n",
			EnvSystemdSocket, socket, services.SystemdPrivateSocket)
		return 1
	}
	systemd := &lazySystemd{cfg: services.Config{
		Endpoint: services.PrivateSocket(socket),
		Root:     getenv(EnvSystemdRoot),
		UnitDir:  getenv(EnvUnitDir),
	}}
	defer systemd.close()
	deps := charm.Deps{
		Juju:     relation.Exec{},
		Services: systemd,
		OpenVolume: func(root string) (charm.Volume, error) {
			return charm.OpenVolume(root, charm.VolumeOptions{})
		},
		StateDir: filepath.Join(stateBase, hc.Unit.Slug()),
		Clock:    time.Now,
		Binary:   self,
		Environ:  getenv,
		// Every unit of the charm on this machine keeps its state under
		// stateBase: the charm finds the others there.
		Host: charm.Host{StateBase: stateBase},
	}
	if err := charm.Run(ctx, hc, deps); err != nil {
		fmt.Fprintf(stderr, "concourse-ci-machine: %s on %s: %v\n", hc.DispatchPath, hc.Unit, err)
		return 1
	}
	return 0
}

func orEnv(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// lazySystemd connects to systemd on first use, so a hook that needs no
// service (an unknown hook, a unit at rest) costs no D-Bus connection.
type lazySystemd struct {
	cfg  services.Config
	once sync.Once
	sd   charm.Systemd
	err  error
}

func (l *lazySystemd) get(ctx context.Context) (charm.Systemd, error) {
	l.once.Do(func() {
		m, err := services.Connect(ctx, l.cfg)
		l.sd, l.err = charm.Systemd{M: m}, err
	})
	return l.sd, l.err
}

func (l *lazySystemd) close() {
	if l.sd.M != nil {
		l.sd.M.Close()
	}
}

func (l *lazySystemd) Install(ctx context.Context, u charm.Unit) (bool, error) {
	sd, err := l.get(ctx)
	if err != nil {
		return false, err
	}
	return sd.Install(ctx, u)
}

func (l *lazySystemd) Start(ctx context.Context, name string) error {
	sd, err := l.get(ctx)
	if err != nil {
		return err
	}
	return sd.Start(ctx, name)
}

func (l *lazySystemd) Restart(ctx context.Context, name string) error {
	sd, err := l.get(ctx)
	if err != nil {
		return err
	}
	return sd.Restart(ctx, name)
}

func (l *lazySystemd) Stop(ctx context.Context, name string) (services.Outcome, error) {
	sd, err := l.get(ctx)
	if err != nil {
		return services.NotRunning, err
	}
	return sd.Stop(ctx, name)
}

func (l *lazySystemd) Retire(ctx context.Context, name string, offline []string) (services.Outcome, error) {
	sd, err := l.get(ctx)
	if err != nil {
		return services.NotRunning, err
	}
	return sd.Retire(ctx, name, offline)
}

func (l *lazySystemd) SetEnabled(ctx context.Context, name string, enabled bool) error {
	sd, err := l.get(ctx)
	if err != nil {
		return err
	}
	return sd.SetEnabled(ctx, name, enabled)
}

func (l *lazySystemd) State(ctx context.Context, name string) (charm.ServiceState, error) {
	sd, err := l.get(ctx)
	if err != nil {
		return charm.ServiceState{}, err
	}
	return sd.State(ctx, name)
}

func (l *lazySystemd) Uninstall(ctx context.Context, name string) error {
	sd, err := l.get(ctx)
	if err != nil {
		return err
	}
	return sd.Uninstall(ctx, name)
}
