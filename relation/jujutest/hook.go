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

	// The view: what was committed when the hook began, per relation.
	views map[int]*view
	// This hook's own writes, committed only on success, per relation.
	ownWrites map[int]map[string]string
	appWrites map[int]map[string]string
	wroteApp  bool
	// ports are this hook's open-port and close-port calls, in order,
	// applied only on success.
	ports []portChange

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
	m.scope(u, e)
	m.hooksRun++
	h := &Hook{
		m: m, unit: u, app: a, Event: e,
		views:     map[int]*view{},
		ownWrites: map[int]map[string]string{},
		appWrites: map[int]map[string]string{},
	}
	for id, r := range m.rels {
		if !u.created[id] {
			continue
		}
		v := &view{rel: r, appBags: map[string]map[string]string{}, bags: map[string]map[string]string{}}
		for name, bag := range r.appBags {
			v.appBags[name] = maps.Clone(bag)
		}
		for name, bag := range r.bags {
			v.bags[name] = maps.Clone(bag)
		}
		for name := range u.joined[id] {
			v.joined = append(v.joined, name)
		}
		slices.Sort(v.joined)
		h.views[id] = v
	}
	h.Context = m.contextFor(u, a, e)
	u.running = h
	return h
}

// view is one relation as a hook sees it.
type view struct {
	rel     *rel
	appBags map[string]map[string]string
	bags    map[string]map[string]string
	joined  []string
}

// scope updates what u knows of its relations as the event begins: a
// created relation introduces u to the units already in it (and them to
// u, once u has started); start introduces u to every unit in scope; joined
// and departed change relation-list; broken ends the relation for u.
func (m *Model) scope(u *Unit, e Event) {
	r := m.rels[e.Relation]
	name := u.Name.String()
	switch {
	case e.Hook == "start":
		u.started = true
		for _, r := range m.relsOf(u.Name.App) {
			if u.created[r.id] {
				m.introduce(u, r)
			}
		}
	case r == nil:
	case strings.HasSuffix(e.Hook, "-relation-created"):
		if u.created[r.id] {
			return
		}
		u.created[r.id] = true
		if u.joined[r.id] == nil {
			u.joined[r.id] = map[string]bool{}
		}
		for _, other := range m.inScope(r, u) {
			if other.started {
				m.enqueue(other, m.relEvent(r, other.Name.App, "joined", name))
				m.enqueue(other, m.relEvent(r, other.Name.App, "changed", name))
			}
		}
		if r.fake != "" && len(r.appBags[r.fake]) > 0 {
			m.enqueue(u, m.relEvent(r, u.Name.App, "changed", ""))
		}
		if u.started {
			m.introduce(u, r)
		}
	case strings.HasSuffix(e.Hook, "-relation-joined"):
		u.joined[r.id][e.RemoteUnit] = true
	case strings.HasSuffix(e.Hook, "-relation-departed"):
		delete(u.joined[r.id], e.RemoteUnit)
	case strings.HasSuffix(e.Hook, "-relation-broken"):
		// Juju still lists the relation in its broken hook, with nobody
		// in it; it is gone for u once the hook commits (see Commit).
		u.joined[r.id] = map[string]bool{}
	}
}

