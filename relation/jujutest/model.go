// Package jujutest is an in-memory Juju that keeps Juju's rules, for the
// charm's multi-unit tests, its model checker and the local demo:
//
//   - one hook at a time per unit, each unit with its own queue, in Juju's
//     order (storage-attached, install, relation-created, leader-elected or
//     leader-settings-changed, config-changed, start, then relation-joined
//     and -changed with each peer);
//   - a hook reads what was committed when it began (a snapshot) plus its own
//     writes; its relation writes and port changes are committed only when
//     it returns without error, and a failed or cut-off hook's vanish and it
//     is retried;
//   - only the current leader may write the application bag, also at commit
//     time: leadership can move while a hook runs;
//   - a commit that changes data queues relation-changed on the OTHER units,
//     never on the writer; relation-list never lists the unit itself;
//   - update-status comes from an injectable clock; units may disagree on
//     the time.
//   - a secret keeps its revisions: secret-get answers the revision the
//     unit tracks unless --refresh moves it to the newest, and a new
//     revision queues secret-changed on the units that track an older one.
//
// A hook runs in three steps that other units' hooks may come between:
// Begin (the snapshot), Run (the charm acts on it) and Commit or CutOff.
// The charm is called in-process (Dispatcher) or, for the demo, as a real
// dispatch process whose hook tools talk to the model over a unix socket
// (see Server and the jujuc client).
package jujutest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// Dispatcher runs the charm for one hook or action, as Juju runs dispatch.
type Dispatcher func(ctx context.Context, hc relation.Context, j relation.Juju) error

// Event is one pending hook or action on a unit.
type Event struct {
	Hook   string // "" for an action
	Action *Action
	// Relation hooks: the relation's number and its id as the unit sees it.
	Relation      int
	RelationID    string
	RemoteUnit    string
	RemoteApp     string
	DepartingUnit string
	// Secret is the secret's URI in secret-changed.
	Secret string
}

func (e Event) String() string {
	if e.Action != nil {
		return "action " + e.Action.Name
	}
	if e.RemoteUnit != "" {
		return e.Hook + "(" + e.RemoteUnit + ")"
	}
	if e.Secret != "" {
		return e.Hook + "(" + e.Secret + ")"
	}
	return e.Hook
}

// Action is an operator's `juju run` and, once run, its result.
type Action struct {
	ID     int
	Unit   string
	Name   string
	Params map[string]any

	// Set when it has run.
	Done    bool
	Failed  bool
	Message string
	Results map[string]string
	Logs    []string
}

// Model is one Juju model with one or more applications.
type Model struct {
	mu       sync.Mutex
	name     string
	apps     map[string]*app
	units    map[string]*Unit
	rels     map[int]*rel
	nextRel  int
	nextAct  int
	now      time.Time
	secrets  map[string][]map[string]string // each secret's revisions, revision n at index n-1
	trace    []string
	hooksRun int
}

type app struct {
	name     string
	charmDir string
	resource string // the attached resource's path, for units added later
	leader   string
	nextUnit int
	config   map[string]any
	peer     *rel
	status   relation.Status
	version  string
}

// rel is one relation: the peer relation of an application, a relation
// between two applications running charms, or one with a remote
// application that runs no charm here (its application bag is set by the
// test, as a provider's would be).
type rel struct {
	id int
	// endpoint is each side's endpoint name ("peers", "postgresql", "tsa").
	endpoint map[string]string
	// fake is the remote application that runs no charm, if any.
	fake    string
	appBags map[string]map[string]string // committed, by application
	bags    map[string]map[string]string // committed, by unit
	broken  bool
}

// idFor is the relation's id as app's units see it ("postgresql:3").
func (r *rel) idFor(app string) string { return r.endpoint[app] + ":" + strconv.Itoa(r.id) }

// apps lists the relation's applications that run the charm.
func (r *rel) apps() []string {
	var apps []string
	for a := range r.endpoint {
		if a != r.fake {
			apps = append(apps, a)
		}
	}
	slices.Sort(apps)
	return apps
}

