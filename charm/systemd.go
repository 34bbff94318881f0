package charm

import (
	"context"
	"errors"

	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// Systemd is the production Services: the machine's systemd over D-Bus.
type Systemd struct {
	M *services.Manager
}

var _ Services = Systemd{}

// Install writes the environment file (0600) and then the unit file, so a
// started unit never reads a stale environment.
func (s Systemd) Install(ctx context.Context, u Unit) (bool, error) {
	envChanged := false
	if u.EnvPath != "" {
		var err error
		if envChanged, err = services.WriteEnvironmentFile(u.EnvPath, u.Env); err != nil {
			return false, err
		}
	}
	unitChanged, err := s.M.Install(ctx, services.UnitFile{Name: u.Name, Content: u.File})
	return envChanged || unitChanged, err
}

// Start starts the unit.
func (s Systemd) Start(ctx context.Context, name string) error { return s.M.Start(ctx, name) }

// Restart stops (a worker drains) and starts the unit.
func (s Systemd) Restart(ctx context.Context, name string) error {
	_, err := s.M.Restart(ctx, name)
	return err
}

// Stop stops the unit and says how its drain ended.
func (s Systemd) Stop(ctx context.Context, name string) (services.Outcome, error) {
	r, err := s.M.Stop(ctx, name)
	return r.Outcome, err
}

// Retire stops a worker for good.
func (s Systemd) Retire(ctx context.Context, name string, offline []string) (services.Outcome, error) {
	r, err := s.M.Retire(ctx, name, offline)
	return r.Outcome, err
}

// SetEnabled enables or disables the unit at boot.
func (s Systemd) SetEnabled(ctx context.Context, name string, enabled bool) error {
	var err error
	if enabled {
		_, err = s.M.Enable(ctx, name)
	} else {
		_, err = s.M.Disable(ctx, name)
	}
	return err
}

// State reads whether the unit is installed and running.
func (s Systemd) State(ctx context.Context, name string) (ServiceState, error) {
	st, err := s.M.State(ctx, name)
	var missing *services.UnitNotFoundError
	if errors.As(err, &missing) {
		return ServiceState{}, nil
	}
	if err != nil {
		return ServiceState{}, err
	}
	return ServiceState{Installed: st.LoadState != "not-found", Active: st.Active()}, nil
}

// Uninstall removes the unit (stopped first by the caller).
func (s Systemd) Uninstall(ctx context.Context, name string) error {
	_, err := s.M.Uninstall(ctx, name)
	return err
}
