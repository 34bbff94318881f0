package charm

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
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
	return append([]advice{
		{"ConfigError/pass-through", func(err error) bool {
			e := unwrapAs[*ConfigError](err)
			return e != nil && e.Err != nil
		}, relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*ConfigError](err)
			return fmt.Sprintf("Fix juju config %s %s: %s", app, e.Option, passThroughProblem(e.Err))
		}},
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

		// Ghost workers and the worker's preconditions on its machine
		// (prune.go, preconditions.go). Pruning is best effort: its
		// lines are notes on an active status.
		// PruneError does not unwrap, so that no line above takes it for
		// its cause.
		{"PruneError/unreachable", pruneErrorOf[*concourse.UnreachableError](), relation.Active, func(err error, app string) string {
			return pruning(err) + ": web's API did not answer; retried on update-status"
		}},
		{"PruneError/login", pruneErrorOf[*concourse.LoginError](), relation.Active, func(err error, app string) string {
			return pruning(err) + ": web refused the admin's login; prune it with fly"
		}},
		{"PruneError", as[*PruneError](), relation.Active, func(err error, app string) string {
			return pruning(err) + ": " + unwrapAs[*PruneError](err).Err.Error()
		}},
		{"PruneGaveUpError", as[*PruneGaveUpError](), relation.Active, func(err error, app string) string {
			e := unwrapAs[*PruneGaveUpError](err)
			return fmt.Sprintf("gave up pruning worker %s after %s (%s): prune it with fly once it stalls", e.Worker, shortDuration(e.After), e.lastState())
		}},
		{"NoNestingError", as[*NoNestingError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*NoNestingError](err)
			name := e.Container
			if name == "" {
				name = "CONTAINER"
			}
			fix := fmt.Sprintf("Worker needs LXD nesting: lxc config set %s security.nesting=true; restart it", name)
			return firstThatFits(fix+" (or the charm's lxd-profile)", fix)
		}},
		{"SharedContainerdError", as[*SharedContainerdError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*SharedContainerdError](err)
			fix := fmt.Sprintf("juju config %s worker-runtime=houdini (or guardian), or one unit per machine", app)
			return firstThatFits(fmt.Sprintf("containerd is taken by %s: %s", e.Other, fix), "containerd is taken here: "+fix)
		}},
	}, wiringAdvice()...)
}

// pruneErrorOf matches a *PruneError whose cause is a T.
func pruneErrorOf[T error]() func(error) bool {
	return func(err error) bool {
		var target T
		e := unwrapAs[*PruneError](err)
		return e != nil && errors.As(e.Err, &target)
	}
}

// firstThatFits is the first line that fits `juju status` whole (the last
// one, cut, when none does).
func firstThatFits(lines ...string) string {
	for _, l := range lines {
		if len(l) <= relation.MaxStatusLen {
			return l
		}
	}
	return lines[len(lines)-1]
}

// shortDuration drops a duration's zero seconds: "1h10m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		return strings.TrimSuffix(s, "0s")
	}
	return s
}

// pruning starts a PruneError's line: which workers are pending.
func pruning(err error) string {
	workers := unwrapAs[*PruneError](err).Workers
	if len(workers) == 1 {
		return "pruning stalled worker " + workers[0]
	}
	return "pruning stalled workers " + strings.Join(workers, ", ")
}

