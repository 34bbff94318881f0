package storage

import (
	"strings"
	"testing"

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

func TestValidateVersion(t *testing.T) {
	t.Parallel()
	valid := []string{"7.11.2", "v7.11.2", "7.12.0-rc.1", "8.0.0+build.5", "1_2"}
	for _, v := range valid {
		assert.NoError(t, ValidateVersion(v), v)
	}
	invalid := map[string]string{
		"":                         "empty",
		"..":                       "start with a letter or digit",
		"1..2":                     `".."`,
		".hidden":                  "start with a letter or digit",
		"-rf":                      "start with a letter or digit",
		"7.11.2/../../etc":         `".."`,
		"7/11":                     `contains '/'`,
		"7 11":                     `contains ' '`,
		"7.11\x00":                 `contains '\x00'`,
		"7.0" + PartialInfix + "x": "reserves",
		"7.0" + TempInfix + "x":    "reserves",
		strings.Repeat("1", 65):    "longer than 64",
	}
	for v, reason := range invalid {
		err := ValidateVersion(v)
		require.ErrorIs(t, err, ErrInvalidValue, "%q", v)
		assert.NotErrorIs(t, err, ErrInvalidUnitName)
		assert.Contains(t, err.Error(), reason, "%q", v)
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
		require.ErrorIs(t, err, ErrInvalidValue, sum)
		assert.Contains(t, err.Error(), reason, sum)
	}
}
