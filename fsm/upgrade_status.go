package fsm

import (
	"regexp"
	"strconv"
	"strings"
)

// UpgradeStatus is what the charm passes to status-set.
type UpgradeStatus struct {
	// Level is active, maintenance, waiting or blocked.
	Level   string
	Message string
}

// placeholder matches the capitalised words the table's texts use for values.
var placeholder = regexp.MustCompile(`\b(APP|TARGET|PREVIOUS|VERSION|GENERATION|DEADLINE|WAITING|ERROR)\b`)

// StatusOf renders the table's status line for the record's phase with the
// record's values: what `juju status` shows and what the operator runs next.
// app is the application name used in the suggested commands.
func StatusOf(app string, rec Record, acks map[string]Ack, units []string) UpgradeStatus {
	state, ok := UpgradeTable().State(rec.Phase.String())
	if !ok {
		return UpgradeStatus{Level: "blocked", Message: "upgrade record in unknown phase " + rec.Phase.String() + ": refresh the charm"}
	}
	template := state.Status
	if rec.Phase == PhaseIdle && rec.Version == "" {
		template = "active: No upgrade has run yet. To upgrade: juju run APP/leader upgrade version=V"
	}
	var waiting []string
	switch rec.Phase {
	case PhasePrepare:
		waiting = pending(rec, acks, units, readyForDownload)
	case PhaseComplete:
		waiting = pending(rec, acks, units, runningTarget)
	}
	values := map[string]string{
		"APP":        app,
		"TARGET":     rec.TargetVersion,
		"PREVIOUS":   rec.PreviousVersion,
		"VERSION":    rec.Version,
		"GENERATION": strconv.FormatUint(rec.Generation, 10),
		"DEADLINE":   formatTime(rec.Deadline),
		"WAITING":    "waiting for " + strings.Join(waiting, ", "),
		"ERROR":      rec.LastError,
	}
	if len(waiting) == 0 {
		values["WAITING"] = "no unit left to wait for"
	}
	line := placeholder.ReplaceAllStringFunc(template, func(word string) string { return values[word] })
	if rec.Phase == PhaseIdle && rec.LastError != "" {
		line += " (last upgrade: " + rec.LastError + ")"
	}
	level, message, _ := strings.Cut(line, ": ")
	return UpgradeStatus{Level: level, Message: message}
}
