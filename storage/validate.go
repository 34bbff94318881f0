package storage

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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

// ValidateVersion accepts a release version usable as a directory name under
// releases/: letters, digits, '.', '_', '+', '-', starting with a letter or
// digit, without "..", and not containing the names the volume reserves for
// partial and temporary entries.
func ValidateVersion(version string) error {
	bad := func(reason string) error {
		return &ValueError{Field: fieldVersion, Value: version, Reason: reason + `; expected a Concourse version such as "7.11.2"`}
	}
	switch {
	case version == "":
		return bad("it is empty")
	case len(version) > maxVersionLen:
		return bad(fmt.Sprintf("it is longer than %d characters", maxVersionLen))
	case !isAlnum(rune(version[0])):
		return bad("it must start with a letter or digit")
	case strings.Contains(version, ".."):
		return bad(`it contains ".."`)
	case strings.Contains(version, PartialInfix), strings.Contains(version, TempInfix):
		return bad("it contains a name the volume reserves for unfinished entries")
	}
	for _, r := range version {
		if !isAlnum(r) && !strings.ContainsRune("._+-", r) {
			return bad(fmt.Sprintf("it contains %q", r))
		}
	}
	return nil
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