// remote is the other application of a relation between two ("" for a
// peer relation).
func (r *rel) remote(app string) string {
	for a := range r.endpoint {
		if a != app {
			return a
		}
	}
	return ""
}

// Unit is one unit of an application and what Juju knows about it.
type Unit struct {
	Name     unitname.Name
	Storage  string // the storage location
	Address  string
	Resource string // the path resource-get answers, "" when none was attached

	queue []Event
	// joined is, per relation, the remote units this unit has seen join
	// (relation-list); created, the relations whose relation-created has
	// begun.
	joined  map[int]map[string]bool
	created map[int]bool
	started bool
	removed bool
	running *Hook
	skew    time.Duration
	status  relation.Status
	ports   []string
	logs    []string
	failed  int
	// tracked is the revision of each secret the unit has read, the one
	// secret-get answers without --refresh.
	tracked map[string]int
}

// NewModel makes an empty model whose clock starts at now.
func NewModel(name string, now time.Time) *Model {
	return &Model{name: name, apps: map[string]*app{}, units: map[string]*Unit{}, rels: map[int]*rel{}, now: now, secrets: map[string][]map[string]string{}}
}

// Deploy adds an application with the given config (every option with its
// value, defaults included, as config-get --all shows them) and no units.
func (m *Model) Deploy(appName, charmDir string, config map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := &app{name: appName, charmDir: charmDir, config: maps.Clone(config)}
	a.peer = m.newRel(map[string]string{appName: relation.PeerRelation}, "")
	m.apps[appName] = a
}

func (m *Model) newRel(endpoint map[string]string, fake string) *rel {
	r := &rel{id: m.nextRel, endpoint: endpoint, fake: fake, appBags: map[string]map[string]string{}, bags: map[string]map[string]string{}}
	for a := range endpoint {
		r.appBags[a] = map[string]string{}
	}
	m.rels[r.id] = r
	m.nextRel++
	return r
}

// AddUnit adds a unit whose storage is mounted at storage, and queues its
// deploy hooks in Juju's order. The first unit of an application becomes
// its leader. Peers learn of it (relation-joined) only once its
// relation-created hook has begun, so its install can run before any peer
// knows it.
func (m *Model) AddUnit(appName, storage string) *Unit {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.apps[appName]
	n := a.nextUnit
	a.nextUnit++
	u := &Unit{
		Name:     unitname.Name{App: appName, Number: n},
		Storage:  storage,
		Address:  fmt.Sprintf("10.1.%d.%d", len(m.apps), n+10),
		Resource: a.resource,
		joined:   map[int]map[string]bool{},
		created:  map[int]bool{},
		tracked:  map[string]int{},
	}
	m.units[u.Name.String()] = u
	leaderHook := "leader-settings-changed"
	if a.leader == "" {
		a.leader = u.Name.String()
		leaderHook = "leader-elected"
	}
	u.queue = append(u.queue, Event{Hook: "concourse-data-storage-attached"}, Event{Hook: "install"})
	for _, r := range m.relsOf(appName) {
		u.queue = append(u.queue, m.relEvent(r, appName, "created", ""))
	}
	u.queue = append(u.queue, Event{Hook: leaderHook}, Event{Hook: "config-changed"}, Event{Hook: "start"})
	m.tracef("%s added (storage %s)", u.Name, storage)
	return u
}

// RemoveUnit queues a unit's removal: every unit that saw it join gets
// relation-departed, the unit itself departs from each unit it saw join,
// then relation-broken, stop and remove. Leadership moves if it held it.
func (m *Model) RemoveUnit(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[name]
	a := m.apps[u.Name.App]
	for _, r := range m.relsOf(a.name) {
		for _, other := range m.inScope(r, u) {
			m.depart(other, r, name, name)
			m.depart(u, r, other.Name.String(), name)
		}
		u.queue = append(u.queue, m.relEvent(r, a.name, "broken", ""))
	}
	u.queue = append(u.queue,
		Event{Hook: "concourse-data-storage-detaching"},
		Event{Hook: "stop"},
		Event{Hook: "remove"},
	)
	u.removed = true
	if a.leader == name {
		a.leader = ""
		for _, peer := range m.unitsOf(a) {
			m.setLeader(a, peer)
			break
		}
	}
	m.tracef("%s removal queued", name)
}

