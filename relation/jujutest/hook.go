package jujutest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// Hook is one hook or action running on a unit: begun (the unit's view of
// the committed data is taken), then run, then committed or cut off. Other
// units' hooks may run between these steps.
type Hook struct {
	m     *Model
	unit  *Unit
	app   *app
	Event Event
	// Context is what the dispatch sees in its environment.
	Context relation.Context
	ID      string

	// The view: what was committed when the hook began.
	appBag map[string]string
	bags   map[string]map[string]string
	joined []string
	// This hook's own writes, committed only on success.
	ownWrites map[string]string
	appWrites map[string]string
	wroteApp  bool

	ran    bool
	err    error
	closed bool
}

// ErrNotLeader is what Juju answers a non-leader that writes the
// application bag, and what a commit meets when leadership moved meanwhile.
var ErrNotLeader = errors.New("cannot write application settings: this unit is not the leader")

// Begin starts the next event queued on unit: its relation-list changes as
// the event says (a joined peer appears, a departed one goes), and the hook
// takes its snapshot of the committed data. It returns nil when the unit
// has nothing to run or runs a hook already.
func (m *Model) Begin(unit string) *Hook {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	if u == nil || u.running != nil || len(u.queue) == 0 {
		return nil
	}
	e := u.queue[0]
	u.queue = u.queue[1:]
	a := m.apps[u.Name.App]
	switch e.Hook {
	case "peers-relation-created":
		if !u.created {
			u.created = true
			// Peers learn of the new unit from now on; it learns of them
			// after its start hook.
			for _, p := range m.peersOf(u) {
				m.enqueue(p, Event{Hook: "peers-relation-joined", RelationID: a.peerRel, RemoteUnit: unit, RemoteApp: a.name})
				m.enqueue(p, Event{Hook: "peers-relation-changed", RelationID: a.peerRel, RemoteUnit: unit, RemoteApp: a.name})
			}
		}
	case "start":
		for _, p := range m.peersOf(u) {
			if !u.joined[p.Name.String()] {
				m.enqueue(u, Event{Hook: "peers-relation-joined", RelationID: a.peerRel, RemoteUnit: p.Name.String(), RemoteApp: a.name})
				m.enqueue(u, Event{Hook: "peers-relation-changed", RelationID: a.peerRel, RemoteUnit: p.Name.String(), RemoteApp: a.name})
			}
		}
	case "peers-relation-joined":
		u.joined[e.RemoteUnit] = true
	case "peers-relation-departed":
		delete(u.joined, e.RemoteUnit)
	}
	m.hooksRun++
	h := &Hook{
		m: m, unit: u, app: a, Event: e,
		ID:        fmt.Sprintf("%s-%d", u.Name.Slug(), m.hooksRun),
		appBag:    maps.Clone(a.appBag),
		bags:      map[string]map[string]string{},
		ownWrites: map[string]string{},
		appWrites: map[string]string{},
	}
	for name, bag := range a.bags {
		h.bags[name] = maps.Clone(bag)
	}
	for name := range u.joined {
		if p := m.units[name]; p != nil {
			h.joined = append(h.joined, name)
		}
	}
	slices.Sort(h.joined)
	h.Context = m.contextFor(u, a, e)
	u.running = h
	return h
}

func (m *Model) contextFor(u *Unit, a *app, e Event) relation.Context {
	var c relation.Context
	if e.Action != nil {
		c = relation.ActionContext(u.Name, e.Action.Name)
	} else {
		c = relation.HookContext(u.Name, e.Hook)
	}
	c.Model, c.CharmDir = m.name, a.charmDir
	c.RelationID, c.RemoteUnit, c.RemoteApp, c.DepartingUnit = e.RelationID, e.RemoteUnit, e.RemoteApp, e.DepartingUnit
	if e.RelationID != "" {
		c.RelationName = strings.SplitN(e.RelationID, ":", 2)[0]
	}
	if strings.HasPrefix(e.Hook, "concourse-data-storage-") {
		c.StorageID, c.StorageLocation = "concourse-data/"+strconv.Itoa(u.Name.Number), u.Storage
	}
	return c
}

// Run calls the charm for the hook with this hook's view of Juju.
func (h *Hook) Run(ctx context.Context, dispatch Dispatcher) error {
	h.ran = true
	h.err = dispatch(ctx, h.Context, h.Juju())
	return h.err
}

// Juju is the hook tools as this hook sees them.
func (h *Hook) Juju() relation.Juju { return hookJuju{h} }

