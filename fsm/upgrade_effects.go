package fsm

import (
	"context"
	"fmt"
)

// EffectKind names one thing the upgrade asks the charm to do to systemd
// units or the volume.
type EffectKind string

// Effect kinds. Every one is idempotent: asking twice for the same result
// changes nothing the second time.
const (
	// StageRelease unpacks releases/<version> on the volume, downloading it
	// if absent, without touching `current` or any service.
	StageRelease EffectKind = "stage-release"
	// StopWorker drains this unit's worker (running builds finish) and then
	// stops concourse-worker.service.
	StopWorker EffectKind = "stop-worker"
	// SwitchRelease points `current` at releases/<version>, fetching it first
	// if it is not there, and verifies `concourse --version`.
	SwitchRelease EffectKind = "switch-release"
	// StartWorker starts concourse-worker.service on releases/<version>.
	StartWorker EffectKind = "start-worker"
	// RestartWeb restarts concourse-server.service on releases/<version>; a
	// unit without the web role does nothing.
	RestartWeb EffectKind = "restart-web"
)

// Effect is one side effect described as a value, so the charm can execute
// it and tests can assert it.
type Effect struct {
	Kind EffectKind
	// Version is the release the effect is about; empty for StopWorker.
	Version string
}

func (e Effect) String() string {
	if e.Version == "" {
		return string(e.Kind)
	}
	return string(e.Kind) + " " + e.Version
}

// Effects is what the charm provides to carry effects out. Each method must
// be idempotent and must return only when its result is known.
type Effects interface {
	StageRelease(ctx context.Context, version string) error
	StopWorker(ctx context.Context) error
	SwitchRelease(ctx context.Context, version string) error
	StartWorker(ctx context.Context, version string) error
	RestartWeb(ctx context.Context, version string) error
}

// EffectError says which effect failed; the ones after it did not run.
type EffectError struct {
	Effect Effect
	Err    error
}

func (e *EffectError) Error() string { return fmt.Sprintf("%s: %v", e.Effect, e.Err) }

func (e *EffectError) Unwrap() error { return e.Err }

// Execute runs effects in order against target and stops at the first
// failure, which it returns as *EffectError. The caller then records the
// failure (UnitFailed, ConfirmSwitch) instead of the planned result.
func Execute(ctx context.Context, target Effects, effects []Effect) error {
	for _, e := range effects {
		if err := ctx.Err(); err != nil {
			return &EffectError{Effect: e, Err: err}
		}
		if err := runEffect(ctx, target, e); err != nil {
			return &EffectError{Effect: e, Err: err}
		}
	}
	return nil
}

func runEffect(ctx context.Context, target Effects, e Effect) error {
	switch e.Kind {
	case StageRelease:
		return target.StageRelease(ctx, e.Version)
	case StopWorker:
		return target.StopWorker(ctx)
	case SwitchRelease:
		return target.SwitchRelease(ctx, e.Version)
	case StartWorker:
		return target.StartWorker(ctx, e.Version)
	case RestartWeb:
		return target.RestartWeb(ctx, e.Version)
	}
	return fmt.Errorf("unknown effect kind %q: this charm build does not know how to carry it out", e.Kind)
}