// depart tells u that remote leaves r (as departing goes): relation-departed
// if u saw remote join; otherwise the joined and changed still queued for
// remote are dropped, as Juju never runs them for a unit that has gone.
func (m *Model) depart(u *Unit, r *rel, remote, departing string) {
	if u.joined[r.id][remote] {
		e := m.relEvent(r, u.Name.App, "departed", remote)
		e.DepartingUnit = departing
		m.enqueue(u, e)
		return
	}
	u.queue = slices.DeleteFunc(u.queue, func(e Event) bool {
		return e.Action == nil && e.Relation == r.id && e.RemoteUnit == remote &&
			(strings.HasSuffix(e.Hook, "-relation-joined") || strings.HasSuffix(e.Hook, "-relation-changed"))
	})
}

// SetLeader moves leadership of the unit's application to it, now (also
// while a hook of the old leader runs), and queues leader-elected on it.
func (m *Model) SetLeader(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[name]
	m.setLeader(m.apps[u.Name.App], u)
}

func (m *Model) setLeader(a *app, u *Unit) {
	if a.leader == u.Name.String() {
		return
	}
	a.leader = u.Name.String()
	m.enqueue(u, Event{Hook: "leader-elected"})
	m.tracef("leadership of %s moves to %s", a.name, u.Name)
}

// Leader is the application's leader ("" while it has none).
func (m *Model) Leader(appName string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apps[appName].leader
}

// SetConfig changes options and queues config-changed on every unit.
func (m *Model) SetConfig(appName string, changes map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.apps[appName]
	maps.Copy(a.config, changes)
	for _, u := range m.unitsOf(a) {
		m.enqueue(u, Event{Hook: "config-changed"})
	}
	m.tracef("config of %s: %v", appName, changes)
}

// Config is the application's configuration now.
func (m *Model) Config(appName string) map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.apps[appName].config)
}

// AttachResource is `juju attach-resource`: resource-get answers path on
// every unit, now and added later, and each unit gets upgrade-charm, as
// Juju queues it for a new resource revision.
func (m *Model) AttachResource(appName, path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.apps[appName]
	a.resource = path
	for _, u := range m.unitsOf(a) {
		u.Resource = path
		m.enqueue(u, Event{Hook: "upgrade-charm"})
	}
	m.tracef("resource of %s: %s", appName, path)
}

// RunAction queues an action on a unit (`juju run unit action k=v`) and
// returns it; it has run once Done is set.
func (m *Model) RunAction(unit, name string, params map[string]any) *Action {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextAct++
	a := &Action{ID: m.nextAct, Unit: unit, Name: name, Params: maps.Clone(params)}
	if a.Params == nil {
		a.Params = map[string]any{}
	}
	m.enqueue(m.units[unit], Event{Action: a})
	return a
}

// RunActionFirst queues an action ahead of the unit's pending hooks: Juju
// does not promise that an action waits for queued relation hooks.
func (m *Model) RunActionFirst(unit, name string, params map[string]any) *Action {
	a := m.RunAction(unit, name, params)
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	last := u.queue[len(u.queue)-1]
	u.queue = append([]Event{last}, u.queue[:len(u.queue)-1]...)
	return a
}

// Trigger queues a hook that needs no relation on a unit (upgrade-charm,
// leader-settings-changed, or one the charm does not know).
func (m *Model) Trigger(unit, hook string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enqueue(m.units[unit], Event{Hook: hook})
}

// Tick advances the model clock by d and queues update-status on every unit.
func (m *Model) Tick(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	for _, u := range m.sortedUnits() {
		if !u.removed {
			m.enqueue(u, Event{Hook: "update-status"})
		}
	}
}

// SetSkew makes a unit's clock differ from the model's by d.
func (m *Model) SetSkew(unit string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.units[unit].skew = d
}

// Now is the unit's clock.
func (m *Model) Now(unit string) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now.Add(m.units[unit].skew)
}