// wiringAdvice explains what keeps web or a worker from running: the
// database, the TSA, the keys, the settings Concourse is given.
func wiringAdvice() []advice {
	return []advice{
		{"PostgresMissingError", as[*PostgresMissingError](), relation.Blocked, func(err error, app string) string {
			return fmt.Sprintf("waiting for PostgreSQL: juju integrate %s postgresql", app)
		}},
		{"PostgresPendingError", as[*relation.PostgresPendingError](), relation.Waiting, func(err error, app string) string {
			e := unwrapAs[*relation.PostgresPendingError](err)
			return fmt.Sprintf("Waiting for PostgreSQL (%s) to send %s", e.Remote, strings.Join(e.Missing, ", "))
		}},
		{"PostgresUnusableError", as[*relation.PostgresUnusableError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*relation.PostgresUnusableError](err)
			what := e.Err.Error()
			if d := unwrapAs[*concourse.PostgresDataError](err); d != nil {
				what = d.Field + ": " + d.Reason
			}
			return fmt.Sprintf("Web stopped: PostgreSQL (%s) sent unusable %s", e.Remote, what)
		}},
		{"NoTSAError/worker", func(err error) bool {
			e := unwrapAs[*NoTSAError](err)
			return e != nil && e.Mode == ModeWorker && e.Web == ""
		}, relation.Blocked, func(err error, app string) string {
			return fmt.Sprintf("waiting for web: juju integrate %s:web-tsa <web application>:tsa", app)
		}},
		{"NoTSAError", as[*NoTSAError](), relation.Waiting, func(err error, app string) string {
			return "Waiting for web: " + err.Error()
		}},
		{"TSADataError", as[*relation.TSADataError](), relation.Blocked, func(err error, app string) string {
			return "Worker not started: " + unwrapAs[*relation.TSADataError](err).Error()
		}},
		{"NetworkWorkDirError", as[*NetworkWorkDirError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*NetworkWorkDirError](err)
			return fmt.Sprintf("Worker dir on %s: juju config %s baggageclaim-driver=naive, or give workers a local volume", e.Filesystem, app)
		}},
		{"PartialKeySetError", as[*concourse.PartialKeySetError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*concourse.PartialKeySetError](err)
			return fmt.Sprintf("Keys in %s lack %s: restore them, or move the directory aside for new keys", e.Dir, strings.Join(e.Missing, ", "))
		}},
		{"CorruptKeyError", as[*concourse.CorruptKeyError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*concourse.CorruptKeyError](err)
			return fmt.Sprintf("Key file %s %s: restore it, or move its directory aside for new keys", e.Path, e.Reason)
		}},
		{"PortRangeError", as[*concourse.PortRangeError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*concourse.PortRangeError](err)
			return fmt.Sprintf("Unit number %d puts %s at %d: lower juju config %s web-port", e.Unit, e.Setting, e.Port, app)
		}},
		{"RuntimeConflictError", as[*concourse.RuntimeConflictError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*concourse.RuntimeConflictError](err)
			return fmt.Sprintf("Fix juju config %s worker-environment: runtime %s refuses %s", app, e.Runtime, e.Key)
		}},
		{"ManagedSettingError", as[*concourse.ManagedSettingError](), relation.Blocked, func(err error, app string) string {
			e := unwrapAs[*concourse.ManagedSettingError](err)
			return fmt.Sprintf("Fix juju config %s %s-environment: %s", app, e.Role, passThroughProblem(e))
		}},
		{"MissingSettingError/external-url", func(err error) bool {
			e := unwrapAs[*concourse.MissingSettingError](err)
			return e != nil && e.Key == "CONCOURSE_EXTERNAL_URL"
		}, relation.Blocked, func(err error, app string) string {
			return fmt.Sprintf("Web has no address to be reached at: juju config %s external-url=https://...", app)
		}},
		{"InvalidSettingError/tags", func(err error) bool {
			e := unwrapAs[*concourse.InvalidSettingError](err)
			return e != nil && e.Key == "CONCOURSE_TAG"
		}, relation.Blocked, func(err error, app string) string {
			return fmt.Sprintf("%s: juju config %s worker-tags=...", unwrapAs[*concourse.InvalidSettingError](err), app)
		}},
		// The charm fills every other setting itself: one it cannot fill,
		// or fills wrong, is the charm's fault, and the message says which.
		{"MissingSettingError", as[*concourse.MissingSettingError](), relation.Blocked, func(err error, app string) string {
			return err.Error()
		}},
		{"InvalidSettingError", as[*concourse.InvalidSettingError](), relation.Blocked, func(err error, app string) string {
			return err.Error()
		}},
		{"InvalidChoiceError", as[*concourse.InvalidChoiceError](), relation.Blocked, func(err error, app string) string {
			return err.Error()
		}},
		{"UnknownSettingError", as[*concourse.UnknownSettingError](), relation.Blocked, func(err error, app string) string {
			return err.Error()
		}},
	}
}

// passThroughProblem says briefly what is wrong with a web-environment or
// worker-environment line; never its value.
func passThroughProblem(err error) string {
	if e := unwrapAs[*concourse.ManagedSettingError](err); e != nil {
		return "drop " + e.Key + ", the charm sets it"
	}
	if e := unwrapAs[*concourse.ExtraEnvError](err); e != nil {
		if e.Key == "" {
			return fmt.Sprintf("line %d %s", e.Line, e.Reason)
		}
		return fmt.Sprintf("line %d (%s) %s", e.Line, e.Key, e.Reason)
	}
	return err.Error()
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
