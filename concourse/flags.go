package concourse

import (
	"embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Role is a Concourse subcommand the charm runs: `concourse web` or
// `concourse worker`.
type Role string

const (
	RoleWeb    Role = "web"
	RoleWorker Role = "worker"
)

// Roles lists the roles in a fixed order.
func Roles() []Role { return []Role{RoleWeb, RoleWorker} }

// Flag is one command-line flag of a role and the environment variable
// Concourse reads it from.
type Flag struct {
	Name     string   // long name without "--", e.g. "bind-port"
	Env      string   // e.g. CONCOURSE_BIND_PORT
	Required bool     // Concourse refuses to start without it
	Hidden   bool     // not in --help, but accepted
	List     bool     // a comma-separated list of values
	Choices  []string // the only values accepted, when not empty
}

// Settings the worker reads outside its flag list. CONCOURSE_GARDEN_* is
// forwarded to gdn (guardian only); the containerd namespace suffix is read
// with os.Getenv (worker/workercmd/containerd.go).
const (
	GardenEnvPrefix              = "CONCOURSE_GARDEN_"
	ContainerdEnvPrefix          = "CONCOURSE_CONTAINERD_"
	ContainerdNamespaceSuffixEnv = "CONCOURSE_CONTAINERD_NAMESPACE_SUFFIX"
)

//go:embed flags/web.flags flags/worker.flags
var flagFiles embed.FS

// flagTable is the parsed flag list per role, built once: the embedded
// files never change while the program runs.
var flagTable = sync.OnceValue(func() map[Role][]Flag {
	t := map[Role][]Flag{}
	for _, r := range Roles() {
		data, err := flagFiles.ReadFile("flags/" + string(r) + ".flags")
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		flags, err := parseFlagList(string(data))
		if err != nil {
			panic(fmt.Sprintf("concourse: flags/%s.flags: %v", r, err))
		}
		t[r] = flags
	}
	return t
})

// parseFlagList reads the line format documented at the top of the files.
func parseFlagList(text string) ([]Flag, error) {
	var flags []Flag
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		f := Flag{Name: fields[0], Env: flagEnv(fields[0])}
		for _, attr := range fields[1:] {
			switch key, value, _ := strings.Cut(attr, "="); key {
			case "required":
				f.Required = true
			case "hidden":
				f.Hidden = true
			case "list":
				f.List = true
			case "choices":
				f.Choices = strings.Split(value, ",")
			case "env":
				f.Env = value
			default:
				return nil, fmt.Errorf("line %d: unknown attribute %q", i+1, attr)
			}
		}
		if seen[f.Env] {
			return nil, fmt.Errorf("line %d: %s listed twice", i+1, f.Env)
		}
		seen[f.Env] = true
		flags = append(flags, f)
	}
	return flags, nil
}

