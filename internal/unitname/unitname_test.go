package unitname

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
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
		n, err := Parse(tc.name)
		if tc.reason == "" {
			require.NoError(t, err, "%q", tc.name)
			assert.Equal(t, tc.name, n.String(), "String gives back what was parsed")
			continue
		}
		var e *Error
		require.ErrorAs(t, err, &e, "%q", tc.name)
		assert.Equal(t, tc.name, e.Input)
		assert.Contains(t, err.Error(), tc.reason, "%q", tc.name)
		assert.NotContains(t, err.Error(), "\x00", "the name is quoted, not printed raw")
		assert.True(t, n.IsZero())
	}
}

func TestSlugIsOneToOne(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "concourse-ci-0", MustParse("concourse-ci/0").Slug())
	assert.NotEqual(t, MustParse("a-1/2").Slug(), MustParse("a/12").Slug())
	assert.Equal(t, "a-12", MustParse("a/12").Slug())
	require.NoError(t, CheckApp("concourse-ci"))
	for _, n := range []string{"concourse/0", "concourse-ci-machine/12", "a/7"} {
		back, err := ParseSlug(MustParse(n).Slug())
		require.NoError(t, err, n)
		assert.Equal(t, n, back.String())
	}
	for _, bad := range []string{"odd", "odd-x", "odd-01", "-3", "Odd-1"} {
		_, err := ParseSlug(bad)
		var e *Error
		require.ErrorAs(t, err, &e, bad)
		assert.Equal(t, bad, e.Input)
	}
	assert.Error(t, CheckApp("Concourse"))
}