// Commit ends the hook the way Juju does: when it failed (or wrote the
// application bag without being the leader any more) its writes vanish and
// it is queued again first, to be retried; otherwise its writes become
// visible and every other unit whose view changed gets relation-changed.
// It returns the error that made the hook fail, if any.
func (h *Hook) Commit() error {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.closed {
		return errors.New("jujutest: hook committed twice")
	}
	h.closed = true
	h.unit.running = nil
	err := h.err
	if !h.ran {
		err = errors.New("jujutest: hook committed without running")
	}
	if err == nil && h.wroteApp && h.app.leader != h.unit.Name.String() {
		err = ErrNotLeader
	}
	if err != nil {
		h.fail(err)
		return err
	}
	if a := h.Event.Action; a != nil {
		a.Done = true
	}
	self := h.unit.Name.String()
	if changed := apply(h.app.bags[self], h.ownWrites); changed {
		for _, p := range m.peersOf(h.unit) {
			if p.joined[self] {
				m.enqueue(p, Event{Hook: "peers-relation-changed", RelationID: h.app.peerRel, RemoteUnit: self, RemoteApp: h.app.name})
			}
		}
	}
	if changed := apply(h.app.appBag, h.appWrites); changed {
		for _, p := range m.peersOf(h.unit) {
			m.enqueue(p, Event{Hook: "peers-relation-changed", RelationID: h.app.peerRel, RemoteApp: h.app.name})
		}
	}
	m.tracef("%s: %s -> committed%s", self, h.Event, describeWrites(h.ownWrites, h.appWrites))
	return nil
}

// CutOff ends the hook as a killed process would: whatever it did on the
// machine stays, its relation writes vanish, and Juju retries it.
func (h *Hook) CutOff() {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	h.unit.running = nil
	h.fail(errors.New("cut off"))
}

// fail drops the writes and queues the event again first. A failed action
// is not retried: Juju reports it failed.
func (h *Hook) fail(err error) {
	h.unit.failed++
	if a := h.Event.Action; a != nil {
		a.Done, a.Failed = true, true
		if a.Message == "" {
			a.Message = err.Error()
		}
	} else {
		h.unit.queue = append([]Event{h.Event}, h.unit.queue...)
	}
	h.m.tracef("%s: %s -> failed (%v), writes dropped", h.unit.Name, h.Event, err)
}

// Err is the dispatch's error (nil before Run).
func (h *Hook) Err() error { return h.err }

func apply(bag, writes map[string]string) bool {
	changed := false
	for k, v := range writes {
		old, had := bag[k]
		switch {
		case v == "" && had:
			delete(bag, k)
			changed = true
		case v != "" && old != v:
			bag[k] = v
			changed = true
		}
	}
	return changed
}

