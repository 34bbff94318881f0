package services

import (
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// WebUnit describes the Concourse web service (ATC and TSA) of one charm
// unit. Secrets (database password, local users) never go here: put them in
// EnvironmentFile, written with WriteEnvironmentFile (mode 0600).
type WebUnit struct {
	// Unit is the charm unit; the systemd unit is WebUnitName(Unit).
	Unit        unitname.Name
	Description string // default "Concourse CI web (ATC and TSA) of <unit>"
	// Command is the argv, e.g. {"/srv/concourse/releases/7.14.3/concourse/bin/concourse", "web"}.
	Command []string
	// User and Group run the service; empty means root.
	User, Group string
	// EnvironmentFile holds CONCOURSE_* settings and secrets (optional).
	EnvironmentFile string
	// WorkDir is the working directory (optional).
	WorkDir string
	// LogFile, when set, receives stdout and stderr (append:) instead of
	// the journal, and is what errors quote as the log tail.
	LogFile      string
	RestartDelay time.Duration // default DefaultRestartDelay
	WantedBy     string        // default DefaultWantedBy
}

// Render validates the unit and renders its file; every bad field is
// reported at once, as *ValidationError values joined.
func (w WebUnit) Render() (UnitFile, error) {
	s := service{
		kind: "WebUnit", unit: w.Unit, name: WebUnitName,
		description:   orDefault(w.Description, "Concourse CI web (ATC and TSA) of "+w.Unit.String()),
		documentation: "https://concourse-ci.org/concourse-web.html",
		command:       w.Command, envFile: w.EnvironmentFile, workDir: w.WorkDir, logFile: w.LogFile,
		restartDelay: w.RestartDelay, wantedBy: w.WantedBy,
	}
	return s.render(func(o *options) {
		if w.User != "" {
			o.user("Service", "User", "User", w.User)
		}
		if w.Group != "" {
			o.user("Service", "Group", "Group", w.Group)
		}
		// Hardening. Concourse web keeps its state in PostgreSQL and only
		// reads its keys and the release, so it never needs new privileges,
		// a shared /tmp, or to write /usr, /boot and /etc: ProtectSystem=full
		// makes those read-only. Not =strict: that makes every other path
		// read-only too, and the paths web may write (its work dir, HOME for
		// the CLI's caches, the keys when the charm generates them through
		// it) vary with the deployment; a wrong guess breaks web at runtime.
		o.fixed("Service", "NoNewPrivileges", "yes")
		o.fixed("Service", "PrivateTmp", "yes")
		o.fixed("Service", "ProtectSystem", "full")
	})
}
