package services

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// UnitFile is a rendered unit: its name and exact file content.
type UnitFile struct {
	Name    string
	Content []byte
}

// DefaultRestartDelay is the pause before systemd restarts a failed service:
// long enough that a crash loop does not hammer PostgreSQL or the TSA.
const DefaultRestartDelay = 5 * time.Second

// DefaultWantedBy is the target that pulls the units in at boot.
const DefaultWantedBy = "multi-user.target"

// service is what the web and worker units share, rendered by one builder;
// each adds its own [Service] settings.
type service struct {
	kind          string // "WebUnit" or "WorkerUnit": prefixes field names in errors
	unit          unitname.Name
	name          func(unitname.Name) string
	description   string
	documentation string
	command       []string
	envFile       string
	workDir       string
	logFile       string
	restartDelay  time.Duration
	wantedBy      string
}

// build validates and collects the unit's options; extra adds the unit's
// own [Service] settings.
func (s service) build(extra func(o *options)) (string, *options) {
	o := &options{kind: s.kind}
	if s.unit.IsZero() {
		o.fail("Unit", "is empty; give the charm unit's name")
		return "", o
	}
	name := s.name(s.unit)
	o.check(checkUnitName(s.kind+".Unit", name))
	o.text("Unit", "Description", "Description", s.description)
	o.fixed("Unit", "Documentation", s.documentation)
	o.fixed("Unit", "Wants", "network-online.target")
	o.fixed("Unit", "After", "network-online.target")

	// Type=exec: the start job fails when the binary cannot be executed,
	// rather than reporting success and failing a moment later.
	o.fixed("Service", "Type", "exec")
	o.exec("Service", "ExecStart", "Command", s.command)
	if s.envFile != "" {
		o.path("Service", "EnvironmentFile", "EnvironmentFile", "", s.envFile)
	}
	if s.workDir != "" {
		o.path("Service", "WorkingDirectory", "WorkDir", "", s.workDir)
	}
	if s.logFile != "" {
		o.path("Service", "StandardOutput", "LogFile", "append:", s.logFile)
		o.path("Service", "StandardError", "LogFile", "append:", s.logFile)
	}
	o.fixed("Service", "Restart", "on-failure")
	o.duration("Service", "RestartSec", "RestartDelay", orDefault(s.restartDelay, DefaultRestartDelay))
	extra(o)
	o.target("Install", "WantedBy", "WantedBy", orDefault(s.wantedBy, DefaultWantedBy))
	return name, o
}

// render validates and serializes the unit.
func (s service) render(extra func(o *options)) (UnitFile, error) {
	name, o := s.build(extra)
	list, err := o.validated()
	if err != nil {
		return UnitFile{}, err
	}
	content, err := io.ReadAll(unit.Serialize(list))
	if err != nil {
		return UnitFile{}, err
	}
	return UnitFile{Name: name, Content: content}, nil
}

// options accumulates unit options and every validation error, so the
// operator sees all bad fields at once and nothing is rendered from them.
type options struct {
	kind string // prefixes field names in errors
	list []*unit.UnitOption
	errs []error
}

func (o *options) field(name string) string { return o.kind + "." + name }

func (o *options) fail(field, problem string) {
	o.errs = append(o.errs, &ValidationError{Field: o.field(field), Problem: problem})
}

func (o *options) check(err error) {
	if err != nil {
		o.errs = append(o.errs, err)
	}
}

// fixed adds an option whose value is a constant of this package.
func (o *options) fixed(section, name, value string) {
	o.list = append(o.list, unit.NewUnitOption(section, name, value))
}

// text adds free text (a description), specifiers escaped.
func (o *options) text(section, name, field, value string) {
	if err := checkUnitText(o.field(field), value); err != nil {
		o.check(err)
		return
	}
	o.fixed(section, name, escapeSpecifiers(value))
}

// path adds an absolute path (optionally with a prefix such as "append:").
func (o *options) path(section, name, field, prefix, value string) {
	if err := checkPath(o.field(field), value); err != nil {
		o.check(err)
		return
	}
	o.fixed(section, name, prefix+escapeSpecifiers(value))
}

func (o *options) user(section, name, field, value string) {
	if err := checkUserName(o.field(field), value); err != nil {
		o.check(err)
		return
	}
	o.fixed(section, name, value)
}

func (o *options) target(section, name, field, value string) {
	if err := checkTargetName(o.field(field), value); err != nil {
		o.check(err)
		return
	}
	o.fixed(section, name, value)
}

func (o *options) exec(section, name, field string, argv []string) {
	line, err := execLine(o.field(field), argv)
	if err != nil {
		o.check(err)
		return
	}
	o.fixed(section, name, line)
}

func (o *options) duration(section, name, field string, d time.Duration) {
	if d <= 0 {
		o.fail(field, fmt.Sprintf("must be positive, got %v", d))
		return
	}
	o.fixed(section, name, systemdDuration(d))
}

// validated returns the options, or every validation error at once.
func (o *options) validated() ([]*unit.UnitOption, error) {
	if len(o.errs) > 0 {
		return nil, errors.Join(o.errs...)
	}
	return o.list, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
