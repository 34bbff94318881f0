package storage

import (
	"fmt"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// ValidateUnitName accepts a Juju unit name "app/N" (internal/unitname):
// anything that could name another path is refused with a *ValueError
// wrapping the *unitname.Error.
func ValidateUnitName(name string) error {
	if _, err := unitname.Parse(name); err != nil {
		return &ValueError{Field: fieldUnitName, Value: name, Reason: err.(*unitname.Error).Reason, Err: err}
	}
	return nil
}

// ValidateVersion accepts a canonical Concourse release version (as
// internal/version prints it: 7.14.3, 7.14.3-rc.1, no leading "v", so one
// version has one directory) and refuses the infixes the volume reserves for
// partial and temporary entries. Refusals are *ValueError
// (ErrInvalidValue), wrapping the *version.Error when it does not parse.
func ValidateVersion(v string) error {
	bad := func(reason string, err error) error {
		return &ValueError{Field: fieldVersion, Value: v, Err: err, Reason: reason}
	}
	parsed, err := version.Parse(v)
	switch {
	case err != nil:
		return bad(err.(*version.Error).Reason, err)
	case parsed.String() != v:
		return bad(fmt.Sprintf("it is not in canonical form (%s)", parsed), nil)
	case strings.Contains(v, PartialInfix), strings.Contains(v, TempInfix):
		return bad("it contains a name the volume reserves for unfinished entries", nil)
	}
	return nil
}

// ValidateChecksum accepts "sha1:<40 hex>" or "sha256:<64 hex>", lower case.
func ValidateChecksum(sum string) error {
	algo, digest, ok := strings.Cut(sum, ":")
	want := map[string]int{"sha1": 40, "sha256": 64}[algo]
	switch {
	case !ok || want == 0:
		return &ValueError{Field: fieldChecksum, Value: sum, Reason: `expected "sha1:<hex>" or "sha256:<hex>"`}
	case len(digest) != want:
		return &ValueError{Field: fieldChecksum, Value: sum, Reason: fmt.Sprintf("a %s digest has %d hex digits, this has %d", algo, want, len(digest))}
	case strings.Trim(digest, "0123456789abcdef") != "":
		return &ValueError{Field: fieldChecksum, Value: sum, Reason: "the digest must be lower-case hex"}
	}
	return nil
}
