package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The unit-name rule itself is internal/unitname's (tested there); storage
// refuses with its own *ValueError, wrapping that rule's error.
func TestValidateUnitName(t *testing.T) {
	t.Parallel()
	require.NoError(t, validateUnitName("concourse-ci/0"))
	for _, name := range []string{"", "concourse", "../0", "a/../../etc", "concourse/0\x00", "Concourse/0"} {
		err := validateUnitName(name)
		requireValueError(t, err, FieldUnitName, "%q", name)
		var ve *ValueError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, name, ve.Value)
		var ue *unitname.Error
		assert.ErrorAs(t, err, &ue, "%q: the rule's error is wrapped", name)
		assert.NotContains(t, err.Error(), "\x00", "the name is quoted, not printed raw")
	}
}

// Storage accepts canonical release versions (internal/version), minus
// what cannot be a directory under releases/. Parse refusals wrap the
// *version.Error.
func TestValidateVersion(t *testing.T) {
	t.Parallel()
	valid := []string{"7.11.2", "7.12.0-rc.1", "8.0.0+build.5", "7.14.3-rc-1", "10.0.0-A.b-C"}
	for _, v := range valid {
		assert.NoError(t, validateVersion(v), v)
	}
	tests := []struct {
		version string
		reason  string
		parse   bool // refused by version.Parse (wrapped), not only by storage
	}{
		{"", "it is empty", true},
		{"v7.11.2", "not in canonical form (7.11.2)", false},
		{"V7.11.2", "not in canonical form (7.11.2)", false},
		{"latest", "it is not MAJOR.MINOR.PATCH", true},
		{"7.14", "it is not MAJOR.MINOR.PATCH", true},
		{"7.14.3_1", `it contains '_'`, true},
		{"..", "it is not MAJOR.MINOR.PATCH", true},
		{".hidden", "it is not MAJOR.MINOR.PATCH", true},
		{"-rf", "it is not MAJOR.MINOR.PATCH", true},
		{"7.11.2/../../etc", `it contains '/'`, true},
		{"7 11", `it contains ' '`, true},
		{"7.11.2\x00", `it contains '\x00'`, true},
		{"7.11.2\n", `it contains '\n'`, true},
		{"7.11.2-ö", `it contains 'ö'`, true},
		{strings.Repeat("1", 65), "longer than 64", true},
		{"7.14.3-rc..1", "it is not MAJOR.MINOR.PATCH", true},
		{"7.14.3-" + strings.Repeat("a", 58), "longer than 64", true},
		// Valid versions that the volume cannot use as directory names.
		{"7.14.3-x" + PartialInfix + "y", "reserves", false},
		{"7.14.3-x" + TempInfix + "y", "reserves", false},
	}
	for _, tc := range tests {
		err := validateVersion(tc.version)
		requireValueError(t, err, FieldVersion, "%q", tc.version)
		var ve *ValueError
		require.ErrorAs(t, err, &ve, "%q", tc.version)
		assert.Equal(t, tc.version, ve.Value)
		assert.Contains(t, err.Error(), tc.reason, "%q", tc.version)
		assert.NotContains(t, err.Error(), "\x00", "the version is quoted, not printed raw")
		var parseErr *version.Error
		assert.Equal(t, tc.parse, errors.As(err, &parseErr), "%q: a parse refusal wraps *version.Error", tc.version)
	}
	assert.Equal(t, "/v/releases/7.14.3", (&Volume{root: "/v"}).ReleaseDir(ver("v7.14.3")), "parsed once: no \"v\" in a directory name")
	for _, bad := range []version.Version{{}, ver("7.14.3-x" + PartialInfix + "y")} {
		requireValueError(t, ValidateRelease(bad), FieldVersion)
		assert.Empty(t, (&Volume{root: "/v"}).ReleaseDir(bad), "no path for a refused version")
	}
}

func TestValidateChecksum(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"sha1:" + strings.Repeat("0a", 20):   "",
		"sha256:" + strings.Repeat("f1", 32): "",
		"":                                   `expected "sha1:<hex>"`,
		strings.Repeat("0a", 20):             `expected "sha1:<hex>"`,
		"md5:" + strings.Repeat("0", 32):     `expected "sha1:<hex>"`,
		"sha1:" + strings.Repeat("0", 39):    "has 40 hex digits, this has 39",
		"sha256:" + strings.Repeat("0", 40):  "has 64 hex digits, this has 40",
		"sha1:" + strings.Repeat("0A", 20):   "lower-case hex",
		"sha1:" + strings.Repeat("zz", 20):   "lower-case hex",
	}
	for sum, reason := range tests {
		err := ValidateChecksum(sum)
		if reason == "" {
			assert.NoError(t, err, sum)
			continue
		}
		requireValueError(t, err, FieldChecksum, sum)
		assert.Contains(t, err.Error(), reason, sum)
	}
}
