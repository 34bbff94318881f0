package services

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
)

// EnvironmentFileMode is the mode of every environment file: they hold
// secrets (database password, local users), readable by root only.
const EnvironmentFileMode = 0o600

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// RenderEnvironmentFile renders env as a systemd EnvironmentFile, keys
// sorted. Every value is double-quoted with "\", "\"", "$" and "`"
// backslash-escaped, which systemd's parser turns back into the exact value
// (checked against a real systemd in the tests). A bad key or a value with a
// control character is rejected naming the variable, never its value.
func RenderEnvironmentFile(env map[string]string) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# Written by the concourse-ci-machine charm; changes are overwritten.\n")
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		field := "environment variable " + k
		if !envKey.MatchString(k) {
			return nil, &ValidationError{Field: fmt.Sprintf("environment variable %q", k), Problem: "is not a valid variable name (letters, digits, underscore; not starting with a digit)"}
		}
		v := env[k]
		if err := checkText(field, v); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s=\"%s\"\n", k, quote.Replace(v))
	}
	return []byte(b.String()), nil
}

// WriteEnvironmentFile renders env and writes it to path atomically with
// mode 0600 (the mode is set before any byte is written). It reports
// whether the file changed; on a validation error nothing is written.
func WriteEnvironmentFile(path string, env map[string]string) (bool, error) {
	if err := checkPath("EnvironmentFile", path); err != nil {
		return false, err
	}
	data, err := RenderEnvironmentFile(env)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("services: create %s: %w", filepath.Dir(path), err)
	}
	return fsutil.WriteFileIfChanged(path, data, EnvironmentFileMode)
}
