package storage

import (
	"fmt"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// validateUnitName accepts a Juju unit name "app/N" (internal/unitname):
// anything that could name another path is refused with a *ValueError
// wrapping the *unitname.Error.
func validateUnitName(name string) error {
	_, err := parseUnit(name)
	return err
}

// parseUnit is unitname.Parse with its refusal as a *ValueError.
func parseUnit(name string) (unitname.Name, error) {
	n, err := unitname.Parse(name)
	if err != nil {
		return unitname.Name{}, &ValueError{Field: FieldUnitName, Value: name, Reason: err.(*unitname.Error).Reason, Err: err}
	}
	return n, nil
}

// validateVersion is the guard of a release directory's name: a canonical
// Concourse release version (as internal/version prints it: 7.14.3,
// 7.14.3-rc.1, no leading "v", so one version has one directory) without
// the infixes the volume reserves for partial and temporary entries.
// Refusals are *ValueError, wrapping the *version.Error when the string does
// not parse.
func validateVersion(v string) error {
	parsed, err := version.Parse(v)
	switch {
	case err != nil:
		return &ValueError{Field: FieldVersion, Value: v, Reason: err.(*version.Error).Reason, Err: err}
	case parsed.String() != v:
		return &ValueError{Field: FieldVersion, Value: v, Reason: fmt.Sprintf("it is not in canonical form (%s)", parsed)}
	}
	return ValidateRelease(parsed)
}

// ValidateRelease refuses a parsed version that cannot name a release
// directory: the zero Version, or one carrying a reserved infix. It is the
// one check a version.Version gets where it enters storage.
func ValidateRelease(v version.Version) error {
	s := v.String()
	switch {
	case v.IsZero():
		return &ValueError{Field: FieldVersion, Value: s, Reason: "it is empty"}
	case strings.Contains(s, PartialInfix), strings.Contains(s, TempInfix):
		return &ValueError{Field: FieldVersion, Value: s, Reason: "it contains a name the volume reserves for unfinished entries"}
	}
	return nil
}

// ValidateChecksum accepts "sha1:<40 hex>" or "sha256:<64 hex>", lower case.
func ValidateChecksum(sum string) error {
	algo, digest, ok := strings.Cut(sum, ":")
	want := map[string]int{"sha1": 40, "sha256": 64}[algo]
	switch {
	case !ok || want == 0:
		return &ValueError{Field: FieldChecksum, Value: sum, Reason: `expected "sha1:<hex>" or "sha256:<hex>"`}
	case len(digest) != want:
		return &ValueError{Field: FieldChecksum, Value: sum, Reason: fmt.Sprintf("a %s digest has %d hex digits, this has %d", algo, want, len(digest))}
	case strings.Trim(digest, "0123456789abcdef") != "":
		return &ValueError{Field: FieldChecksum, Value: sum, Reason: "the digest must be lower-case hex"}
	}
	return nil
}
