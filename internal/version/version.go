// Package version is the one Concourse release version type of the charm:
// parsed once where a string enters (config, action parameters, relation
// data, directory names), ordered by semantic versioning
// (golang.org/x/mod/semver), and safe to use as a directory name under the
// volume's releases/. It imports nothing of the charm's.
package version

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/semver"
)

// MaxLen bounds a version string: it becomes a directory name.
const MaxLen = 64

// Version is a parsed Concourse release version such as 7.14.3,
// 7.14.3-rc.1 or 7.14.3+build.5, without a leading "v". The zero value
// means "no version" and is never the result of a successful Parse.
type Version struct {
	s string
}

// pattern is MAJOR.MINOR.PATCH with optional -prerelease and +build parts,
// each a dot-separated list of non-empty [0-9A-Za-z-] identifiers; numeric
// parts without leading zeros, as semver requires.
var pattern = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(-(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?` +
	`(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// Error says why a string is not a release version.
type Error struct {
	Input  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not a Concourse release version: %s", e.Input, e.Reason)
}

// Parse reads a release version. A leading "v" (as in the release's git
// tag, v7.14.3) is accepted and dropped, so "v7.14.3" and "7.14.3" are the
// same version.
func Parse(s string) (Version, error) {
	raw := s
	if strings.HasPrefix(s, "v") || strings.HasPrefix(s, "V") {
		s = s[1:]
	}
	switch {
	case raw == "":
		return Version{}, &Error{Input: raw, Reason: "it is empty"}
	case len(s) > MaxLen:
		return Version{}, &Error{Input: raw, Reason: fmt.Sprintf("it is longer than %d characters", MaxLen)}
	case !pattern.MatchString(s):
		return Version{}, &Error{Input: raw, Reason: whyNot(s)}
	}
	// The pattern is stricter than semver.IsValid; check the two agree, so
	// the ordering below is never asked about what it cannot order.
	if !semver.IsValid("v" + s) {
		return Version{}, &Error{Input: raw, Reason: "it is not a semantic version"}
	}
	return Version{s: s}, nil
}

// MustParse is Parse for constants in tests and defaults; it panics on a
// bad version.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func whyNot(s string) string {
	if i := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".+-", r))
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Sprintf("it contains %q; give one like 7.14.3 or 7.14.3-rc.1", r)
	}
	return "it is not MAJOR.MINOR.PATCH with an optional -prerelease or +build suffix; give one like 7.14.3"
}

// String is the version without a "v", as in the release's asset names.
func (v Version) String() string { return v.s }

// IsZero reports whether v is the zero Version ("no version").
func (v Version) IsZero() bool { return v.s == "" }

// Prerelease reports whether v is a pre-release (7.14.3-rc.1).
func (v Version) Prerelease() bool { return semver.Prerelease("v"+v.s) != "" }

// Compare orders versions by semantic versioning: 7.14.3-rc.1 < 7.14.3 <
// 7.14.10 < 8.0.0. Semver gives versions that differ only in build
// metadata the same precedence; they are then ordered by their text, so
// Compare is a total order and 0 means the very same version. The zero
// Version sorts first.
func (v Version) Compare(w Version) int {
	switch {
	case v.s == w.s:
		return 0
	case v.IsZero():
		return -1
	case w.IsZero():
		return 1
	}
	if c := semver.Compare("v"+v.s, "v"+w.s); c != 0 {
		return c
	}
	return strings.Compare(v.s, w.s)
}

// Less reports whether v sorts before w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// MarshalText writes the version as its string; the zero Version as "".
func (v Version) MarshalText() ([]byte, error) { return []byte(v.s), nil }

// UnmarshalText parses a version; "" gives the zero Version.
func (v *Version) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*v = Version{}
		return nil
	}
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}
