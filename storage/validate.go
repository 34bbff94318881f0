package storage

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
)

// Bounds on names that become path elements.
const (
	maxAppNameLen = 63
	maxUnitNumLen = 9
	maxVersionLen = 64
)

// ValidateUnitName accepts a Juju unit name "app/N": app is [a-z][a-z0-9-]*,
// N a decimal without leading zeros. Anything that could name another path
// (".." , a second "/", NUL, control characters) is refused with a
// *ValueError saying why.
func ValidateUnitName(name string) error {
	bad := func(reason string) error {
		return &ValueError{Field: fieldUnitName, Value: name, Reason: reason + `; expected a Juju unit name such as "concourse-ci/0"`}
	}
	if name == "" {
		return bad("it is empty")
	}
	if i := strings.IndexFunc(name, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return bad(fmt.Sprintf("it contains the control character %q", r))
	}
	if strings.Contains(name, "..") {
		return bad(`it contains ".."`)
	}
	app, num, ok := strings.Cut(name, "/")
	if !ok {
		return bad(`it has no "/" between application and unit number`)
	}
	if strings.Contains(num, "/") {
		return bad(`it has more than one "/"`)
	}
	if err := checkAppName(app); err != "" {
		return bad(err)
	}
	switch {
	case num == "":
		return bad("the unit number is missing")
	case len(num) > maxUnitNumLen:
		return bad(fmt.Sprintf("the unit number is longer than %d digits", maxUnitNumLen))
	case strings.Trim(num, "0123456789") != "":
		return bad("the unit number is not a decimal number")
	case len(num) > 1 && num[0] == '0':
		return bad("the unit number has a leading zero")
	}
	return nil
}

func checkAppName(app string) string {
	switch {
	case app == "":
		return "the application name is missing"
	case len(app) > maxAppNameLen:
		return fmt.Sprintf("the application name is longer than %d characters", maxAppNameLen)
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

// ValidateVersion accepts what fsm.ValidateVersion accepts (a Concourse
// release version such as 7.14.3 or 7.14.3-rc.1: the one rule the upgrade
// record and the volume share) and then refuses what cannot safely be a
// directory name under releases/: longer than maxVersionLen, "..", and the
// infixes the volume reserves for partial and temporary entries. Refusals
// are *ValueError (ErrInvalidValue); those of fsm's rule wrap its
// *fsm.InvalidVersionError.
func ValidateVersion(version string) error {
	bad := func(reason string, err error) error {
		return &ValueError{Field: fieldVersion, Value: version, Err: err,
			Reason: reason + `; expected a Concourse version such as "7.11.2"`}
	}
	if err := fsm.ValidateVersion(version); err != nil {
		return bad(whyNotVersion(version), err)
	}
	switch {
	case len(version) > maxVersionLen:
		return bad(fmt.Sprintf("it is longer than %d characters", maxVersionLen), nil)
	case strings.Contains(version, ".."):
		return bad(`it contains ".."`, nil)
	case strings.Contains(version, PartialInfix), strings.Contains(version, TempInfix):
		return bad("it contains a name the volume reserves for unfinished entries", nil)
	}
	return nil
}

// whyNotVersion explains, for the message only, why fsm refused version;
// whether a version is accepted is fsm's rule alone.
func whyNotVersion(version string) string {
	if version == "" {
		return "it is empty"
	}
	if i := strings.IndexFunc(version, func(r rune) bool {
		return !isAlnum(r) && !strings.ContainsRune(".+-", r)
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(version[i:])
		return fmt.Sprintf("it contains %q", r)
	}
	if (version[0] == 'v' || version[0] == 'V') && fsm.ValidateVersion(version[1:]) == nil {
		return `it starts with "v": give the version without it, as on github.com/concourse/concourse/releases`
	}
	return "it is not MAJOR.MINOR.PATCH with an optional -prerelease or +build suffix"
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
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