func describeWrites(own, app map[string]string) string {
	var parts []string
	if len(own) > 0 {
		parts = append(parts, "unit bag "+describeBag(own))
	}
	if len(app) > 0 {
		parts = append(parts, "app bag "+describeBag(app))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func describeBag(bag map[string]string) string {
	keys := slices.Sorted(maps.Keys(bag))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + bag[k]
	}
	return strings.Join(parts, " ")
}

// hookJuju answers the hook tools for one hook.
type hookJuju struct{ h *Hook }

var _ relation.Juju = hookJuju{}

func (j hookJuju) lock() func() { j.h.m.mu.Lock(); return j.h.m.mu.Unlock }

// ToolError is a tool call the model refuses, as Juju would.
type ToolError struct {
	Tool    string
	Message string
}

func (e *ToolError) Error() string { return e.Tool + ": " + e.Message }

func (j hookJuju) IsLeader(ctx context.Context) (bool, error) {
	defer j.lock()()
	return j.h.app.leader == j.h.unit.Name.String(), nil
}

func (j hookJuju) RelationIDs(ctx context.Context, name string) ([]string, error) {
	defer j.lock()()
	if name == relation.PeerRelation && j.h.unit.created {
		return []string{j.h.app.peerRel}, nil
	}
	return []string{}, nil
}

func (j hookJuju) checkRelation(tool, id string) error {
	if id != j.h.app.peerRel || !j.h.unit.created {
		return &ToolError{Tool: tool, Message: fmt.Sprintf("relation %q not found", id)}
	}
	return nil
}

func (j hookJuju) RelationList(ctx context.Context, id string) ([]string, error) {
	defer j.lock()()
	if err := j.checkRelation("relation-list", id); err != nil {
		return nil, err
	}
	return slices.Clone(j.h.joined), nil
}

func (j hookJuju) RelationGet(ctx context.Context, id, who string, app bool) (map[string]string, error) {
	defer j.lock()()
	if err := j.checkRelation("relation-get", id); err != nil {
		return nil, err
	}
	self := j.h.unit.Name.String()
	switch {
	case app && who == j.h.app.name:
		bag := maps.Clone(j.h.appBag)
		apply(bag, j.h.appWrites)
		return bag, nil
	case app:
		return nil, &ToolError{Tool: "relation-get", Message: fmt.Sprintf("application %q is not in relation %s", who, id)}
	case who == self:
		bag := maps.Clone(j.h.bags[self])
		apply(bag, j.h.ownWrites)
		return bag, nil
	case slices.Contains(j.h.joined, who) || who == j.h.Event.RemoteUnit:
		if bag, ok := j.h.bags[who]; ok {
			return maps.Clone(bag), nil
		}
		return map[string]string{}, nil
	}
	return nil, &ToolError{Tool: "relation-get", Message: fmt.Sprintf("cannot read settings for unit %q in relation %q: permission denied", who, id)}
}

func (j hookJuju) RelationSet(ctx context.Context, id string, app bool, data map[string]string) error {
	defer j.lock()()
	if err := j.checkRelation("relation-set", id); err != nil {
		return err
	}
	if app {
		if j.h.app.leader != j.h.unit.Name.String() {
			return &ToolError{Tool: "relation-set", Message: ErrNotLeader.Error()}
		}
		maps.Copy(j.h.appWrites, data)
		j.h.wroteApp = true
		return nil
	}
	maps.Copy(j.h.ownWrites, data)
	return nil
}

func (j hookJuju) ConfigGet(ctx context.Context) (map[string]any, error) {
	defer j.lock()()
	return maps.Clone(j.h.app.config), nil
}

func (j hookJuju) action(tool string) (*Action, error) {
	if a := j.h.Event.Action; a != nil {
		return a, nil
	}
	return nil, &ToolError{Tool: tool, Message: "not running an action"}
}

func (j hookJuju) ActionGet(ctx context.Context) (map[string]any, error) {
	defer j.lock()()
	a, err := j.action("action-get")
	if err != nil {
		return nil, err
	}
	return maps.Clone(a.Params), nil
}

func (j hookJuju) ActionSet(ctx context.Context, results map[string]string) error {
	defer j.lock()()
	a, err := j.action("action-set")
	if err != nil {
		return err
	}
	for k := range results {
		if err := relation.CheckActionKey(k); err != nil {
			return &ToolError{Tool: "action-set", Message: err.Error()}
		}
	}
	if a.Results == nil {
		a.Results = map[string]string{}
	}
	maps.Copy(a.Results, results)
	return nil
}

func (j hookJuju) ActionFail(ctx context.Context, message string) error {
	defer j.lock()()
	a, err := j.action("action-fail")
	if err != nil {
		return err
	}
	a.Failed, a.Message = true, message
	return nil
}

func (j hookJuju) ActionLog(ctx context.Context, message string) error {
	defer j.lock()()
	a, err := j.action("action-log")
	if err != nil {
		return err
	}
	a.Logs = append(a.Logs, message)
	return nil
}

func (j hookJuju) StatusSet(ctx context.Context, s relation.Status) error {
	defer j.lock()()
	switch s.State {
	case relation.Active, relation.Maintenance, relation.Waiting, relation.Blocked:
	default:
		return &ToolError{Tool: "status-set", Message: fmt.Sprintf("invalid status %q", s.State)}
	}
	if s.Application {
		if j.h.app.leader != j.h.unit.Name.String() {
			return &ToolError{Tool: "status-set", Message: "cannot set application status: this unit is not the leader"}
		}
		j.h.app.status = s
		return nil
	}
	j.h.unit.status = s
	return nil
}

func (j hookJuju) ApplicationVersionSet(ctx context.Context, v string) error {
	defer j.lock()()
	j.h.app.version = v
	return nil
}

func (j hookJuju) Log(ctx context.Context, level relation.LogLevel, message string) error {
	defer j.lock()()
	j.h.unit.logs = append(j.h.unit.logs, string(level)+" "+message)
	return nil
}

func (j hookJuju) StorageGet(ctx context.Context, id, attribute string) (string, error) {
	defer j.lock()()
	want := "concourse-data/" + strconv.Itoa(j.h.unit.Name.Number)
	if id != want || attribute != "location" {
		return "", &ToolError{Tool: "storage-get", Message: fmt.Sprintf("storage %q attribute %q not found", id, attribute)}
	}
	return j.h.unit.Storage, nil
}

func (j hookJuju) StorageList(ctx context.Context, name string) ([]string, error) {
	defer j.lock()()
	if name != "concourse-data" {
		return []string{}, nil
	}
	return []string{"concourse-data/" + strconv.Itoa(j.h.unit.Name.Number)}, nil
}

func (j hookJuju) ResourceGet(ctx context.Context, name string) (string, error) {
	defer j.lock()()
	if j.h.unit.Resource == "" {
		return "", &ToolError{Tool: "resource-get", Message: fmt.Sprintf("resource %q not found", name)}
	}
	return j.h.unit.Resource, nil
}

func (j hookJuju) OpenPort(ctx context.Context, port int, protocol string) error {
	defer j.lock()()
	p := strconv.Itoa(port) + "/" + protocol
	if !slices.Contains(j.h.unit.ports, p) {
		j.h.unit.ports = append(j.h.unit.ports, p)
		sort.Strings(j.h.unit.ports)
	}
	return nil
}

func (j hookJuju) NetworkGet(ctx context.Context, binding string) (relation.Network, error) {
	defer j.lock()()
	return relation.Network{IngressAddresses: []string{j.h.unit.Address}, EgressSubnets: []string{j.h.unit.Address + "/32"}}, nil
}

func (j hookJuju) SecretGet(ctx context.Context, uri string) (map[string]string, error) {
	defer j.lock()()
	content, ok := j.h.m.secrets[uri]
	if !ok {
		return nil, &ToolError{Tool: "secret-get", Message: fmt.Sprintf("secret %q not found", uri)}
	}
	return maps.Clone(content), nil
}