// Reboot queues the start hook that Juju runs after a machine reboot.
func (m *Model) Reboot(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enqueue(m.units[unit], Event{Hook: "start"})
	m.tracef("%s rebooted", unit)
}

// AddSecret is the owner's secret-add, or for a secret that exists its
// secret-set (a rotated password, say): content becomes the newest
// revision, and every unit that tracks an older one gets secret-changed,
// as Juju tells a secret's consumers. Units that never read it get nothing.
func (m *Model) AddSecret(uri string, content map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[uri] = append(m.secrets[uri], maps.Clone(content))
	rev := len(m.secrets[uri])
	for _, u := range m.sortedUnits() {
		if t := u.tracked[uri]; t > 0 && t < rev {
			m.enqueue(u, Event{Hook: "secret-changed", Secret: uri})
		}
	}
	m.tracef("secret %s: revision %d", uri, rev)
}

// Tracked is the revision of a secret the unit tracks (0: never read).
func (m *Model) Tracked(unit, uri string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.units[unit].tracked[uri]
}

// WipeAppBag empties an application's peer application bag, as an operator
// or a controller bug might.
func (m *Model) WipeAppBag(appName string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apps[appName].peer.appBags[appName] = map[string]string{}
	m.tracef("application bag of %s wiped", appName)
}

// Relate relates two applications that run the charm (endpoint names on
// each side, e.g. "tsa" and "web-tsa"); it returns the relation's number.
// Every unit gets relation-created, then relation-joined and -changed for
// each remote unit.
func (m *Model) Relate(appA, endpointA, appB, endpointB string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.newRel(map[string]string{appA: endpointA, appB: endpointB}, "")
	for _, a := range []string{appA, appB} {
		for _, u := range m.unitsOf(m.apps[a]) {
			m.enqueue(u, m.relEvent(r, a, "created", ""))
		}
	}
	m.tracef("related %s:%s and %s:%s (%d)", appA, endpointA, appB, endpointB, r.id)
	return r.id
}

// RelateRemote relates an application to a remote one that runs no charm
// here (a database, say), whose application bag the test sets with
// SetRemoteData.
func (m *Model) RelateRemote(appName, endpoint, remoteApp, remoteEndpoint string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.newRel(map[string]string{appName: endpoint, remoteApp: remoteEndpoint}, remoteApp)
	for _, u := range m.unitsOf(m.apps[appName]) {
		m.enqueue(u, m.relEvent(r, appName, "created", ""))
	}
	m.tracef("related %s:%s and remote %s (%d)", appName, endpoint, remoteApp, r.id)
	return r.id
}

// SetRemoteData replaces the remote application's bag in relation id and
// tells every unit on the other side.
func (m *Model) SetRemoteData(id int, data map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rels[id]
	r.appBags[r.fake] = maps.Clone(data)
	for _, a := range r.apps() {
		for _, u := range m.unitsOf(m.apps[a]) {
			if u.created[r.id] {
				m.enqueue(u, m.relEvent(r, a, "changed", ""))
			}
		}
	}
}

// RemoteAppBag is what an application wrote for the other side of
// relation id (what a provider would read).
func (m *Model) RemoteAppBag(id int, appName string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.rels[id].appBags[appName])
}

// Unrelate removes a relation: every unit sees the remote units depart
// and the relation break.
func (m *Model) Unrelate(id int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rels[id]
	for _, a := range r.apps() {
		for _, u := range m.unitsOf(m.apps[a]) {
			if !u.created[r.id] {
				continue
			}
			for remote := range u.joined[r.id] {
				m.enqueue(u, m.relEvent(r, a, "departed", remote))
			}
			m.enqueue(u, m.relEvent(r, a, "broken", ""))
		}
	}
	r.broken = true
	m.tracef("relation %d removed", id)
}

// relsOf lists the relations app takes part in, by number.
func (m *Model) relsOf(appName string) []*rel {
	var rels []*rel
	for _, id := range slices.Sorted(maps.Keys(m.rels)) {
		r := m.rels[id]
		if _, ok := r.endpoint[appName]; ok && !r.broken {
			rels = append(rels, r)
		}
	}
	return rels
}

