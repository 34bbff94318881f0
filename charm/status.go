package charm

import (
	"context"
	"fmt"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// phaseStatus is what `juju status` shows while the upgrade record sits in
// a phase: the one place these lines are written. Capitalised words are
// filled in (see fill); docs/states.md shows the templates.
func phaseStatus(p fsm.Phase) (relation.StatusState, string) {
	switch p {
	case fsm.PhasePrepare:
		return relation.Maintenance, "Upgrade to TARGET: draining workers (WAITING). To give up: juju run APP/leader upgrade-abort"
	case fsm.PhaseDownloading:
		return relation.Maintenance, "Upgrade to TARGET: getting it ready on every unit, workers stopped (WAITING)"
	case fsm.PhaseComplete:
		return relation.Maintenance, "Upgrade to TARGET: starting every unit on it (WAITING)"
	case fsm.PhaseFailed:
		return relation.Blocked, "Upgrade to TARGET failed: ERROR. Run: juju run APP/leader upgrade-retry (or upgrade-rollback)"
	}
	return relation.Active, "Concourse VERSION. To upgrade: juju run APP/leader upgrade version=V"
}

// fill replaces the capitalised words of a status template and fits the
// line into Juju's 120 characters: the list of units is shortened first,
// then the error text, so that the command to run always survives.
func fill(template string, values map[string]string) string {
	line := template
	for _, word := range []string{"APP", "TARGET", "PREVIOUS", "VERSION"} {
		line = strings.ReplaceAll(line, word, values[word])
	}
	if strings.Contains(line, "ERROR") {
		room := relation.MaxStatusLen - (len(line) - len("ERROR"))
		errText := values["ERROR"]
		if len(errText) > room {
			errText = errText[:max(room-3, 0)] + "..."
		}
		line = strings.ReplaceAll(line, "ERROR", errText)
	}
	waiting := values["WAITING"]
	full := strings.ReplaceAll(line, "WAITING", waiting)
	if len(full) <= relation.MaxStatusLen || !strings.Contains(line, "WAITING") {
		return fit(full)
	}
	room := relation.MaxStatusLen - (len(line) - len("WAITING"))
	return fit(strings.ReplaceAll(line, "WAITING", shortenList(waiting, room)))
}

// shortenList keeps the first items of a ", "-separated list (after an
// optional "waiting for " prefix) that fit in room characters and says how
// many more there are; with no room for one, it counts them.
func shortenList(list string, room int) string {
	prefix := ""
	if rest, ok := strings.CutPrefix(list, "waiting for "); ok {
		prefix, list = "waiting for ", rest
	}
	items := strings.Split(list, ", ")
	for n := len(items); n > 0; n-- {
		s := prefix + strings.Join(items[:n], ", ")
		if n < len(items) {
			s += fmt.Sprintf(" +%d more", len(items)-n)
		}
		if len(s) <= room {
			return s
		}
	}
	if counted := fmt.Sprintf("%s%d units", prefix, len(items)); len(counted) <= room {
		return counted
	}
	return fmt.Sprintf("%d units", len(items))
}

// fit cuts a line to Juju's status width.
func fit(line string) string {
	if len(line) <= relation.MaxStatusLen {
		return line
	}
	return line[:relation.MaxStatusLen-3] + "..."
}

// upgradeLine is the record's status line, for the leader's application
// status and `upgrade-status`.
func (h *hook) upgradeLine(rec fsm.Record, acks map[string]fsm.Ack) string {
	_, template := phaseStatus(rec.Phase)
	waiting := fsm.Pending(rec, acks)
	list := make([]string, len(waiting))
	for i, w := range waiting {
		list[i] = w.String()
	}
	values := map[string]string{
		"APP": h.app, "TARGET": rec.TargetVersion.String(), "PREVIOUS": rec.PreviousVersion.String(),
		"VERSION": rec.Version.String(), "ERROR": rec.LastError, "WAITING": "waiting for " + strings.Join(list, ", "),
	}
	if len(list) == 0 {
		values["WAITING"] = "every unit is done"
	}
	switch {
	case rec.Phase == fsm.PhaseIdle && rec.Version.IsZero():
		return fmt.Sprintf("Installing Concourse %s", h.cfg.Version)
	case rec.Phase == fsm.PhaseIdle && (rec.Outcome == fsm.OutcomeAborted || rec.Outcome == fsm.OutcomeRolledBack):
		values["ERROR"] = rec.LastError
		return fill("Concourse VERSION; ERROR. Again: juju run APP/leader upgrade version=TARGET", values)
	}
	return fill(template, values)
}

// describePhase is a short description of a record for action results.
func describePhase(rec fsm.Record) string {
	switch rec.Phase {
	case fsm.PhaseIdle:
		if rec.Outcome != fsm.OutcomeNone {
			return fmt.Sprintf("idle on %s (%s)", rec.Version, rec.Outcome)
		}
		return "idle on " + rec.Version.String()
	case fsm.PhaseFailed:
		return fmt.Sprintf("upgrade to %s failed", rec.TargetVersion)
	}
	return fmt.Sprintf("upgrade to %s in %s", rec.TargetVersion, rec.Phase)
}

// setStatus sets the unit's status (and, on the leader, the application's)
// from what the hook saw and did: the first problem wins, then waits, then
// the upgrade phase, then the role and release.
func (h *hook) setStatus(ctx context.Context) error {
	unit := h.unitStatus()
	if err := h.d.Juju.StatusSet(ctx, unit); err != nil {
		return err
	}
	if !h.leader || h.peers == nil || h.peers.RecordErr != nil {
		return nil
	}
	rec := h.peers.Record
	state, _ := phaseStatus(rec.Phase)
	line := h.upgradeLine(rec, h.acks())
	if apart := h.unitsNotSharing(); apart != "" && rec.Phase == fsm.PhaseIdle {
		line = fit(line + "; own copy: " + apart)
	}
	if err := h.d.Juju.StatusSet(ctx, relation.Status{Application: true, State: state, Message: line}); err != nil {
		return err
	}
	if !rec.Version.IsZero() {
		return h.d.Juju.ApplicationVersionSet(ctx, rec.Version.String())
	}
	return nil
}

func (h *hook) unitStatus() relation.Status {
	switch {
	case h.cfgErr != nil:
		return relation.Status{State: adviceState(h.cfgErr), Message: h.adviceLine(h.cfgErr)}
	case h.volErr != nil:
		return relation.Status{State: adviceState(h.volErr), Message: h.adviceLine(h.volErr)}
	case h.hc.Kind == relation.KindHook && isLeaving(h.hc):
		return relation.Status{State: relation.Maintenance, Message: "Leaving: services stopped and removed"}
	case h.installErr != nil:
		return relation.Status{State: adviceState(h.installErr), Message: h.adviceLine(h.installErr)}
	case h.peers == nil:
		return relation.Status{State: relation.Waiting, Message: fit("Waiting for the peer relation" + h.progressNote())}
	}
	for _, err := range h.peers.BagErrors() {
		return relation.Status{State: adviceState(err), Message: h.adviceLine(err)}
	}
	if err := h.firstProblem(); err != nil {
		return relation.Status{State: adviceState(err), Message: h.adviceLine(err)}
	}
	if len(h.held) > 0 {
		return relation.Status{State: adviceState(h.held[0]), Message: h.adviceLine(h.held[0])}
	}
	if len(h.waiting) > 0 {
		return relation.Status{State: relation.Waiting, Message: fit(h.waiting[0])}
	}
	rec := h.peers.Record
	switch {
	case rec.Phase == fsm.PhaseIdle && rec.Version.IsZero():
		return relation.Status{State: relation.Maintenance, Message: fit(fmt.Sprintf("Installing Concourse %s", h.cfg.Version) + h.progressNote())}
	case !rec.IsMember(h.self):
		return relation.Status{State: relation.Waiting, Message: fit("Waiting for the leader to count this unit in" + h.progressNote())}
	case rec.Phase != fsm.PhaseIdle:
		state, _ := phaseStatus(rec.Phase)
		return relation.Status{State: state, Message: h.upgradeLine(rec, h.acks())}
	}
	msg := fmt.Sprintf("%s %s", h.roles, rec.Version)
	if h.roles.Web && h.cfg.Mode == ModeAuto && len(h.peers.Others) == 0 {
		msg += fmt.Sprintf(" (no workers yet: juju add-unit %s)", h.app)
	}
	if h.cfg.Version != rec.Version {
		switch rec.Outcome {
		case fsm.OutcomeAborted, fsm.OutcomeRolledBack:
			msg += fmt.Sprintf("; config version=%s not running (upgrade %s)", h.cfg.Version, rec.Outcome)
		default:
			msg += fmt.Sprintf("; to match, juju config %s version=%s", h.app, rec.Version)
		}
	}
	for _, n := range h.notes {
		msg += "; " + n
	}
	return relation.Status{State: relation.Active, Message: fit(msg)}
}

func (h *hook) progressNote() string {
	if h.progress == "" {
		return ""
	}
	return ": " + h.progress
}

// unitsNotSharing lists the members whose volume token differs from the
// leader's: they keep their own copy.
func (h *hook) unitsNotSharing() string {
	if h.peers == nil || h.nextApp.VolumeToken == "" {
		return ""
	}
	var apart []string
	for _, u := range h.peers.Others {
		if m, ok := h.peers.Members[u]; ok && m.Facts.VolumeToken != "" && m.Facts.VolumeToken != h.nextApp.VolumeToken {
			apart = append(apart, u)
		}
	}
	return strings.Join(apart, ", ")
}

// Annotations are the charm's additions to docs/states.md: which hooks
// take each event and the status line of each state.
type Annotations struct{}

// NoticedIn implements fsm.Annotations.
func (Annotations) NoticedIn(machine, event string) []string {
	if machine == fsm.InstallTable().Machine {
		return []string{"install", "config-changed", "upgrade-charm", "update-status", "upgrade action"}
	}
	leader := []string{"peers-relation-changed", "update-status", "leader-elected", "any action"}
	unit := []string{"peers-relation-changed", "update-status", "start", "config-changed"}
	for _, tr := range fsm.UpgradeTable().Transitions {
		if tr.Event == event && tr.Who != fsm.Leader {
			return unit
		}
	}
	switch event {
	case fsm.UpgradeInitiate:
		return []string{"config-changed (a new version)"}
	case fsm.UpgradeAbort:
		return append([]string{"prepare timeout in:"}, leader...)
	case fsm.UpgradeRetry, fsm.UpgradeRollback:
		return nil
	}
	return leader
}

// Status implements fsm.Annotations.
func (Annotations) Status(machine, state string) string {
	if machine == fsm.InstallTable().Machine {
		return installStatus(state)
	}
	p, ok := fsm.ParsePhase(state)
	if !ok {
		return ""
	}
	level, line := phaseStatus(p)
	return string(level) + ": " + line
}

// installStatus is the unit's status line while the install machine sits in
// a state (templates: V is the version, UNIT the lock holder).
func installStatus(state string) string {
	switch state {
	case fsm.InstallAbsent:
		return "maintenance: Installing Concourse V"
	case fsm.InstallWaiting:
		return "waiting: Waiting for Concourse V (downloading on UNIT for DURATION)"
	case fsm.InstallDownloading:
		return "maintenance: Downloading Concourse V: PCT% (DONE of TOTAL)"
	case fsm.InstallVerifying:
		return "maintenance: Verifying Concourse V"
	case fsm.InstallInstalled:
		return "active: ROLE V"
	case fsm.InstallFailed:
		return "blocked: Installing Concourse V failed: ERROR"
	}
	return ""
}

var _ fsm.Annotations = Annotations{}
