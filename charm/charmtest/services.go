// Package charmtest runs the real charm on many units against the
// in-memory Juju of relation/jujutest, with real storage on temp dirs and an
// in-memory systemd that checks the upgrade's invariants at every start and
// stop. The multi-unit tests, the model checker and its soak use it; the
// shipped binary never links it.
package charmtest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// Machine is one machine's systemd, in memory: what is installed, running
// and enabled. Starting a unit asks the World whether the committed record
// allows it.
type Machine struct {
	unit  string // the charm unit on this machine
	world *World
	mu    sync.Mutex
	svcs  map[string]*service
	// Journal records every start and stop, for traces.
	Journal []string
	// registered is what the ATC knows of the workers this machine ran,
	// by worker name (CONCOURSE_NAME): running, landed, stalled, ...
	// (see ATC). A registration outlives the unit file.
	registered map[string]string
	// drainOutcome is how the next worker stops end (Drained unless a
	// test says otherwise).
	drainOutcome services.Outcome
}

type service struct {
	unit    charm.Unit // as last installed
	role    charm.Role
	release version.Version // what the unit file pins
	file    string
	enabled bool
	active  bool
	running version.Version // the release the running process was started on
}

var _ charm.Services = (*Machine)(nil)

func newMachine(w *World, unit string) *Machine {
	return &Machine{unit: unit, world: w, svcs: map[string]*service{}, registered: map[string]string{}, drainOutcome: services.Drained}
}

// Install records the unit file and the release it pins. It refuses a
// unit whose file does not name its environment file, as the production
// adapter would write it (services.WriteEnvironmentFile, mode 0600).
func (m *Machine) Install(ctx context.Context, u charm.Unit) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !filepath.IsAbs(u.EnvPath) || !strings.Contains(string(u.File), "\nEnvironmentFile="+u.EnvPath+"\n") {
		return false, fmt.Errorf("unit %s: its file does not name its environment file %q", u.Name, u.EnvPath)
	}
	if len(u.Env) == 0 {
		return false, fmt.Errorf("unit %s: empty environment", u.Name)
	}
	s := m.svcs[u.Name]
	if s == nil {
		s = &service{}
		m.svcs[u.Name] = s
	}
	file := string(u.File) + fmt.Sprint(u.Env)
	changed := s.file != file
	s.unit, s.role, s.release, s.file = u, u.Role, u.Release, file
	return changed, nil
}

// Installed is the unit the charm last installed for each role.
func (m *Machine) Installed() map[charm.Role]charm.Unit {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[charm.Role]charm.Unit{}
	for _, s := range m.svcs {
		out[s.role] = s.unit
	}
	return out
}

func (m *Machine) svc(name string) (*service, error) {
	s := m.svcs[name]
	if s == nil {
		return nil, fmt.Errorf("unit %s not found", name)
	}
	return s, nil
}

// Start starts the unit on the release its file pins, if it is not running.
func (m *Machine) Start(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.svc(name)
	if err != nil {
		return err
	}
	if s.active {
		return nil
	}
	m.start(name, s, "start")
	return nil
}

func (m *Machine) start(name string, s *service, why string) {
	s.active, s.running = true, s.release
	m.Journal = append(m.Journal, fmt.Sprintf("%s %s %s", why, name, s.release))
	if s.role == charm.RoleWorker {
		m.registered[workerName(s)] = concourse.WorkerRunning // it registers with the TSA
	}
	m.world.started(m.unit, s.role, s.release, why)
}

// workerName is the name a worker registers under.
func workerName(s *service) string { return s.unit.Env["CONCOURSE_NAME"] }

// drained records how a worker's drain ended in the ATC: retired, it is
// gone; landed, it stays registered; an ATC that did not hear the end
// (NotHeard, or cut short) shows it stalled once its heartbeats stop.
func (m *Machine) drained(s *service, retire bool) services.Outcome {
	name := workerName(s)
	switch {
	case m.drainOutcome != services.Drained:
		m.registered[name] = concourse.WorkerStalled
	case retire:
		delete(m.registered, name)
	default:
		m.registered[name] = concourse.WorkerLanded
	}
	return m.drainOutcome
}

// SetDrainOutcome makes the machine's next worker stops end as o
// (services.NotHeard, Terminated, Killed; Drained by default).
func (m *Machine) SetDrainOutcome(o services.Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drainOutcome = o
}

// Restart stops and starts the unit on what its file pins now.
func (m *Machine) Restart(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.svc(name)
	if err != nil {
		return err
	}
	if s.active {
		m.stop(name, s)
	}
	m.start(name, s, "restart")
	return nil
}

func (m *Machine) stop(name string, s *service) {
	s.active, s.running = false, version.Version{}
	m.Journal = append(m.Journal, "stop "+name)
}

// Stop stops the unit; a running worker lands (see SetDrainOutcome).
func (m *Machine) Stop(ctx context.Context, name string) (services.Outcome, error) {
	return m.drain(name, false)
}

// Retire stops the unit for good; a running worker retires.
func (m *Machine) Retire(ctx context.Context, name string, offline []string) (services.Outcome, error) {
	return m.drain(name, true)
}

func (m *Machine) drain(name string, retire bool) (services.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.svc(name)
	if err != nil {
		return services.NotRunning, err
	}
	if !s.active {
		return services.NotRunning, nil
	}
	m.stop(name, s)
	if s.role == charm.RoleWeb {
		return services.Stopped, nil
	}
	return m.drained(s, retire), nil
}

// SetEnabled records start at boot.
func (m *Machine) SetEnabled(ctx context.Context, name string, enabled bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.svc(name)
	if err != nil {
		return err
	}
	s.enabled = enabled
	return nil
}

// State says what is installed, running and enabled.
func (m *Machine) State(ctx context.Context, name string) (charm.ServiceState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.svcs[name]
	if s == nil {
		return charm.ServiceState{}, nil
	}
	return charm.ServiceState{Installed: true, Active: s.active}, nil
}

// Uninstall removes the unit; it must be stopped.
func (m *Machine) Uninstall(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.svcs[name]; s != nil && s.active {
		m.stop(name, s)
	}
	delete(m.svcs, name)
	return nil
}

// Reboot is the machine coming back: every enabled unit starts before any
// hook runs, and nothing else does.
func (m *Machine) Reboot() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, s := range m.svcs {
		if s.active && s.role == charm.RoleWorker {
			m.registered[workerName(s)] = concourse.WorkerStalled // killed with the machine
		}
		s.active, s.running = false, version.Version{}
		if s.enabled {
			m.start(name, s, "boot")
		}
	}
}

// Running is the release each active role runs (zero when stopped).
func (m *Machine) Running() map[charm.Role]version.Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[charm.Role]version.Version{}
	for _, s := range m.svcs {
		if s.active {
			out[s.role] = s.running
		}
	}
	return out
}