// introduce queues joined and changed on u for every unit in r it has not
// seen join yet.
func (m *Model) introduce(u *Unit, r *rel) {
	for _, other := range m.inScope(r, u) {
		if !u.joined[r.id][other.Name.String()] {
			m.enqueue(u, m.relEvent(r, u.Name.App, "joined", other.Name.String()))
			m.enqueue(u, m.relEvent(r, u.Name.App, "changed", other.Name.String()))
		}
	}
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
		c.RelationName, _, _ = strings.Cut(e.RelationID, ":")
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
	var described []string
	if d := h.applyPorts(); d != "" {
		described = append(described, d)
	}
	leaving := -1 // the relation this hook breaks, if any
	if strings.HasSuffix(h.Event.Hook, "-relation-broken") {
		leaving = h.Event.Relation
		delete(h.unit.created, leaving)
		delete(h.unit.joined, leaving)
	}
	for _, id := range slices.Sorted(maps.Keys(h.views)) {
		r := h.views[id].rel
		if r.bags[self] == nil {
			r.bags[self] = map[string]string{}
		}
		if id == leaving {
			// Whatever it wrote on the way out wakes nobody: it has left.
			apply(r.bags[self], h.ownWrites[id])
			apply(r.appBags[h.app.name], h.appWrites[id])
			continue
		}
		if apply(r.bags[self], h.ownWrites[id]) {
			for _, other := range m.inScope(r, h.unit) {
				if other.joined[r.id][self] {
					m.enqueue(other, m.relEvent(r, other.Name.App, "changed", self))
				}
			}
		}
		if apply(r.appBags[h.app.name], h.appWrites[id]) {
			// The application's bag is news for the other side of the
			// relation (for a peer relation, the other units).
			for _, other := range m.inScope(r, h.unit) {
				m.enqueue(other, m.relEvent(r, other.Name.App, "changed", ""))
			}
		}
		if d := describeWrites(h.ownWrites[id], h.appWrites[id]); d != "" {
			described = append(described, r.idFor(h.app.name)+d)
		}
	}
	m.tracef("%s: %s -> committed%s", self, h.Event, strings.Join(described, ""))
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

// toolError is a tool call the model refuses, as Juju would: the error
// relation.Exec returns when the real tool exits 1 with Juju's words on
// stderr, so the charm meets one type in every tier.
func toolError(tool, format string, args ...any) *relation.ToolError {
	return &relation.ToolError{Argv: []string{tool}, ExitCode: 1, Stderr: "ERROR " + fmt.Sprintf(format, args...), Err: errors.New("exit status 1")}
}

func (j hookJuju) IsLeader(ctx context.Context) (bool, error) {
	defer j.lock()()
	return j.h.app.leader == j.h.unit.Name.String(), nil
}

func (j hookJuju) RelationIDs(ctx context.Context, name string) ([]string, error) {
	defer j.lock()()
	ids := []string{}
	for _, id := range slices.Sorted(maps.Keys(j.h.views)) {
		if r := j.h.views[id].rel; r.endpoint[j.h.app.name] == name {
			ids = append(ids, r.idFor(j.h.app.name))
		}
	}
	return ids, nil
}

// viewOf finds the relation a tool names by its id as this unit sees it.
func (j hookJuju) viewOf(tool, id string) (int, *view, error) {
	for n, v := range j.h.views {
		if v.rel.idFor(j.h.app.name) == id {
			return n, v, nil
		}
	}
	return 0, nil, toolError(tool, "relation %q not found", id)
}

func (j hookJuju) RelationList(ctx context.Context, id string) ([]string, error) {
	defer j.lock()()
	_, v, err := j.viewOf("relation-list", id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.joined), nil
}

func (j hookJuju) RelationRemoteApp(ctx context.Context, id string) (string, error) {
	defer j.lock()()
	_, v, err := j.viewOf("relation-list", id)
	if err != nil {
		return "", err
	}
	if remote := v.rel.remote(j.h.app.name); remote != "" {
		return remote, nil
	}
	return j.h.app.name, nil // a peer relation
}

func (j hookJuju) RelationGet(ctx context.Context, id, who string, app bool) (map[string]string, error) {
	defer j.lock()()
	n, v, err := j.viewOf("relation-get", id)
	if err != nil {
		return nil, err
	}
	self := j.h.unit.Name.String()
	switch {
	case app && who == j.h.app.name:
		if v.rel.remote(who) != "" && j.h.app.leader != self {
			// Outside the peer relation only the leader reads its own
			// application's bag.
			return nil, toolError("relation-get", "cannot read the settings of application %q in relation %q: permission denied, this unit is not the leader", who, id)
		}
		bag := maps.Clone(v.appBags[who])
		apply(bag, j.h.appWrites[n])
		return bag, nil
	case app && who == v.rel.remote(j.h.app.name):
		return maps.Clone(v.appBags[who]), nil
	case app:
		return nil, toolError("relation-get", "application %q is not in relation %s", who, id)
	case who == self:
		bag := maps.Clone(v.bags[self])
		if bag == nil {
			bag = map[string]string{}
		}
		apply(bag, j.h.ownWrites[n])
		return bag, nil
	case slices.Contains(v.joined, who) || who == j.h.Event.RemoteUnit && n == j.h.Event.Relation:
		if bag, ok := v.bags[who]; ok {
			return maps.Clone(bag), nil
		}
		return map[string]string{}, nil
	}
	return nil, toolError("relation-get", "cannot read settings for unit %q in relation %q: permission denied", who, id)
}

func (j hookJuju) RelationSet(ctx context.Context, id string, app bool, data map[string]string) error {
	defer j.lock()()
	n, _, err := j.viewOf("relation-set", id)
	if err != nil {
		return err
	}
	writes := j.h.ownWrites
	if app {
		if j.h.app.leader != j.h.unit.Name.String() {
			return toolError("relation-set", "%s", ErrNotLeader.Error())
		}
		writes = j.h.appWrites
		j.h.wroteApp = true
	}
	if writes[n] == nil {
		writes[n] = map[string]string{}
	}
	maps.Copy(writes[n], data)
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
	return nil, toolError(tool, "not running an action")
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
			return toolError("action-set", "%s", err.Error())
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
		return toolError("status-set", "invalid status %q", s.State)
	}
	if s.Application {
		if j.h.app.leader != j.h.unit.Name.String() {
			return toolError("status-set", "cannot set application status: this unit is not the leader")
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
		return "", toolError("storage-get", "storage %q attribute %q not found", id, attribute)
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
		return "", toolError("resource-get", "resource %q not found", name)
	}
	return j.h.unit.Resource, nil
}

// portChange is one open-port (open) or close-port call.
type portChange struct {
	open bool
	port string
}

// OpenPort asks for a port to be opened when the hook commits.
func (j hookJuju) OpenPort(ctx context.Context, port int, protocol string) error {
	return j.portRequest("open-port", port, protocol)
}

// ClosePort asks for a port to be closed when the hook commits; a port
// that is not open then is no error, as in Juju.
func (j hookJuju) ClosePort(ctx context.Context, port int, protocol string) error {
	return j.portRequest("close-port", port, protocol)
}

func (j hookJuju) portRequest(tool string, port int, protocol string) error {
	defer j.lock()()
	p, err := portName(tool, port, protocol)
	if err != nil {
		return err
	}
	j.h.ports = append(j.h.ports, portChange{open: tool == "open-port", port: p})
	return nil
}

// OpenedPorts lists the unit's committed ports, not this hook's requests
// (as Juju documents it; see relation.Juju).
func (j hookJuju) OpenedPorts(ctx context.Context) ([]relation.Port, error) {
	defer j.lock()()
	ports := []relation.Port{}
	for _, s := range j.h.unit.ports {
		p, err := relation.ParsePort(s)
		if err != nil {
			return nil, err // the model only stores what portName made
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// applyPorts carries out the hook's port requests in order, on commit;
// it describes those that changed something, for the trace.
func (h *Hook) applyPorts() string {
	u := h.unit
	var changed []string
	for _, c := range h.ports {
		open := slices.Contains(u.ports, c.port)
		switch {
		case c.open && !open:
			u.ports = append(u.ports, c.port)
			sort.Strings(u.ports)
			changed = append(changed, "+"+c.port)
		case !c.open && open:
			u.ports = slices.DeleteFunc(u.ports, func(p string) bool { return p == c.port })
			changed = append(changed, "-"+c.port)
		}
	}
	if len(changed) == 0 {
		return ""
	}
	return " (ports " + strings.Join(changed, " ") + ")"
}

// portName is a port as Ports lists it ("8080/tcp"), refused as Juju
// refuses it: outside 1..65535 or a protocol other than tcp and udp.
func portName(tool string, port int, protocol string) (string, error) {
	if port < 1 || port > 65535 || (protocol != "tcp" && protocol != "udp") {
		return "", toolError(tool, "invalid port range %d/%s", port, protocol)
	}
	return strconv.Itoa(port) + "/" + protocol, nil
}

func (j hookJuju) NetworkGet(ctx context.Context, binding string) (relation.Network, error) {
	defer j.lock()()
	return relation.Network{IngressAddresses: []string{j.h.unit.Address}, EgressSubnets: []string{j.h.unit.Address + "/32"}}, nil
}

// SecretGet answers the revision the unit tracks; the first read, or one
// with refresh, answers the newest and tracks it. The tracking moves when
// secret-get runs, whether the hook then succeeds or not.
func (j hookJuju) SecretGet(ctx context.Context, uri string, refresh bool) (map[string]string, error) {
	defer j.lock()()
	revs := j.h.m.secrets[uri]
	if len(revs) == 0 {
		return nil, toolError("secret-get", "secret %q not found", uri)
	}
	u := j.h.unit
	if u.tracked[uri] == 0 || refresh {
		u.tracked[uri] = len(revs)
	}
	return maps.Clone(revs[u.tracked[uri]-1]), nil
}

// WroteApp reports whether the hook wrote the application bag (it changes
// a record when committed).
func (h *Hook) WroteApp() bool {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	return h.wroteApp
}

// Settle runs queued hooks whole (begin, run, commit), first ready unit
// first, until none is queued; a failed hook is retried as Juju would.
// It gives up after maxHooks, naming the queue, for a charm that never
// comes to rest.
func (m *Model) Settle(ctx context.Context, d Dispatcher, maxHooks int) error {
	for range maxHooks {
		ready := m.Ready()
		if len(ready) == 0 {
			return nil
		}
		h := m.Begin(ready[0])
		_ = h.Run(ctx, d)
		_ = h.Commit()
	}
	if len(m.Ready()) == 0 {
		return nil
	}
	return fmt.Errorf("jujutest: hooks still queued after %d:\n%s", maxHooks, m)
}
