package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateUnitName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		reason string // "" when valid
	}{
		{"concourse/0", ""},
		{"concourse-ci-machine/12", ""},
		{"a/999999999", ""},
		{"a1-b2/3", ""},
		{"", "empty"},
		{"concourse", `no "/"`},
		{"concourse/", "unit number is missing"},
		{"/0", "application name is missing"},
		{"concourse/0/1", `more than one "/"`},
		{"../0", `".."`},
		{"concourse/..", `".."`},
		{"a/../../etc", `".."`},
		{"concourse/0\x00", "control character"},
		{"con\ncourse/0", "control character"},
		{"concourse/\t1", "control character"},
		{"concourse/\u0085", "control character"},
		{"Concourse/0", "start with a lower-case letter"},
		{"1concourse/0", "start with a lower-case letter"},
		{"-concourse/0", "start with a lower-case letter"},
		{"con_course/0", `contains '_'`},
		{"con.course/0", `contains '.'`},
		{"cöncourse/0", `contains 'ö'`},
		{"concourse/-1", "not a decimal"},
		{"concourse/1a", "not a decimal"},
		{"concourse/01", "leading zero"},
		{"concourse/1234567890", "longer than 9 digits"},
		{strings.Repeat("a", 64) + "/0", "longer than 63"},
	}
	for _, tc := range tests {
		err := ValidateUnitName(tc.name)
		if tc.reason == "" {
			assert.NoError(t, err, "%q", tc.name)
			continue
		}
		require.Error(t, err, "%q", tc.name)
		assert.ErrorIs(t, err, ErrInvalidUnitName, "%q", tc.name)
		assert.ErrorIs(t, err, ErrInvalidValue, "%q", tc.name)
		var ve *ValueError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, tc.name, ve.Value)
		assert.Contains(t, err.Error(), tc.reason, "%q", tc.name)
		assert.Contains(t, err.Error(), `such as "concourse-ci/0"`, "the message shows a good name")
		assert.NotContains(t, err.Error(), "\x00", "the name is quoted, not printed raw")
	}
}

// Storage accepts exactly what fsm accepts, minus what cannot be a
// directory under releases/. Refusals by fsm's rule wrap its error.
func TestValidateVersion(t *testing.T) {
	t.Parallel()
	valid := []string{"7.11.2", "7.12.0-rc.1", "8.0.0+build.5", "7.14.3-rc-1", "10.0.0-A.b-C"}
	for _, v := range valid {
		require.NoError(t, fsm.ValidateVersion(v), "fsm accepts %q", v)
		assert.NoError(t, ValidateVersion(v), v)
	}
	tests := []struct {
		version string
		reason  string
		byFSM   bool // refused by fsm's rule (wrapped), not only by storage
	}{
		{"", "it is empty", true},
		{"v7.11.2", `it starts with "v": give the version without it`, true},
		{"V7.11.2", `it starts with "v"`, true},
		{"latest", "it is not MAJOR.MINOR.PATCH", true},
		{"7.14", "it is not MAJOR.MINOR.PATCH", true},
		{"7.14.3_1", `it contains '_'`, true},
		{"1_2", `it contains '_'`, true},
		{"..", "it is not MAJOR.MINOR.PATCH", true},
		{".hidden", "it is not MAJOR.MINOR.PATCH", true},
		{"-rf", "it is not MAJOR.MINOR.PATCH", true},
		{"7.11.2/../../etc", `it contains '/'`, true},
		{"7/11", `it contains '/'`, true},
		{"7 11", `it contains ' '`, true},
		{"7.11.2\x00", `it contains '\x00'`, true},
		{"7.11.2\n", `it contains '\n'`, true},
		{"7.11.2-ö", `it contains 'ö'`, true},
		{strings.Repeat("1", 65), "it is not MAJOR.MINOR.PATCH", true},
		{"7.14.3-rc..1", "it is not MAJOR.MINOR.PATCH", true},
		{"7.14.3-x..", "it is not MAJOR.MINOR.PATCH", true},
		// fsm accepts these; the volume cannot use them as directory names.
		{"7.14.3-x" + PartialInfix + "y", "reserves", false},
		{"7.14.3-x" + TempInfix + "y", "reserves", false},
		{"7.14.3-" + strings.Repeat("a", 58), "longer than 64", false},
	}
	for _, tc := range tests {
		err := ValidateVersion(tc.version)
		require.ErrorIs(t, err, ErrInvalidValue, "%q", tc.version)
		assert.NotErrorIs(t, err, ErrInvalidUnitName)
		var ve *ValueError
		require.ErrorAs(t, err, &ve, "%q", tc.version)
		assert.Equal(t, tc.version, ve.Value)
		assert.Contains(t, err.Error(), tc.reason, "%q", tc.version)
		assert.Contains(t, err.Error(), `such as "7.11.2"`, "the message shows a good version")
		assert.NotContains(t, err.Error(), "\x00", "the version is quoted, not printed raw")
		var fsmErr *fsm.InvalidVersionError
		if tc.byFSM {
			require.ErrorAs(t, err, &fsmErr, "%q: fsm's error is wrapped", tc.version)
			assert.Equal(t, tc.version, fsmErr.Version)
		} else {
			require.NoError(t, fsm.ValidateVersion(tc.version), "%q: fsm accepts it", tc.version)
			assert.False(t, errors.As(err, &fsmErr), "%q: a storage-only refusal", tc.version)
		}
	}
	// The exact message operators see for the common mistakes.
	assert.EqualError(t, ValidateVersion("v7.14.3"),
		`invalid version "v7.14.3": it starts with "v": give the version without it, as on github.com/concourse/concourse/releases; expected a Concourse version such as "7.11.2"`)
	assert.EqualError(t, ValidateVersion("latest"),
		`invalid version "latest": it is not MAJOR.MINOR.PATCH with an optional -prerelease or +build suffix; expected a Concourse version such as "7.11.2"`)
	assert.Empty(t, (&Volume{root: "/v"}).ReleaseDir("v7.14.3"), "no path for a refused version")
	assert.Equal(t, "/v/releases/7.14.3", (&Volume{root: "/v"}).ReleaseDir("7.14.3"))
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
		require.ErrorIs(t, err, ErrInvalidValue, sum)
		assert.Contains(t, err.Error(), reason, sum)
	}
}
