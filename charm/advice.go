package charm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// This file is the one place where errors become advice for operators. The
// lower rooms return typed errors that say what happened; each kind has its
// line here, with the command to run where there is one. advice_test.go
// checks every kind against its line.

// advice is one kind of error and how to tell the operator about it.
type advice struct {
	// kind is the error kind's name, for the table test.
	kind string
	// match reports whether err is of this kind.
	match func(err error) bool
	state relation.StatusState
	// line says what happened and what to do, for the app named app.
	line func(err error, app string) string
}

// as builds a matcher for a typed error.
func as[T error]() func(error) bool {
	return func(err error) bool {
		var target T
		return errors.As(err, &target)
	}
}

// unwrapAs returns err's first error of type T.
func unwrapAs[T error](err error) T {
	var target T
	errors.As(err, &target)
	return target
}

// adviceTable lists every error kind the charm explains, most specific
// first.
func adviceTable() []advice {
	return []advice{
		{"ConfigError", as[*ConfigError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*ConfigError](err)
			return fmt.Sprintf("%s; fix it: juju config %s %s=...", e.Error(), app, e.Option)
		}},
		{"NoStorageError", as[*NoStorageError](), relation.Blocked, func(err error, app string) string {
			return fmt.Sprintf("No %s storage: juju add-storage %s/N %s (mount the shared filesystem there)", StorageName, app, StorageName)
		}},
		{"DecodeError/newer", func(err error) bool {
			de := unwrapAs[*fsm.DecodeError](err)
			return de != nil && de.Kind == fsm.DecodeNewer
		}, relation.Blocked, func(err error, app string) string {
			return fmt.Sprintf("%s; a newer charm wrote it: juju refresh %s to that revision", err, app)
		}},
		{"DecodeError/malformed", as[*fsm.DecodeError](), relation.Blocked, func(err error, app string) string {
			de := unwrapAs[*fsm.DecodeError](err)
			return fmt.Sprintf("%s; put key %s back as the charm wrote it (juju exec on the owner: relation-set)", err, de.Key)
		}},
		{"NotLeaderError", as[*NotLeaderError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*NotLeaderError](err)
			return fmt.Sprintf("%s: juju run %s/leader %s", err, app, e.Action)
		}},
		{"InvalidEventError", as[*fsm.InvalidEventError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*fsm.InvalidEventError](err)
			actions := e.AllowedActions()
			if len(actions) == 0 {
				return fmt.Sprintf("%s is not possible in phase %s; it moves on by itself: watch juju status %s", eventAction(e.Event), e.State, app)
			}
			runs := make([]string, len(actions))
			for i, a := range actions {
				runs[i] = fmt.Sprintf("juju run %s/leader %s", app, a)
			}
			return fmt.Sprintf("%s is not possible in phase %s; possible now: %s", eventAction(e.Event), e.State, strings.Join(runs, " or "))
		}},
		{"SameVersionError", as[*fsm.SameVersionError](), relation.Active, func(err error, app string) string {
			return err.Error() + ": nothing to do"
		}},
		{"NoReleaseError", as[*fsm.NoReleaseError](), relation.Waiting, func(err error, app string) string {
			return err.Error() + fmt.Sprintf(": wait until juju status %s shows it installed", app)
		}},
		{"InvalidRequestError", as[*fsm.InvalidRequestError](), relation.Blocked, func(err error, app string) string {
			return err.Error()
		}},
		{"ParamError", as[*ParamError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*ParamError](err)
			return fmt.Sprintf("%s; e.g. juju run %s/leader upgrade %s=7.14.3", err, app, e.Param)
		}},
		{"ReleaseNotReadyError", as[*ReleaseNotReadyError](), relation.Waiting, func(err error, app string) string {
			return err.Error() + "; it is downloaded on this unit's next hook"
		}},
		{"StageError", as[*StageError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*StageError](err)
			return fmt.Sprintf("Cannot get Concourse %s ready: %s", e.Version, stageAdvice(e.Err, app))
		}},
		{"NotReadyError", as[*NotReadyError](), relation.Waiting, func(err error, app string) string {
			return err.Error()
		}},
		{"ToolError", as[*relation.ToolError](), relation.Blocked, func(err error, app string) string {
			return "A Juju hook tool failed: " + err.Error()
		}},
	}
}

// eventAction names the operator's request behind an event.
func eventAction(event string) string {
	for _, tr := range fsm.UpgradeTable().Transitions {
		if tr.Event == event && tr.Action != "" {
			return tr.Action
		}
	}
	return event
}

// stageAdvice explains why a release could not be made ready.
func stageAdvice(err error, app string) string {
	return err.Error()
}

// adviceFor finds err's kind.
func adviceFor(err error) (advice, bool) {
	for _, a := range adviceTable() {
		if a.match(err) {
			return a, true
		}
	}
	return advice{}, false
}

// adviceLine is the one operator line for err, cut to fit `juju status`.
func (h *hook) adviceLine(err error) string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		if errs := joined.Unwrap(); len(errs) > 0 && len(errs) < 10 {
			if _, ok := adviceFor(err); !ok || errors.Is(errs[0], err) {
				err = errs[0]
			}
		}
	}
	if a, ok := adviceFor(err); ok {
		return fit(a.line(err, h.app))
	}
	return fit(err.Error())
}

// adviceState is the status level for err.
func adviceState(err error) relation.StatusState {
	if a, ok := adviceFor(err); ok {
		return a.state
	}
	return relation.Blocked
}

// describe is a short form of err for waiting lines and notes.
func describe(err error) string {
	return err.Error()
}
