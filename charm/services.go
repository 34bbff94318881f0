package charm

import (
	"context"
	"fmt"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// runServices makes the unit's systemd units match what the record wants:
// each role's service runs pinned to its release, or is stopped (a worker
// drained, stopped and disabled, so a reboot does not start it).
func (h *hook) runServices(ctx context.Context, want fsm.Want, staged bool) error {
	for _, role := range []Role{RoleWorker, RoleWeb} {
		name := unitName(role, h.hc.Unit)
		target := want.Worker
		if role == RoleWeb {
			target = want.Web
		}
		if !h.hasRole(role) {
			target = version.Version{}
			h.releaseRuntime(role)
		}
		if target.IsZero() {
			h.stopService(ctx, role, name)
			continue
		}
		if stop, err := h.roleHeld(role); err != nil {
			h.hold(err)
			if stop {
				h.releaseRuntime(role)
				h.stopService(ctx, role, name)
			}
			continue
		}
		if !h.vol.Staged(target) {
			h.problems = append(h.problems, &ReleaseNotReadyError{Version: target, Role: role})
			continue
		}
		h.ensureRunning(ctx, role, name, target)
	}
	return nil
}

// ReleaseNotReadyError says a service cannot start because its release is
// not on the unit's volume yet.
type ReleaseNotReadyError struct {
	Version version.Version
	Role    Role
}

func (e *ReleaseNotReadyError) Error() string {
	return fmt.Sprintf("cannot start %s on %s: the release is not on this unit's volume", e.Role, e.Version)
}

// ensureRunning installs the role's unit pinned to v and makes it run v.
func (h *hook) ensureRunning(ctx context.Context, role Role, name string, v version.Version) {
	if role == RoleWorker {
		h.local.WorkerRuntime = h.cfg.WorkerRuntime // before it starts: see containerdHolder
	}
	u, err := h.renderUnit(ctx, role, v)
	if err != nil {
		h.problems = append(h.problems, err)
		return
	}
	changed, err := h.d.Services.Install(ctx, u)
	if err != nil {
		h.problems = append(h.problems, fmt.Errorf("install %s: %w", name, err))
		return
	}
	previous := h.local.Installed[name]
	if changed {
		// A restart is owed until one is asked for, also when this hook
		// stops short of it: the next hook then sees no change in the file.
		delete(h.local.Installed, name)
	}
	if err := h.vol.UseRelease(ctx, h.self, v); err != nil {
		h.problems = append(h.problems, fmt.Errorf("record that %s uses %s: %w", name, v, err))
		return
	}
	st, err := h.d.Services.State(ctx, name)
	if err != nil {
		h.problems = append(h.problems, fmt.Errorf("read the state of %s: %w", name, err))
		return
	}
	h.local.Installed[name] = v // systemd finishes the job asked for below
	switch {
	case st.Active && (changed || previous != v):
		err = h.d.Services.Restart(ctx, name)
	case !st.Active:
		err = h.d.Services.Start(ctx, name)
	}
	if err != nil {
		h.problems = append(h.problems, fmt.Errorf("run %s on %s: %w", role, v, err))
		return
	}
	if err := h.d.Services.SetEnabled(ctx, name, true); err != nil {
		h.problems = append(h.problems, fmt.Errorf("enable %s: %w", name, err))
	}
	if role == RoleWorker {
		h.forgetPrune(h.hc.Unit) // it registered again
	}
}

// stopService stops a role's service if it runs and disables it.
func (h *hook) stopService(ctx context.Context, role Role, name string) {
	st, err := h.d.Services.State(ctx, name)
	if err != nil {
		h.problems = append(h.problems, fmt.Errorf("read the state of %s: %w", name, err))
		return
	}
	if !st.Installed {
		return
	}
	if st.Active {
		outcome, err := h.d.Services.Stop(ctx, name)
		if err != nil {
			h.problems = append(h.problems, fmt.Errorf("stop %s: %w", name, err))
			return
		}
		if role == RoleWorker {
			h.noteDrain(outcome)
		}
	}
	if err := h.d.Services.SetEnabled(ctx, name, false); err != nil {
		h.problems = append(h.problems, fmt.Errorf("disable %s: %w", name, err))
	}
}

// leave is this unit going away (stop, remove, storage detaching, the peer
// relation broken or this unit departing): its worker retires from the ATC
// and every service stops and is removed; the volume forgets its releases.
func (h *hook) leave(ctx context.Context) error {
	for _, role := range []Role{RoleWorker, RoleWeb} {
		name := unitName(role, h.hc.Unit)
		st, err := h.d.Services.State(ctx, name)
		if err != nil {
			return err
		}
		if !st.Installed {
			continue
		}
		if role == RoleWorker {
			outcome, err := h.d.Services.Retire(ctx, name, nil)
			if err != nil {
				return fmt.Errorf("retire %s: %w", name, err)
			}
			h.noteDrain(outcome)
		} else if st.Active {
			if _, err := h.d.Services.Stop(ctx, name); err != nil {
				return fmt.Errorf("stop %s: %w", name, err)
			}
		}
		if err := h.d.Services.Uninstall(ctx, name); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		delete(h.local.Installed, name)
		h.releaseRuntime(role)
	}
	h.openVolume(ctx)
	if h.vol != nil {
		if err := h.vol.UseRelease(ctx, h.self, version.Version{}); err != nil {
			return err
		}
	}
	h.notes = append(h.notes, "leaving: services stopped and removed")
	return nil
}

// noteDrain remembers how the worker's last stop ended and says so in the
// status when builds may have been cut short or the ATC did not hear of it.
// Then the ATC keeps the worker registered until it stalls: it is queued
// for pruning (see prune.go) unless it starts again first.
func (h *hook) noteDrain(outcome services.Outcome) {
	h.local.LastDrain = outcome.String()
	switch outcome {
	case services.NotHeard, services.Terminated, services.Killed:
		h.notes = append(h.notes, "the worker's last stop: "+outcome.String())
		h.queuePrune(h.hc.Unit)
	}
}

// releaseRuntime says this unit runs no worker any more (role dropped,
// refused, removed), so its runtime is free for the other units on its
// machine.
func (h *hook) releaseRuntime(role Role) {
	if role == RoleWorker {
		h.local.WorkerRuntime = ""
	}
}
