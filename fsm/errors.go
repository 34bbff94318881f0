package fsm

import (
	"fmt"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// The errors of this package say what happened; the charm turns them into
// advice for the operator.

// InvalidEventError says a machine's table does not allow Event in State.
// Nothing was changed.
type InvalidEventError struct {
	Machine string
	State   string
	Event   string
	// Allowed lists the events the table accepts in State, sorted.
	Allowed []string
}

func (e *InvalidEventError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	return fmt.Sprintf("%s machine: %s is not allowed in %s (allowed: %s); nothing was changed", e.Machine, e.Event, e.State, allowed)
}

// AllowedActions lists the operator actions that fire one of the allowed
// events, for advice.
func (e *InvalidEventError) AllowedActions() []string {
	var actions []string
	for _, tr := range UpgradeTable().Transitions {
		if tr.Action == "" || !containsString(e.Allowed, tr.Event) || containsString(actions, tr.Action) {
			continue
		}
		for _, from := range tr.From {
			if from == e.State {
				actions = append(actions, tr.Action)
				break
			}
		}
	}
	return actions
}

// SameVersionError says the requested target already is the settled release.
type SameVersionError struct {
	Version version.Version
}

func (e *SameVersionError) Error() string {
	return fmt.Sprintf("Concourse %s is already the settled release", e.Version)
}

// AlreadyError says an operator request asks for what the record already
// is: an upgrade to the target under way, a second abort, retry or
// rollback. Nothing was changed, and that is not a failure.
type AlreadyError struct {
	What string // e.g. "upgrading to 7.14.4", "aborted"
}

func (e *AlreadyError) Error() string { return "already " + e.What + "; nothing was changed" }

// NoReleaseError says there is no settled release to upgrade from yet.
type NoReleaseError struct{}

func (e *NoReleaseError) Error() string {
	return "no Concourse release is settled yet, so there is nothing to upgrade from"
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

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
