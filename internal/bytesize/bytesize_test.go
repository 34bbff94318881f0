package bytesize

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{3 * MiB, "3.0 MiB"},
		{147259392, "140.4 MiB"},
		{MiB - 1, "1.0 MiB"}, // 1023.999 KiB rounds up to the next unit
		{5 * GiB, "5.0 GiB"},
		{TiB + TiB/2, "1.5 TiB"},
		{math.MaxInt64, "8.0 EiB"},
		{-1536, "-1.5 KiB"},
		{-1, "-1 B"},
		{math.MinInt64, "-8.0 EiB"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Format(tt.n), "%d", tt.n)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   int64
		reason string // "" means accepted
	}{
		{in: "0", want: 0},
		{in: "1048576", want: MiB},
		{in: "512B", want: 512},
		{in: "800M", want: 800 * MiB},
		{in: "800m", want: 800 * MiB},
		{in: "800Mi", want: 800 * MiB},
		{in: "800MiB", want: 800 * MiB},
		{in: " 600 MiB ", want: 600 * MiB},
		{in: "1.5GiB", want: GiB + GiB/2},
		{in: "1.5 KiB", want: 1536},
		{in: "2T", want: 2 * TiB},
		{in: "140.5 MiB", want: 147324928},
		{in: "", reason: "does not start with a number"},
		{in: "MiB", reason: "does not start with a number"},
		{in: "-1M", reason: "does not start with a number"},
		{in: "800MB", reason: "decimal units are ambiguous"},
		{in: "1GB", reason: "decimal units are ambiguous"},
		{in: "12 parsecs", reason: `unknown unit "parsecs"`},
		{in: "1.2.3M", reason: `"1.2.3" is not a number`},
		{in: "99999999E", reason: "unknown unit"},
		{in: "99999999999P", reason: "too large"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.reason == "" {
			require.NoError(t, err, "%q", tt.in)
			assert.Equal(t, tt.want, got, "%q", tt.in)
			continue
		}
		var pe *Error
		require.True(t, errors.As(err, &pe), "%q: want *Error, got %v", tt.in, err)
		assert.Equal(t, tt.in, pe.Input)
		assert.Contains(t, err.Error(), tt.reason, "%q", tt.in)
	}
}

// What Format writes, Parse reads back to within the rounding of one decimal.
func TestFormatParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, 1023, 1024, 1536, 3 * MiB, 147259392, 5*GiB + 7, TiB} {
		got, err := Parse(Format(n))
		require.NoError(t, err, "%d", n)
		assert.InDelta(t, float64(n), float64(got), float64(n)/200+1, "%d -> %q -> %d", n, Format(n), got)
	}
}
