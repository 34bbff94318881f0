package concourse

import (
	"fmt"
	"slices"
	"strings"
)

// Runtime is the worker's container runtime (`concourse worker --runtime`).
type Runtime string

const (
	RuntimeContainerd Runtime = "containerd"
	RuntimeGuardian   Runtime = "guardian"
	RuntimeHoudini    Runtime = "houdini" // runs steps on the host: no isolation
)

// BaggageclaimDriver is the worker's volume driver
// (`concourse worker --baggageclaim-driver`). naive copies instead of
// layering, so it is the one that works on NFS or CephFS.
type BaggageclaimDriver string

const (
	DriverDetect  BaggageclaimDriver = "detect"
	DriverOverlay BaggageclaimDriver = "overlay"
	DriverBtrfs   BaggageclaimDriver = "btrfs"
	DriverNaive   BaggageclaimDriver = "naive"
)

// LogLevel is Concourse's --log-level; it has no "warn".
type LogLevel string

const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogError LogLevel = "error"
	LogFatal LogLevel = "fatal"
)

// InvalidValueError: a value outside the few a setting accepts (these are
// names such as "containerd", never secrets, so the value is kept).
type InvalidValueError struct {
	Field   string // e.g. "worker-runtime"
	Value   string
	Choices []string
}

func (e *InvalidValueError) Error() string {
	return fmt.Sprintf("%s %q is not one of %s", e.Field, e.Value, strings.Join(e.Choices, ", "))
}

func parseChoice[T ~string](field, s string, choices ...T) (T, error) {
	if slices.Contains(choices, T(s)) {
		return T(s), nil
	}
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = string(c)
	}
	return "", &InvalidValueError{Field: field, Value: s, Choices: names}
}

// ParseRuntime reads a runtime name; field names the option it came from
// for the error.
func ParseRuntime(field, s string) (Runtime, error) {
	return parseChoice(field, s, RuntimeContainerd, RuntimeGuardian, RuntimeHoudini)
}

// ParseBaggageclaimDriver reads a baggageclaim driver name.
func ParseBaggageclaimDriver(field, s string) (BaggageclaimDriver, error) {
	return parseChoice(field, s, DriverDetect, DriverOverlay, DriverBtrfs, DriverNaive)
}

// ParseLogLevel reads a Concourse log level.
func ParseLogLevel(field, s string) (LogLevel, error) {
	return parseChoice(field, s, LogDebug, LogInfo, LogError, LogFatal)
}
