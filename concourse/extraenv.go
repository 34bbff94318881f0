package concourse

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ExtraEnvError: a line of the web-environment or worker-environment
// option that cannot be used. Line counts from 1; Key is empty when the
// line has none. The value is never repeated: it may be a secret.
type ExtraEnvError struct {
	Role   Role
	Line   int
	Key    string
	Reason string
}

func (e *ExtraEnvError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s environment, line %d: %s", e.Role, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s environment, line %d (%s): %s", e.Role, e.Line, e.Key, e.Reason)
}

// ManagedSettingError: the operator's pass-through sets a variable the
// charm sets itself (keys, database, ports, ...): the charm's value would
// silently lose or win.
type ManagedSettingError struct {
	Role Role
	Key  string
}

func (e *ManagedSettingError) Error() string {
	return fmt.Sprintf("%s is set by the charm for concourse %s and cannot be passed through", e.Key, e.Role)
}

var concourseKey = regexp.MustCompile(`^CONCOURSE_[A-Z0-9_]+$`)

// ParseExtraEnv reads the operator's pass-through settings for role: one
// KEY=value a line; blank lines and lines starting with # are skipped;
// the value is everything after the first "=", kept as it is (no quotes
// are removed). A key must be a CONCOURSE_* setting role reads (see
// CheckEnv), appear once, and not be one the charm sets (ManagedKeys); a
// value must be one line of text and, for a setting with choices, one of
// them. Rules that need the whole environment (a worker runtime's
// settings) are checked when it is rendered.
func ParseExtraEnv(role Role, text string) (map[string]string, error) {
	env := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(key, reason string) (map[string]string, error) {
			return nil, &ExtraEnvError{Role: role, Line: i + 1, Key: key, Reason: reason}
		}
		key, value, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			return bad("", `has no "=" (expected KEY=value)`)
		case !concourseKey.MatchString(key):
			if strings.HasPrefix(key, "CONCOURSE_") {
				return bad("", "its key is not CONCOURSE_ followed by upper-case letters, digits and underscores")
			}
			return bad("", "its key does not start with CONCOURSE_")
		case strings.ContainsFunc(value, isControl):
			return bad(key, "its value contains a control character")
		}
		if _, dup := env[key]; dup {
			return bad(key, "is set twice")
		}
		if isManaged(role, key) {
			return nil, &ManagedSettingError{Role: role, Key: key}
		}
		if errs := checkKeys(role, map[string]string{key: value}); len(errs) > 0 {
			return nil, errs[0]
		}
		env[key] = value
	}
	return env, nil
}

// ManagedKeys lists the variables the charm sets for role, which the
// pass-through refuses: the bind ports of its PortSet and the rest below.
// Some are set only in some configurations (the PostgreSQL CA, containerd
// paths), but they are the charm's in all.
func ManagedKeys(role Role) []string {
	var rest []string
	switch role {
	case RoleWeb:
		rest = []string{
			"CONCOURSE_EXTERNAL_URL", "CONCOURSE_PEER_ADDRESS",
			"CONCOURSE_POSTGRES_HOST", "CONCOURSE_POSTGRES_PORT", "CONCOURSE_POSTGRES_USER", "CONCOURSE_POSTGRES_PASSWORD",
			"CONCOURSE_POSTGRES_DATABASE", "CONCOURSE_POSTGRES_SSLMODE", "CONCOURSE_POSTGRES_CA_CERT",
			"CONCOURSE_SESSION_SIGNING_KEY", "CONCOURSE_TSA_HOST_KEY", "CONCOURSE_TSA_AUTHORIZED_KEYS",
			"CONCOURSE_ADD_LOCAL_USER", "CONCOURSE_MAIN_TEAM_LOCAL_USER",
			"CONCOURSE_LOG_LEVEL", "CONCOURSE_TSA_LOG_LEVEL", "CONCOURSE_CLUSTER_NAME",
		}
	case RoleWorker:
		rest = []string{
			"CONCOURSE_NAME", "CONCOURSE_WORK_DIR",
			"CONCOURSE_TSA_HOST", "CONCOURSE_TSA_PUBLIC_KEY", "CONCOURSE_TSA_WORKER_PRIVATE_KEY",
			"CONCOURSE_RUNTIME", "CONCOURSE_BAGGAGECLAIM_DRIVER",
			"CONCOURSE_CONTAINERD_INIT_BIN", "CONCOURSE_CONTAINERD_CNI_PLUGINS_DIR",
			"CONCOURSE_LOG_LEVEL", "CONCOURSE_BAGGAGECLAIM_LOG_LEVEL", "CONCOURSE_TAG",
		}
	default:
		return nil
	}
	var keys []string
	for _, e := range (PortSet{}).entries() {
		if e.role == role {
			keys = append(keys, e.env)
		}
	}
	return append(keys, rest...)
}

func isManaged(role Role, key string) bool {
	return slices.Contains(ManagedKeys(role), key)
}