// relEvent is a relation hook for app's side of r; remoteUnit may be "".
func (m *Model) relEvent(r *rel, appName, what, remoteUnit string) Event {
	remote := r.remote(appName)
	if remote == "" {
		remote = appName
	}
	return Event{Hook: r.endpoint[appName] + "-relation-" + what, Relation: r.id, RelationID: r.idFor(appName), RemoteUnit: remoteUnit, RemoteApp: remote}
}

// inScope lists the units u relates to in r whose relation-created has
// begun: the other units of its application in a peer relation, the remote
// application's units otherwise (units of one application never see each
// other's bags in a relation between two).
func (m *Model) inScope(r *rel, u *Unit) []*Unit {
	side := r.remote(u.Name.App)
	if side == "" {
		side = u.Name.App
	}
	var units []*Unit
	if a := m.apps[side]; a != nil && side != r.fake {
		for _, other := range m.unitsOf(a) {
			if other != u && other.created[r.id] {
				units = append(units, other)
			}
		}
	}
	return units
}

// Ready lists the units that have a hook to run and none running, sorted.
func (m *Model) Ready() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ready []string
	for _, u := range m.sortedUnits() {
		if len(u.queue) > 0 && u.running == nil {
			ready = append(ready, u.Name.String())
		}
	}
	return ready
}

// Queue is what is pending on a unit, for traces and state hashes.
func (m *Model) Queue(unit string) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.units[unit].queue)
}

// Units lists the application's units that are not removed, sorted.
func (m *Model) Units(appName string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, u := range m.unitsOf(m.apps[appName]) {
		names = append(names, u.Name.String())
	}
	return names
}

// Unit returns a unit by name.
func (m *Model) Unit(name string) *Unit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.units[name]
}

// AppBag is the committed application bag of the application's peer
// relation.
func (m *Model) AppBag(appName string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.apps[appName].peer.appBags[appName])
}

// UnitBag is a unit's committed bag in its application's peer relation.
func (m *Model) UnitBag(unit string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	return maps.Clone(m.apps[u.Name.App].peer.bags[unit])
}

// Status is a unit's workload status.
func (m *Model) Status(unit string) relation.Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.units[unit].status
}

// AppStatus is the application status and version the leader set.
func (m *Model) AppStatus(appName string) (relation.Status, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.apps[appName]
	return a.status, a.version
}

// Ports lists the unit's committed ports ("8080/tcp"): a hook's
// open-port and close-port apply when it commits.
func (m *Model) Ports(unit string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.units[unit].ports)
}

// Logs are a unit's juju-log lines.
func (m *Model) Logs(unit string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.units[unit].logs)
}

// Trace is the step-by-step record of what happened, for replays.
func (m *Model) Trace() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.trace)
}

// HooksRun counts hooks and actions run (committed or not).
func (m *Model) HooksRun() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hooksRun
}

// ModelTime is the model's clock.
func (m *Model) ModelTime() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *Model) tracef(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

// enqueue adds an event to a unit's queue unless the same event is already
// pending (Juju coalesces a relation's changes for a unit).
func (m *Model) enqueue(u *Unit, e Event) {
	if u.removed {
		return
	}
	if e.Action == nil {
		for _, p := range u.queue {
			if p.Action == nil && p == e {
				return
			}
		}
	}
	u.queue = append(u.queue, e)
}

func (m *Model) sortedUnits() []*Unit {
	units := slices.Collect(maps.Values(m.units))
	sort.Slice(units, func(i, j int) bool {
		a, b := units[i].Name, units[j].Name
		if a.App != b.App {
			return a.App < b.App
		}
		return a.Number < b.Number
	})
	return units
}

func (m *Model) unitsOf(a *app) []*Unit {
	var units []*Unit
	for _, u := range m.sortedUnits() {
		if u.Name.App == a.name && !u.removed {
			units = append(units, u)
		}
	}
	return units
}

// String summarises the model for failure messages.
func (m *Model) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, u := range m.sortedUnits() {
		fmt.Fprintf(&b, "%s: %s; queue %v\n", u.Name, u.status, u.queue)
	}
	return b.String()
}

