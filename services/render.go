package services

import (
	"errors"
	"io"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
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

// options accumulates unit options and every validation error, so the
// operator sees all bad fields at once and nothing is rendered from them.
type options struct {
	list []*unit.UnitOption
	errs []error
}

// fixed adds an option whose value is a constant of this package.
func (o *options) fixed(section, name, value string) {
	o.list = append(o.list, unit.NewUnitOption(section, name, value))
}

// text adds an operator-supplied free-text value, specifiers escaped.
func (o *options) text(section, name, field, value string) {
	if err := checkText(field, value); err != nil {
		o.errs = append(o.errs, err)
		return
	}
	o.fixed(section, name, escapeSpecifiers(value))
}

// path adds an absolute path (optionally with a prefix such as "append:").
func (o *options) path(section, name, field, prefix, value string) {
	if err := checkPath(field, value); err != nil {
		o.errs = append(o.errs, err)
		return
	}
	o.fixed(section, name, prefix+escapeSpecifiers(value))
}

func (o *options) user(section, name, field, value string) {
	if err := checkUserName(field, value); err != nil {
		o.errs = append(o.errs, err)
		return
	}
	o.fixed(section, name, value)
}

func (o *options) target(section, name, field, value string) {
	if err := checkTargetName(field, value); err != nil {
		o.errs = append(o.errs, err)
		return
	}
	o.fixed(section, name, value)
}

func (o *options) exec(section, name, field string, argv []string) {
	line, err := execLine(field, argv)
	if err != nil {
		o.errs = append(o.errs, err)
		return
	}
	o.fixed(section, name, line)
}

func (o *options) duration(section, name, field string, d time.Duration) {
	if err := checkPositive(field, d); err != nil {
		o.errs = append(o.errs, err)
		return
	}
	o.fixed(section, name, systemdDuration(d))
}

func (o *options) check(err error) {
	if err != nil {
		o.errs = append(o.errs, err)
	}
}

// validated returns the options, or every validation error at once.
func (o *options) validated() ([]*unit.UnitOption, error) {
	if len(o.errs) > 0 {
		return nil, errors.Join(o.errs...)
	}
	return o.list, nil
}

// render serializes the options with go-systemd's unit package.
func (o *options) render(name string) (UnitFile, error) {
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

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
