package services

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// checkText rejects what a unit file line or an environment file line
// cannot carry safely: control characters (a newline would inject a
// directive; unit.Serialize escapes nothing) and invalid UTF-8.
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return &ValidationError{Field: field, Problem: "is not valid UTF-8"}
	}
	for i, r := range v {
		if r < 0x20 || r == 0x7f {
			return &ValidationError{Field: field, Problem: fmt.Sprintf("contains control character %#02x at byte %d (newlines and control characters are not allowed)", r, i)}
		}
	}
	return nil
}

// checkUnitText is checkText for a free-text unit setting (Description=).
// systemd strips leading and trailing whitespace from a value and reads a
// trailing backslash as a line continuation, so neither could come back as
// given.
func checkUnitText(field, v string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if strings.TrimSpace(v) != v {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q begins or ends with whitespace, which systemd drops", v)}
	}
	if strings.HasSuffix(v, `\`) {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q ends with a backslash, which systemd reads as a line continuation", v)}
	}
	return nil
}

// checkPath accepts an absolute, clean path that a unit setting can hold
// without quoting: whitespace would split list settings, quotes and
// backslashes would be unescaped by systemd.
func checkPath(field, v string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if !filepath.IsAbs(v) {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q is not an absolute path", v)}
	}
	if filepath.Clean(v) != v {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q is not a clean path (use %q)", v, filepath.Clean(v))}
	}
	if strings.ContainsAny(v, " \t\"'\\") {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q contains whitespace, a quote or a backslash; use a path without them", v)}
	}
	return nil
}

// userName is what systemd accepts in User=/Group= (a name, not a uid
// range or specifier).
var userName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)

func checkUserName(field, v string) error {
	return checkMatch(field, v, userName, "is not a valid user or group name")
}

// checkMatch checks v is plain text matching re; problem follows the quoted
// value in the error.
func checkMatch(field, v string, re *regexp.Regexp, problem string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if !re.MatchString(v) {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q %s", v, problem)}
	}
	return nil
}

// unitName is a service unit name as systemd accepts it, without a template
// instance: letters, digits and ":_.-" (systemd also allows "\\" for
// escapes; these names never need one).
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.-]+\.service$`)

// maxUnitNameLen is systemd's limit (UNIT_NAME_MAX is 256 with the NUL).
const maxUnitNameLen = 255

func checkUnitName(field, v string) error {
	if len(v) > maxUnitNameLen {
		return &ValidationError{Field: field, Problem: fmt.Sprintf("%q is %d characters long; systemd allows at most %d", v, len(v), maxUnitNameLen)}
	}
	return checkMatch(field, v, unitName, `is not a service unit name (letters, digits, ":_.-", ending in .service)`)
}

// targetName is a target unit name, for WantedBy=.
var targetName = regexp.MustCompile(`^[A-Za-z0-9:_.@-]+\.target$`)

func checkTargetName(field, v string) error {
	return checkMatch(field, v, targetName, "is not a target unit name (ending in .target)")
}

// escapeSpecifiers makes a value literal for systemd, which expands
// %-specifiers in most settings: "%" becomes "%%".
func escapeSpecifiers(v string) string { return strings.ReplaceAll(v, "%", "%%") }

// execArg renders one argv element of an Exec*= line so systemd hands it to
// the program unchanged: specifiers ("%") and variable references ("$", which
// systemd expands in command lines only) are doubled, and an argument with
// whitespace, quotes, a backslash or a semicolon is double-quoted with C
// escapes for "\" and the quote.
func execArg(a string) string {
	a = escapeSpecifiers(a)
	a = strings.ReplaceAll(a, "$", "$$")
	if a != "" && !strings.ContainsAny(a, " \t\"'\\;") {
		return a
	}
	a = strings.ReplaceAll(a, `\`, `\\`)
	a = strings.ReplaceAll(a, `"`, `\"`)
	return `"` + a + `"`
}

// execLine renders argv as an Exec*= value; argv[0] must be an absolute path.
func execLine(field string, argv []string) (string, error) {
	if len(argv) == 0 {
		return "", &ValidationError{Field: field, Problem: "is empty"}
	}
	if err := checkPath(field+"[0]", argv[0]); err != nil {
		return "", err
	}
	parts := make([]string, len(argv))
	for i, a := range argv {
		if err := checkText(fmt.Sprintf("%s[%d]", field, i), a); err != nil {
			return "", err
		}
		parts[i] = execArg(a)
	}
	return strings.Join(parts, " "), nil
}

// systemdDuration renders d in a form systemd parses exactly.
func systemdDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%dus", d.Microseconds())
	}
}
