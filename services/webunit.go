package services

import (
	"time"

	"github.com/coreos/go-systemd/v22/unit"
)

// WebUnitName is the unit that runs `concourse web` (ATC and TSA).
const WebUnitName = "concourse-server.service"

// WebUnit describes the Concourse web service. Secrets (database password,
// local users) never go here: put them in EnvironmentFile, written with
// WriteEnvironmentFile (mode 0600).
type WebUnit struct {
	Name        string // default WebUnitName
	Description string // default "Concourse CI web (ATC and TSA)"
	// Command is the argv, e.g. {"/srv/concourse/current/bin/concourse", "web"}.
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

// Options validates the unit and returns its options for unit.Serialize.
func (w WebUnit) Options() ([]*unit.UnitOption, error) {
	return w.build().validated()
}

// Render validates the unit and renders its file.
func (w WebUnit) Render() (UnitFile, error) {
	o := w.build()
	return o.render(orDefault(w.Name, WebUnitName))
}

func (w WebUnit) build() *options {
	o := &options{}
	o.check(checkUnitName("WebUnit.Name", orDefault(w.Name, WebUnitName)))
	o.text("Unit", "Description", "WebUnit.Description", orDefault(w.Description, "Concourse CI web (ATC and TSA)"))
	o.fixed("Unit", "Documentation", "https://concourse-ci.org/concourse-web.html")
	o.fixed("Unit", "Wants", "network-online.target")
	o.fixed("Unit", "After", "network-online.target")

	// Type=exec: the start job fails when the binary cannot be executed,
	// rather than reporting success and failing a moment later.
	o.fixed("Service", "Type", "exec")
	o.exec("Service", "ExecStart", "WebUnit.Command", w.Command)
	if w.User != "" {
		o.user("Service", "User", "WebUnit.User", w.User)
	}
	if w.Group != "" {
		o.user("Service", "Group", "WebUnit.Group", w.Group)
	}
	if w.EnvironmentFile != "" {
		o.path("Service", "EnvironmentFile", "WebUnit.EnvironmentFile", "", w.EnvironmentFile)
	}
	if w.WorkDir != "" {
		o.path("Service", "WorkingDirectory", "WebUnit.WorkDir", "", w.WorkDir)
	}
	if w.LogFile != "" {
		o.path("Service", "StandardOutput", "WebUnit.LogFile", "append:", w.LogFile)
		o.path("Service", "StandardError", "WebUnit.LogFile", "append:", w.LogFile)
	}
	o.fixed("Service", "Restart", "on-failure")
	o.duration("Service", "RestartSec", "WebUnit.RestartDelay", orDefault(w.RestartDelay, DefaultRestartDelay))

	// Hardening. Concourse web keeps its state in PostgreSQL and only reads
	// its keys and the release, so it never needs new privileges, a shared
	// /tmp, or to write /usr, /boot and /etc: ProtectSystem=full makes those
	// read-only. Not =strict: that makes every other path read-only too, and
	// the paths web may write (its work dir, HOME for the CLI's caches, the
	// shared volume's keys when the charm generates them through it) vary
	// with the deployment; a wrong guess would break web at runtime.
	o.fixed("Service", "NoNewPrivileges", "yes")
	o.fixed("Service", "PrivateTmp", "yes")
	o.fixed("Service", "ProtectSystem", "full")

	o.target("Install", "WantedBy", "WebUnit.WantedBy", orDefault(w.WantedBy, DefaultWantedBy))
	return o
}
