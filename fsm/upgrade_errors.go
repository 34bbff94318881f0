package fsm

import (
	"errors"
	"fmt"
	"strings"
	"time"

	lfsm "github.com/looplab/fsm"
)

// InvalidTransitionError says the upgrade table does not allow Event in
// State. Nothing was changed.
type InvalidTransitionError struct {
	State string
	Event string
	// Allowed lists the events the table accepts in State, sorted.
	Allowed []string
}

func (e *InvalidTransitionError) Error() string {
	var actions []string
	for _, event := range e.Allowed {
		if action, ok := operatorAction(event); ok {
			actions = append(actions, action)
		}
	}
	next := "no action applies in this phase: it moves on by itself, see `juju status`"
	if len(actions) > 0 {
		next = "what you can run now: juju run APP/leader " + strings.Join(actions, ", or juju run APP/leader ")
	}
	return fmt.Sprintf("upgrade: %s is not allowed in phase %s; nothing was changed; %s", e.Event, e.State, next)
}

// operatorAction names the charm action that fires event; the events it
// does not know are taken by hooks on their own.
func operatorAction(event string) (string, bool) {
	switch event {
	case UpgradeInitiate:
		return ActionUpgrade + " version=V", true
	case UpgradeRetry:
		return ActionUpgradeRetry, true
	case UpgradeRollback:
		return ActionUpgradeRollback, true
	case UpgradeAbort:
		return ActionUpgradeAbort, true
	}
	return "", false
}

// SameVersionError says the requested target already is the settled release.
type SameVersionError struct {
	Version string
}

func (e *SameVersionError) Error() string {
	return fmt.Sprintf("Concourse %s is already the running release: nothing to upgrade", e.Version)
}

// NoReleaseError says there is no installed release to upgrade from.
type NoReleaseError struct{}

func (e *NoReleaseError) Error() string {
	return "no Concourse release is installed yet, so there is nothing to upgrade from: wait until `juju status` shows the install finished, then run the upgrade action again"
}

// StaleGenerationError says a result arrived for a generation the record has
// moved past. Nothing was changed.
type StaleGenerationError struct {
	Event  string
	Record uint64
	Got    uint64
}

func (e *StaleGenerationError) Error() string {
	return fmt.Sprintf("upgrade: %s for generation %d ignored: the record is at generation %d; nothing was changed", e.Event, e.Got, e.Record)
}

// InvalidRequestError says an operator request carries a bad value.
type InvalidRequestError struct {
	Field  string
	Value  string
	Reason string
}

func (e *InvalidRequestError) Error() string {
	return fmt.Sprintf("upgrade request: %s=%q: %s", e.Field, e.Value, e.Reason)
}

// ErrNoUnits says the leader was given no units to count; it must count at
// least itself.
var ErrNoUnits = errors.New("upgrade: no units to wait for; the leader must pass at least its own unit")

// fireUpgrade takes event from phase through looplab/fsm, built from the
// table, and returns the phase it lands in. A self-transition is a success.
func fireUpgrade(phase Phase, event string) (Phase, error) {
	t := UpgradeTable()
	if _, known := t.State(phase.String()); !known {
		return phase, &InvalidTransitionError{State: phase.String(), Event: event}
	}
	machine := lfsm.NewFSM(phase.String(), t.Events(), nil)
	// No callbacks are registered, so none can be missed.
	switch refused, err := fire(machine, event); {
	case refused:
		return phase, &InvalidTransitionError{State: phase.String(), Event: event, Allowed: t.Allowed(phase.String())}
	case err != nil:
		return phase, fmt.Errorf("upgrade: %s in phase %s: %w", event, phase, err)
	}
	next, ok := ParsePhase(machine.Current())
	if !ok {
		return phase, fmt.Errorf("upgrade: table leads to undeclared phase %q", machine.Current())
	}
	return next, nil
}

// stamp is how the record keeps times: UTC, whole seconds, no monotonic
// reading, so it survives the codec unchanged.
func stamp(now time.Time) time.Time {
	return now.UTC().Truncate(time.Second)
}