// Clone copies the model for a model checker's branch: everything but the
// clock source and running hooks (clone only between hooks). storage maps
// each unit's old storage location to the clone's.
func (m *Model) Clone(storage func(old string) string) *Model {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &Model{name: m.name, apps: map[string]*app{}, units: map[string]*Unit{}, rels: map[int]*rel{},
		nextRel: m.nextRel, nextAct: m.nextAct, now: m.now, secrets: map[string][]map[string]string{},
		trace: slices.Clone(m.trace), hooksRun: m.hooksRun}
	for uri, revs := range m.secrets {
		for _, content := range revs {
			c.secrets[uri] = append(c.secrets[uri], maps.Clone(content))
		}
	}
	for id, r := range m.rels {
		cr := &rel{id: r.id, endpoint: maps.Clone(r.endpoint), fake: r.fake, broken: r.broken,
			appBags: map[string]map[string]string{}, bags: map[string]map[string]string{}}
		for k, b := range r.appBags {
			cr.appBags[k] = maps.Clone(b)
		}
		for k, b := range r.bags {
			cr.bags[k] = maps.Clone(b)
		}
		c.rels[id] = cr
	}
	for name, a := range m.apps {
		ca := *a
		ca.config = maps.Clone(a.config)
		ca.peer = c.rels[a.peer.id]
		c.apps[name] = &ca
	}
	actions := map[*Action]*Action{}
	for name, u := range m.units {
		if u.running != nil {
			panic("jujutest: Clone while a hook runs on " + name)
		}
		cu := *u
		cu.Storage = storage(u.Storage)
		cu.queue = make([]Event, len(u.queue))
		for i, e := range u.queue {
			if e.Action != nil {
				if actions[e.Action] == nil {
					a := *e.Action
					a.Params, a.Results, a.Logs = maps.Clone(a.Params), maps.Clone(a.Results), slices.Clone(a.Logs)
					actions[e.Action] = &a
				}
				e.Action = actions[e.Action]
			}
			cu.queue[i] = e
		}
		cu.joined = map[int]map[string]bool{}
		for id, j := range u.joined {
			cu.joined[id] = maps.Clone(j)
		}
		cu.created = maps.Clone(u.created)
		cu.tracked = maps.Clone(u.tracked)
		cu.ports = slices.Clone(u.ports)
		cu.logs = slices.Clone(u.logs)
		c.units[name] = &cu
	}
	return c
}

// State is a canonical rendering of what Juju holds: bags, leaders, queues,
// relation scopes and statuses, for a model checker's state hash. The
// trace, logs and clock are left out.
func (m *Model) State() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(m.apps)) {
		a := m.apps[name]
		fmt.Fprintf(&b, "app %s leader=%s status=%s\n", name, a.leader, a.status)
	}
	for _, id := range slices.Sorted(maps.Keys(m.rels)) {
		r := m.rels[id]
		fmt.Fprintf(&b, "rel %d broken=%v\n", id, r.broken)
		for _, k := range slices.Sorted(maps.Keys(r.appBags)) {
			fmt.Fprintf(&b, " app %s %s\n", k, describeBag(r.appBags[k]))
		}
		for _, k := range slices.Sorted(maps.Keys(r.bags)) {
			fmt.Fprintf(&b, " unit %s %s\n", k, describeBag(r.bags[k]))
		}
	}
	for _, uri := range slices.Sorted(maps.Keys(m.secrets)) {
		fmt.Fprintf(&b, "secret %s revision=%d\n", uri, len(m.secrets[uri]))
	}
	for _, u := range m.sortedUnits() {
		fmt.Fprintf(&b, "unit %s removed=%v started=%v created=%v tracked=%v status=%s ports=%v queue=%v\n", u.Name, u.removed, u.started, u.created, u.tracked, u.status, u.ports, u.queue)
		for _, id := range slices.Sorted(maps.Keys(u.joined)) {
			fmt.Fprintf(&b, " joined %d %v\n", id, slices.Sorted(maps.Keys(u.joined[id])))
		}
	}
	return b.String()
}
