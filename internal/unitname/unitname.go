// Package unitname is the one place that reads a Juju unit name ("app/N")
// and derives the names other rooms build from it: the volume's worker
// directory and systemd unit names (Slug). A name that could lead out of a
// directory (".." , a second "/", control characters) never parses. It
// imports nothing of the charm's.
package unitname

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on the two parts; both become parts of file and unit names.
const (
	MaxAppLen    = 63
	MaxNumberLen = 9
)

// Name is a parsed Juju unit name.
type Name struct {
	App    string
	Number int
}

// Error says why a string is not a Juju unit name.
type Error struct {
	Input  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not a Juju unit name: %s (expected one such as \"concourse-ci/0\")", e.Input, e.Reason)
}

// Parse reads "app/N": app is [a-z][a-z0-9-]*, N a decimal without leading
// zeros.
func Parse(s string) (Name, error) {
	bad := func(reason string) (Name, error) { return Name{}, &Error{Input: s, Reason: reason} }
	if s == "" {
		return bad("it is empty")
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return bad(fmt.Sprintf("it contains the control character %q", r))
	}
	if strings.Contains(s, "..") {
		return bad(`it contains ".."`)
	}
	app, num, ok := strings.Cut(s, "/")
	if !ok {
		return bad(`it has no "/" between application and unit number`)
	}
	if strings.Contains(num, "/") {
		return bad(`it has more than one "/"`)
	}
	if reason := checkApp(app); reason != "" {
		return bad(reason)
	}
	switch {
	case num == "":
		return bad("the unit number is missing")
	case len(num) > MaxNumberLen:
		return bad(fmt.Sprintf("the unit number is longer than %d digits", MaxNumberLen))
	case strings.Trim(num, "0123456789") != "":
		return bad("the unit number is not a decimal number")
	case len(num) > 1 && num[0] == '0':
		return bad("the unit number has a leading zero")
	}
	n, _ := strconv.Atoi(num) // at most 9 digits: always fits
	return Name{App: app, Number: n}, nil
}

// MustParse is Parse for constants in tests; it panics on a bad name.
func MustParse(s string) Name {
	n, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

// CheckApp says why app is not a Juju application name, or nil.
func CheckApp(app string) error {
	if reason := checkApp(app); reason != "" {
		return &Error{Input: app, Reason: reason}
	}
	return nil
}

func checkApp(app string) string {
	switch {
	case app == "":
		return "the application name is missing"
	case len(app) > MaxAppLen:
		return fmt.Sprintf("the application name is longer than %d characters", MaxAppLen)
	case app[0] < 'a' || app[0] > 'z':
		return "the application name must start with a lower-case letter"
	}
	for _, r := range app {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Sprintf("the application name contains %q (allowed: a-z, 0-9, -)", r)
		}
	}
	return ""
}

// String is "app/N".
func (n Name) String() string { return n.App + "/" + strconv.Itoa(n.Number) }

// IsZero reports whether n is the zero Name.
func (n Name) IsZero() bool { return n.App == "" }

// Slug is "app-N": a name usable as a file name or inside a systemd unit
// name. The mapping is one-to-one because N has no '-'.
func (n Name) Slug() string { return n.App + "-" + strconv.Itoa(n.Number) }

// ParseSlug reads a Slug back: the unit number follows the last '-'.
func ParseSlug(s string) (Name, error) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return Name{}, &Error{Input: s, Reason: `it has no "-" before the unit number`}
	}
	n, err := Parse(s[:i] + "/" + s[i+1:])
	if e, ok := err.(*Error); ok {
		return Name{}, &Error{Input: s, Reason: e.Reason}
	}
	return n, err
}
