package version

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means refused
		reason   string // part of the refusal
	}{
		{in: "7.14.3", want: "7.14.3"},
		{in: "0.0.0", want: "0.0.0"},
		{in: "v7.14.3", want: "7.14.3"},
		{in: "V7.14.3", want: "7.14.3"},
		{in: "7.14.3-rc.1", want: "7.14.3-rc.1"},
		{in: "7.14.3-rc.1+build.5", want: "7.14.3-rc.1+build.5"},
		{in: "7.14.3+build.5", want: "7.14.3+build.5"},
		{in: "7.14.3-alpha-2", want: "7.14.3-alpha-2"},
		{in: "10.20.30-0.3.7", want: "10.20.30-0.3.7"},
		{in: "", reason: "empty"},
		{in: "v", reason: "MAJOR.MINOR.PATCH"},
		{in: "7.14", reason: "MAJOR.MINOR.PATCH"},
		{in: "7.14.3.1", reason: "MAJOR.MINOR.PATCH"},
		{in: "07.14.3", reason: "MAJOR.MINOR.PATCH"},
		{in: "7.14.3-", reason: "MAJOR.MINOR.PATCH"},
		{in: "7.14.3-rc..1", reason: "MAJOR.MINOR.PATCH"},
		{in: "7.14.3-01", reason: "MAJOR.MINOR.PATCH"},
		{in: "7.14.3+", reason: "MAJOR.MINOR.PATCH"},
		{in: "vv7.14.3", reason: "MAJOR.MINOR.PATCH"},
		{in: "latest", reason: "MAJOR.MINOR.PATCH"},
		{in: "7.14.3/../x", reason: `contains '/'`},
		{in: "7.14.3\n", reason: `contains '\n'`},
		{in: "7.14.3 ", reason: `contains ' '`},
		{in: "1.2.3-" + strings.Repeat("a", 70), reason: "longer than 64"},
	}
	for _, tc := range tests {
		v, err := Parse(tc.in)
		if tc.want == "" {
			var verr *Error
			require.ErrorAs(t, err, &verr, "%q must be refused", tc.in)
			assert.Equal(t, tc.in, verr.Input)
			assert.Contains(t, err.Error(), tc.reason, "%q", tc.in)
			assert.True(t, v.IsZero())
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, v.String())
		assert.False(t, v.IsZero())
	}
}

// Semantic versioning: a release candidate precedes its release; numbers
// compare as numbers; build metadata has the same precedence and is then
// ordered by text so that the order is total.
func TestCompare(t *testing.T) {
	t.Parallel()
	ordered := []string{"7.9.0", "7.14.3-alpha", "7.14.3-rc.1", "7.14.3-rc.2", "7.14.3-rc.10", "7.14.3", "7.14.3+build.1", "7.14.3+build.2", "7.14.10", "8.0.0"}
	var vs []Version
	for _, s := range ordered {
		vs = append(vs, MustParse(s))
	}
	shuffled := slices.Clone(vs)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, Version.Compare)
	assert.Equal(t, vs, shuffled)
	for i := range vs {
		for j := range vs {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			assert.Equal(t, want, vs[i].Compare(vs[j]), "%s vs %s", vs[i], vs[j])
		}
	}
	assert.True(t, MustParse("7.14.3-rc.1").Less(MustParse("7.14.3")), "a release candidate must not outrank its release")
	assert.True(t, MustParse("7.14.3-rc.1").Prerelease())
	assert.False(t, MustParse("7.14.3+b").Prerelease())
	assert.Equal(t, 0, MustParse("v7.14.3").Compare(MustParse("7.14.3")))
	assert.Equal(t, -1, Version{}.Compare(MustParse("0.0.0")), "the zero Version sorts first")
}

func TestText(t *testing.T) {
	t.Parallel()
	type doc struct {
		V Version `json:"v"`
		W Version `json:"w"`
	}
	b, err := json.Marshal(doc{V: MustParse("7.14.3")})
	require.NoError(t, err)
	assert.JSONEq(t, `{"v":"7.14.3","w":""}`, string(b))
	var d doc
	require.NoError(t, json.Unmarshal(b, &d))
	assert.Equal(t, MustParse("7.14.3"), d.V)
	assert.True(t, d.W.IsZero())
	err = json.Unmarshal([]byte(`{"v":"7.x"}`), &d)
	var verr *Error
	assert.True(t, errors.As(err, &verr), "a bad version in JSON is a *version.Error: %v", err)
}