// flagEnv is go-flags' environment name for a flag under Concourse's
// CONCOURSE_ namespace: bind-port -> CONCOURSE_BIND_PORT.
func flagEnv(name string) string {
	return "CONCOURSE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Flags returns the flag list of role (a copy), in the order of the source.
// An unknown role has none.
func Flags(role Role) []Flag {
	return slices.Clone(flagTable()[role])
}

// UnknownSettingError: a CONCOURSE_* variable that role does not read. A
// typo in a setting would otherwise be silently ignored by Concourse.
type UnknownSettingError struct {
	Role Role
	Key  string
}

func (e *UnknownSettingError) Error() string {
	return fmt.Sprintf("concourse %s has no setting %s", e.Role, e.Key)
}

// MissingSettingError: a setting Concourse (or the charm's rendering)
// requires is absent or empty.
type MissingSettingError struct {
	Role Role
	Key  string
}

func (e *MissingSettingError) Error() string {
	return fmt.Sprintf("concourse %s needs %s, which is not set", e.Role, e.Key)
}

// InvalidChoiceError: a setting whose value is not one of the values
// Concourse accepts. The value itself is not repeated (it may be a secret
// the operator pasted into the wrong key).
type InvalidChoiceError struct {
	Role    Role
	Key     string
	Choices []string
}

func (e *InvalidChoiceError) Error() string {
	return fmt.Sprintf("concourse %s: %s is not one of %s", e.Role, e.Key, strings.Join(e.Choices, ", "))
}

// RuntimeConflictError: a runtime-specific setting given with a worker
// runtime that refuses it (Concourse's verifyRuntimeFlags).
type RuntimeConflictError struct {
	Runtime string
	Key     string
}

func (e *RuntimeConflictError) Error() string {
	return fmt.Sprintf("concourse worker with runtime %s refuses %s", e.Runtime, e.Key)
}

// CheckEnv refuses an environment that `concourse <role>` would refuse or
// silently misread: unknown CONCOURSE_* variables, missing required
// settings, values outside a flag's choices, and (worker) settings of
// another runtime. Variables outside the CONCOURSE_ namespace are not
// Concourse's and pass, except those the role reads (the worker's proxies),
// which are checked like the rest. All problems are reported, joined, in
// key order.
func CheckEnv(role Role, env map[string]string) error {
	flags, ok := flagTable()[role]
	if !ok {
		return fmt.Errorf("concourse: unknown role %q", role)
	}
	errs := checkKeys(role, env)
	for _, f := range flags {
		if f.Required && env[f.Env] == "" {
			errs = append(errs, &MissingSettingError{Role: role, Key: f.Env})
		}
	}
	if role == RoleWorker {
		errs = append(errs, checkRuntimeSettings(env)...)
	}
	return errors.Join(errs...)
}

// checkKeys checks each variable on its own: known to role, and one of its
// choices.
func checkKeys(role Role, env map[string]string) []error {
	byEnv := map[string]Flag{}
	for _, f := range flagTable()[role] {
		byEnv[f.Env] = f
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(env)) {
		f, known := byEnv[key]
		switch {
		case known:
			if err := checkChoice(role, f, env[key]); err != nil {
				errs = append(errs, err)
			}
		case strings.HasPrefix(key, "CONCOURSE_") && !passThrough(role, key):
			errs = append(errs, &UnknownSettingError{Role: role, Key: key})
		}
	}
	return errs
}

// passThrough reports the CONCOURSE_* variables a role reads outside its
// flag list.
func passThrough(role Role, key string) bool {
	return role == RoleWorker && (strings.HasPrefix(key, GardenEnvPrefix) || key == ContainerdNamespaceSuffixEnv)
}

func checkChoice(role Role, f Flag, value string) error {
	if len(f.Choices) == 0 || value == "" {
		return nil
	}
	values := []string{value}
	if f.List {
		values = strings.Split(value, ",")
	}
	for _, v := range values {
		if !slices.Contains(f.Choices, strings.TrimSpace(v)) {
			return &InvalidChoiceError{Role: role, Key: f.Env, Choices: slices.Clone(f.Choices)}
		}
	}
	return nil
}

// checkRuntimeSettings keeps verifyRuntimeFlags' rule: the runtime's
// default is guardian on amd64, as in worker_linux_amd64.go.
func checkRuntimeSettings(env map[string]string) []error {
	runtime := env["CONCOURSE_RUNTIME"]
	if runtime == "" {
		runtime = string(RuntimeGuardian)
	}
	var refused []string
	switch Runtime(runtime) {
	case RuntimeHoudini:
		refused = []string{GardenEnvPrefix, ContainerdEnvPrefix}
	case RuntimeContainerd:
		refused = []string{GardenEnvPrefix}
	case RuntimeGuardian:
		refused = []string{ContainerdEnvPrefix}
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(env)) {
		for _, prefix := range refused {
			if strings.HasPrefix(key, prefix) {
				errs = append(errs, &RuntimeConflictError{Runtime: runtime, Key: key})
			}
		}
	}
	return errs
}
