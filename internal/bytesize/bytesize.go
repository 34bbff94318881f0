// Package bytesize is the one way the charm writes and reads amounts of
// bytes for people: binary (IEC) units everywhere, so a status line, an
// error and `inspect` never disagree on what a "MB" is. It imports nothing
// of the charm's.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Binary multiples.
const (
	KiB int64 = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
	EiB
)

// units are the names Format writes, from KiB up.
var units = [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Format writes n bytes in binary units with one decimal: "512 B",
// "1.5 KiB", "140.4 MiB", "2.0 GiB". Negative amounts carry a minus sign.
func Format(n int64) string {
	if n < 0 {
		if n == math.MinInt64 {
			return "-8.0 EiB"
		}
		return "-" + Format(-n)
	}
	if n < KiB {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, i := KiB, 0
	for n/div >= 1024 && i < len(units)-1 {
		div <<= 10
		i++
	}
	// Rounding may reach 1024.0 of a unit: then say 1.0 of the next one.
	s := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	if s == "1024.0" && i < len(units)-1 {
		return "1.0 " + units[i+1]
	}
	return s + " " + units[i]
}

// Error says why a string is not an amount of bytes.
type Error struct {
	Input  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not an amount of bytes: %s", e.Input, e.Reason)
}

// multipliers are the suffixes Parse accepts, all binary. Decimal names
// (KB, MB, GB) are refused rather than guessed.
var multipliers = map[string]int64{
	"": 1, "b": 1,
	"k": KiB, "ki": KiB, "kib": KiB,
	"m": MiB, "mi": MiB, "mib": MiB,
	"g": GiB, "gi": GiB, "gib": GiB,
	"t": TiB, "ti": TiB, "tib": TiB,
	"p": PiB, "pi": PiB, "pib": PiB,
}

// Parse reads an amount such as "800M", "1.5GiB", "600 MiB" or "1048576"
// (bytes). Every unit is binary: M and MiB both mean 2^20 bytes, as in Juju's
// constraints; "MB" and the other decimal names are refused, so no amount
// means two things. The result is rounded down to whole bytes.
func Parse(s string) (int64, error) {
	bad := func(reason string) (int64, error) { return 0, &Error{Input: s, Reason: reason} }
	t := strings.TrimSpace(s)
	end := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(t)
	}
	num, suffix := t[:end], strings.ToLower(strings.TrimSpace(t[end:]))
	if num == "" {
		return bad("it does not start with a number")
	}
	mult, ok := multipliers[suffix]
	switch {
	case !ok && (suffix == "kb" || suffix == "mb" || suffix == "gb" || suffix == "tb" || suffix == "pb"):
		return bad("decimal units are ambiguous here; use binary ones such as 800M or 800MiB (1M = 1048576 bytes)")
	case !ok:
		return bad(fmt.Sprintf("unknown unit %q (use B, K, M, G, T, P or KiB, MiB, GiB, TiB, PiB)", strings.TrimSpace(t[end:])))
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return bad(fmt.Sprintf("%q is not a number", num))
	}
	bytes := f * float64(mult)
	if bytes >= math.MaxInt64 {
		return bad("it is too large")
	}
	return int64(bytes), nil
}
