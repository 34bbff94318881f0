// Package relation is the charm's view of Juju: the hook context read from
// the JUJU_* environment, the hook tools behind one small interface (Juju),
// their production implementation (Exec, which runs the tools with Juju's
// argv forms), and typed access to the peer relation's data with the codec
// from fsm. relation/jujutest is an in-memory Juju that keeps Juju's rules.
package relation

import (
	"fmt"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// Kind says what Juju is running: a hook or an action.
type Kind int

// What a dispatch can be.
const (
	KindHook Kind = iota + 1
	KindAction
)

// Context is the hook context, parsed once from the environment Juju sets
// for the charm's dispatch.
type Context struct {
	// DispatchPath is JUJU_DISPATCH_PATH: hooks/<hook> or actions/<action>.
	DispatchPath string
	Kind         Kind
	// Hook is the hook's name (install, peers-relation-changed, ...);
	// Action the action's. Exactly one is set.
	Hook   string
	Action string
	Unit   unitname.Name
	Model  string
	// CharmDir is JUJU_CHARM_DIR, where dispatch and the YAML files live.
	CharmDir string
	// Relation hooks.
	RelationName  string
	RelationID    string
	RemoteApp     string
	RemoteUnit    string
	DepartingUnit string
	// Storage hooks.
	StorageID       string
	StorageLocation string
}

// EnvError names the variable that is missing or malformed.
type EnvError struct {
	Variable string
	Value    string
	Problem  string
}

func (e *EnvError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s %s", e.Variable, e.Problem)
	}
	return fmt.Sprintf("%s=%q %s", e.Variable, e.Value, e.Problem)
}

// ParseContext reads the hook context from getenv (os.Getenv in
// production).
func ParseContext(getenv func(string) string) (Context, error) {
	c := Context{
		DispatchPath:    getenv("JUJU_DISPATCH_PATH"),
		Model:           getenv("JUJU_MODEL_NAME"),
		CharmDir:        getenv("JUJU_CHARM_DIR"),
		RelationName:    getenv("JUJU_RELATION"),
		RelationID:      getenv("JUJU_RELATION_ID"),
		RemoteApp:       getenv("JUJU_REMOTE_APP"),
		RemoteUnit:      getenv("JUJU_REMOTE_UNIT"),
		DepartingUnit:   getenv("JUJU_DEPARTING_UNIT"),
		StorageID:       getenv("JUJU_STORAGE_ID"),
		StorageLocation: getenv("JUJU_STORAGE_LOCATION"),
	}
	kind, name, ok := strings.Cut(c.DispatchPath, "/")
	switch {
	case c.DispatchPath == "":
		return c, &EnvError{Variable: "JUJU_DISPATCH_PATH", Problem: "is not set: Juju sets it for every hook and action"}
	case !ok || name == "" || strings.Contains(name, "/"):
		return c, &EnvError{Variable: "JUJU_DISPATCH_PATH", Value: c.DispatchPath, Problem: "is neither hooks/<hook> nor actions/<action>"}
	case kind == "hooks":
		c.Kind, c.Hook = KindHook, name
	case kind == "actions":
		c.Kind, c.Action = KindAction, name
	default:
		return c, &EnvError{Variable: "JUJU_DISPATCH_PATH", Value: c.DispatchPath, Problem: "is neither hooks/<hook> nor actions/<action>"}
	}
	if c.Kind == KindAction {
		if a := getenv("JUJU_ACTION_NAME"); a != "" && a != c.Action {
			return c, &EnvError{Variable: "JUJU_ACTION_NAME", Value: a, Problem: "names another action than JUJU_DISPATCH_PATH " + c.DispatchPath}
		}
	}
	raw := getenv("JUJU_UNIT_NAME")
	if raw == "" {
		return c, &EnvError{Variable: "JUJU_UNIT_NAME", Problem: "is not set"}
	}
	unit, err := unitname.Parse(raw)
	if err != nil {
		return c, &EnvError{Variable: "JUJU_UNIT_NAME", Value: raw, Problem: "is not a unit name: " + err.(*unitname.Error).Reason}
	}
	c.Unit = unit
	for _, v := range []struct{ name, value string }{{"JUJU_REMOTE_UNIT", c.RemoteUnit}, {"JUJU_DEPARTING_UNIT", c.DepartingUnit}} {
		if v.value == "" {
			continue
		}
		if _, err := unitname.Parse(v.value); err != nil {
			return c, &EnvError{Variable: v.name, Value: v.value, Problem: "is not a unit name: " + err.(*unitname.Error).Reason}
		}
	}
	if c.RelationName != "" && c.RelationID == "" {
		return c, &EnvError{Variable: "JUJU_RELATION_ID", Problem: "is not set although JUJU_RELATION is " + c.RelationName}
	}
	if strings.HasSuffix(c.Hook, "-storage-attached") && (c.StorageID == "" || c.StorageLocation == "") {
		return c, &EnvError{Variable: "JUJU_STORAGE_ID and JUJU_STORAGE_LOCATION", Problem: "must both be set in " + c.Hook}
	}
	return c, nil
}

// Env is the environment that makes ParseContext give back c: what Juju
// (or a model of it) sets for a dispatch.
func (c Context) Env() []string {
	env := []string{
		"JUJU_DISPATCH_PATH=" + c.DispatchPath,
		"JUJU_UNIT_NAME=" + c.Unit.String(),
		"JUJU_MODEL_NAME=" + c.Model,
		"JUJU_CHARM_DIR=" + c.CharmDir,
	}
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	if c.Kind == KindHook {
		env = append(env, "JUJU_HOOK_NAME="+c.Hook)
	} else {
		env = append(env, "JUJU_ACTION_NAME="+c.Action)
	}
	add("JUJU_RELATION", c.RelationName)
	add("JUJU_RELATION_ID", c.RelationID)
	add("JUJU_REMOTE_APP", c.RemoteApp)
	add("JUJU_REMOTE_UNIT", c.RemoteUnit)
	add("JUJU_DEPARTING_UNIT", c.DepartingUnit)
	add("JUJU_STORAGE_ID", c.StorageID)
	add("JUJU_STORAGE_LOCATION", c.StorageLocation)
	return env
}

// HookContext builds the context of a hook for unit (for models of Juju
// and tests); fill the relation and storage fields as needed.
func HookContext(unit unitname.Name, hook string) Context {
	return Context{DispatchPath: "hooks/" + hook, Kind: KindHook, Hook: hook, Unit: unit}
}

// ActionContext builds the context of an action for unit.
func ActionContext(unit unitname.Name, action string) Context {
	return Context{DispatchPath: "actions/" + action, Kind: KindAction, Action: action, Unit: unit}
}
