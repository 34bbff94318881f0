package jujutest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// recorder is a charm that writes what it is told and records what it saw.
type recorder struct {
	write  map[string]map[string]string // unit -> its own bag writes
	app    map[string]string            // application writes (when leader)
	fail   map[string]bool              // hooks that fail after writing
	events map[string][]string          // unit -> hooks run
}

func newRecorder() *recorder {
	return &recorder{write: map[string]map[string]string{}, fail: map[string]bool{}, events: map[string][]string{}}
}

func (r *recorder) dispatch(ctx context.Context, hc relation.Context, j relation.Juju) error {
	name := hc.Hook + hc.Action
	r.events[hc.Unit.String()] = append(r.events[hc.Unit.String()], name)
	ids, err := j.RelationIDs(ctx, relation.PeerRelation)
	if err != nil || len(ids) == 0 {
		return err
	}
	if w := r.write[hc.Unit.String()]; w != nil {
		if err := j.RelationSet(ctx, ids[0], false, w); err != nil {
			return err
		}
	}
	if r.app != nil {
		if leader, _ := j.IsLeader(ctx); leader {
			if err := j.RelationSet(ctx, ids[0], true, r.app); err != nil {
				return err
			}
		}
	}
	if r.fail[name] {
		return errors.New("hook failed on purpose")
	}
	return nil
}

func settle(t *testing.T, m *Model, d Dispatcher) {
	t.Helper()
	require.NoError(t, m.Settle(context.Background(), d, 1000))
}

func deploy(t *testing.T, n int) (*Model, *recorder) {
	t.Helper()
	m := NewModel("test", t0)
	m.Deploy("app", "/charm", map[string]any{"mode": "auto"})
	for i := 0; i < n; i++ {
		m.AddUnit("app", t.TempDir())
	}
	return m, newRecorder()
}

// A unit's deploy hooks run in Juju's order, the first unit leads, and
// peers meet through relation-joined/-changed after start.
func TestDeployOrder(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	assert.Equal(t, "app/0", m.Leader("app"))
	assert.Equal(t, []string{"concourse-data-storage-attached", "install", "peers-relation-created", "leader-elected",
		"config-changed", "start", "peers-relation-joined", "peers-relation-changed"}, r.events["app/0"])
	assert.Equal(t, []string{"concourse-data-storage-attached", "install", "peers-relation-created", "leader-settings-changed",
		"config-changed", "start", "peers-relation-joined", "peers-relation-changed"}, r.events["app/1"])
}

func TestRelationListNeverListsSelf(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 3)
	settle(t, m, r.dispatch)
	h := m.Begin("app/1")
	require.Nil(t, h, "nothing queued")
	m.Tick(time.Minute)
	h = m.Begin("app/1")
	require.NotNil(t, h)
	units, err := h.Juju().RelationList(context.Background(), "peers:0")
	require.NoError(t, err)
	assert.Equal(t, []string{"app/0", "app/2"}, units)
	commit(t, h)
}

// Writes are committed only when the hook succeeds; the others hear of a
// change, the writer does not.
func TestWritesCommitOnlyOnSuccessAndWakeTheOthers(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 3)
	settle(t, m, r.dispatch)

	r.write["app/1"] = map[string]string{"k": "v1"}
	r.fail["update-status"] = true
	m.Tick(time.Minute)
	h := m.Begin("app/1")
	require.Error(t, h.Run(context.Background(), r.dispatch))
	require.Error(t, h.Commit())
	assert.Empty(t, m.UnitBag("app/1"), "a failed hook's writes vanish")
	assert.Equal(t, "update-status", m.Queue("app/1")[0].Hook, "Juju retries the failed hook first")

	r.fail["update-status"] = false
	h = m.Begin("app/1")
	require.NoError(t, h.Run(context.Background(), r.dispatch))
	require.NoError(t, h.Commit())
	assert.Equal(t, map[string]string{"k": "v1"}, m.UnitBag("app/1"))
	for _, u := range []string{"app/0", "app/2"} {
		assert.Contains(t, m.Queue(u), Event{Hook: "peers-relation-changed", RelationID: "peers:0", RemoteUnit: "app/1", RemoteApp: "app"}, u)
	}
	for _, e := range m.Queue("app/1") {
		assert.NotEqual(t, "app/1", e.RemoteUnit, "no event for one's own writes")
	}

	// Writing the same value again wakes nobody.
	settle(t, m, r.dispatch)
	m.Tick(time.Minute)
	h = m.Begin("app/1")
	require.NoError(t, h.Run(context.Background(), r.dispatch))
	require.NoError(t, h.Commit())
	for _, u := range []string{"app/0", "app/2"} {
		for _, e := range m.Queue(u) {
			assert.NotEqual(t, "peers-relation-changed", e.Hook, "an unchanged bag is no change")
		}
	}
}

// The leader's application-bag writes wake the other units, and not the
// leader: Juju sends no relation-changed for a unit's own writes, so the
// charm must re-check after writing the record instead of waiting to hear.
func TestAppBagWritesWakeTheOthersNotTheLeader(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 3)
	settle(t, m, r.dispatch)
	require.Equal(t, "app/0", m.Leader("app"))

	r.app = map[string]string{"record": "1"}
	m.Trigger("app/0", "update-status")
	h := m.Begin("app/0")
	require.NotNil(t, h)
	require.NoError(t, h.Run(context.Background(), r.dispatch))
	require.NoError(t, h.Commit())
	require.Equal(t, map[string]string{"record": "1"}, m.AppBag("app"))

	changed := Event{Hook: "peers-relation-changed", Relation: 0, RelationID: "peers:0", RemoteApp: "app"}
	for _, u := range []string{"app/1", "app/2"} {
		assert.Contains(t, m.Queue(u), changed, u)
	}
	assert.Empty(t, m.Queue("app/0"), "no event for the leader's own writes")
}

// Only the leader may write the application bag: others are refused at
// once, and a leader that lost leadership while its hook ran loses its
// writes at commit.
func TestAppBagIsLeaderOnly(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	m.Tick(time.Minute)

	h := m.Begin("app/1")
	err := h.Juju().RelationSet(context.Background(), "peers:0", true, map[string]string{"x": "1"})
	assert.ErrorContains(t, err, "not the leader")
	require.NoError(t, h.Run(context.Background(), r.dispatch))
	require.NoError(t, h.Commit())

	h = m.Begin("app/0")
	require.NoError(t, h.Juju().RelationSet(context.Background(), "peers:0", true, map[string]string{"x": "1"}))
	require.NoError(t, h.Run(context.Background(), r.dispatch))
	m.SetLeader("app/1") // leadership moves while app/0's hook runs
	err = h.Commit()
	require.ErrorIs(t, err, ErrNotLeader)
	assert.Empty(t, m.AppBag("app"), "the old leader's application writes vanish")
	assert.Contains(t, m.Queue("app/1"), Event{Hook: "leader-elected"})
}

// A hook reads what was committed when it began: another unit's commit in
// between is not visible to it (a stale view), and is visible to its next.
func TestHookReadsItsSnapshot(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	m.Tick(time.Minute)
	stale := m.Begin("app/1")
	r.write["app/0"] = map[string]string{"k": "new"}
	other := m.Begin("app/0")
	require.NoError(t, other.Run(context.Background(), r.dispatch))
	require.NoError(t, other.Commit())

	bag, err := stale.Juju().RelationGet(context.Background(), "peers:0", "app/0", false)
	require.NoError(t, err)
	assert.Empty(t, bag, "the snapshot predates app/0's commit")
	require.NoError(t, stale.Run(context.Background(), r.dispatch))
	require.NoError(t, stale.Commit())

	settle(t, m, r.dispatch)
	m.Tick(time.Minute)
	fresh := m.Begin("app/1")
	bag, err = fresh.Juju().RelationGet(context.Background(), "peers:0", "app/0", false)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k": "new"}, bag)
	// Its own writes are visible to itself at once.
	require.NoError(t, fresh.Juju().RelationSet(context.Background(), "peers:0", false, map[string]string{"mine": "1"}))
	own, err := fresh.Juju().RelationGet(context.Background(), "peers:0", "app/1", false)
	require.NoError(t, err)
	assert.Equal(t, "1", own["mine"])
	fresh.CutOff()
	assert.NotContains(t, m.UnitBag("app/1"), "mine", "a cut-off hook's writes vanish")
	assert.Equal(t, "update-status", m.Queue("app/1")[0].Hook, "and it is retried")
}

// A unit added later can run its install before any peer has heard of it.
func TestNewUnitInstallsBeforePeersHearOfIt(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	m.AddUnit("app", t.TempDir())
	for _, hook := range []string{"concourse-data-storage-attached", "install"} {
		h := m.Begin("app/2")
		require.Equal(t, hook, h.Event.Hook)
		require.NoError(t, h.Run(context.Background(), r.dispatch))
		require.NoError(t, h.Commit())
	}
	assert.Empty(t, m.Queue("app/0"), "the leader has not heard of app/2 yet")
	h := m.Begin("app/2")
	require.Equal(t, "peers-relation-created", h.Event.Hook)
	require.NoError(t, h.Run(context.Background(), r.dispatch))
	require.NoError(t, h.Commit())
	assert.Contains(t, m.Queue("app/0"), Event{Hook: "peers-relation-joined", RelationID: "peers:0", RemoteUnit: "app/2", RemoteApp: "app"})
	settle(t, m, r.dispatch)
	assert.Equal(t, []string{"app/0", "app/1", "app/2"}, m.Units("app"))
}

func TestRemoveUnitMovesLeadershipAndDeparts(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 3)
	settle(t, m, r.dispatch)
	m.RemoveUnit("app/0")
	assert.Equal(t, "app/1", m.Leader("app"))
	settle(t, m, r.dispatch)
	assert.Equal(t, []string{"app/1", "app/2"}, m.Units("app"))
	tail := r.events["app/0"][len(r.events["app/0"])-4:]
	assert.Equal(t, []string{"peers-relation-broken", "concourse-data-storage-detaching", "stop", "remove"}, tail)
	assert.Contains(t, r.events["app/1"], "leader-elected")
	assert.Contains(t, r.events["app/1"], "peers-relation-departed")
}

func TestActionsAndTheirResults(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 1)
	settle(t, m, r.dispatch)
	a := m.RunAction("app/0", "upgrade", map[string]any{"version": "7.14.4"})
	settle(t, m, func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		params, err := j.ActionGet(ctx)
		require.NoError(t, err)
		assert.Equal(t, "7.14.4", params["version"])
		require.Error(t, j.ActionSet(ctx, map[string]string{"Bad": "x"}))
		require.NoError(t, j.ActionSet(ctx, map[string]string{"phase": "prepare"}))
		require.NoError(t, j.ActionLog(ctx, "staging"))
		return j.ActionFail(ctx, "nope")
	})
	assert.True(t, a.Done)
	assert.True(t, a.Failed)
	assert.Equal(t, "nope", a.Message)
	assert.Equal(t, map[string]string{"phase": "prepare"}, a.Results)
	assert.Equal(t, []string{"staging"}, a.Logs)
}

func TestClocksAndStatus(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	m.SetSkew("app/1", -3*time.Minute)
	assert.Equal(t, t0, m.Now("app/0"))
	assert.Equal(t, t0.Add(-3*time.Minute), m.Now("app/1"))
	m.Tick(5 * time.Minute)
	assert.Equal(t, t0.Add(5*time.Minute), m.Now("app/0"))
	h := m.Begin("app/1")
	require.NoError(t, h.Juju().StatusSet(context.Background(), relation.Status{State: relation.Waiting, Message: "hm"}))
	err := h.Juju().StatusSet(context.Background(), relation.Status{Application: true, State: relation.Active, Message: "x"})
	assert.ErrorContains(t, err, "not the leader")
	assert.Error(t, h.Juju().StatusSet(context.Background(), relation.Status{State: "exploded"}))
	require.NoError(t, h.Run(context.Background(), r.dispatch))
	require.NoError(t, h.Commit())
	assert.Equal(t, relation.Status{State: relation.Waiting, Message: "hm"}, m.Status("app/1"))
}

// A remote application with no charm here (a database): the requirer's
// leader writes its request, the test answers as the provider, units hear
// of it, and units see the relation break when it is removed.
func TestRemoteRelation(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	id := m.RelateRemote("app", "postgresql", "pg", "database")
	var seen []string
	charm := func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		ids, err := j.RelationIDs(ctx, "postgresql")
		if err != nil || len(ids) == 0 {
			return err
		}
		remote, err := j.RelationRemoteApp(ctx, ids[0])
		if err != nil {
			return err
		}
		bag, err := j.RelationGet(ctx, ids[0], remote, true)
		if err != nil {
			return err
		}
		seen = append(seen, hc.Unit.String()+" "+hc.Hook+" "+bag["endpoints"])
		if leader, _ := j.IsLeader(ctx); leader {
			return j.RelationSet(ctx, ids[0], true, map[string]string{"database": "concourse"})
		}
		return nil
	}
	settle(t, m, charm)
	assert.Equal(t, map[string]string{"database": "concourse"}, m.RemoteAppBag(id, "app"), "the requirer's request is there for the provider")
	m.SetRemoteData(id, map[string]string{"endpoints": "10.0.0.9:5432"})
	seen = nil
	settle(t, m, charm)
	assert.ElementsMatch(t, []string{"app/0 postgresql-relation-changed 10.0.0.9:5432", "app/1 postgresql-relation-changed 10.0.0.9:5432"}, seen)

	m.Unrelate(id)
	seen = nil
	settle(t, m, charm)
	for _, u := range []string{"app/0", "app/1"} {
		assert.Contains(t, r.events[u], "peers-relation-changed")
	}
	m.Tick(time.Minute)
	h := m.Begin("app/0")
	ids, err := h.Juju().RelationIDs(context.Background(), "postgresql")
	require.NoError(t, err)
	assert.Empty(t, ids, "a broken relation is gone")
	h.CutOff()
}

// webAndWorkers deploys one unit of web and n of worker, both running the
// charm, unrelated, and settles them.
func webAndWorkers(t *testing.T, n int) (*Model, *recorder) {
	t.Helper()
	m := NewModel("test", t0)
	m.Deploy("web", "/charm", nil)
	m.Deploy("worker", "/charm", nil)
	m.AddUnit("web", t.TempDir())
	for range n {
		m.AddUnit("worker", t.TempDir())
	}
	r := newRecorder()
	settle(t, m, r.dispatch)
	return m, r
}

// Two applications running the charm, related by endpoints of different
// names: each side sees its own id, reads the other's bags, and hears of
// the other side's application data (not of its own).
func TestRelationBetweenTwoApplications(t *testing.T) {
	t.Parallel()
	m, _ := webAndWorkers(t, 2)
	m.Relate("web", "tsa", "worker", "web-tsa")
	ids := map[string][]string{}
	lists := map[string][]string{}
	charm := func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		endpoint := "web-tsa"
		if hc.Unit.App == "web" {
			endpoint = "tsa"
		}
		got, err := j.RelationIDs(ctx, endpoint)
		if err != nil || len(got) == 0 {
			return err
		}
		ids[hc.Unit.String()] = got
		lists[hc.Unit.String()], err = j.RelationList(ctx, got[0])
		if err != nil {
			return err
		}
		if leader, _ := j.IsLeader(ctx); leader && hc.Unit.App == "web" {
			return j.RelationSet(ctx, got[0], true, map[string]string{"tsa-host": "10.0.0.1:2222"})
		}
		if hc.Unit.App == "worker" {
			return j.RelationSet(ctx, got[0], false, map[string]string{"worker-key": "ssh-rsa " + hc.Unit.Slug()})
		}
		return nil
	}
	settle(t, m, charm)
	assert.Equal(t, []string{"tsa:2"}, ids["web/0"])
	assert.Equal(t, []string{"web-tsa:2"}, ids["worker/1"])
	assert.Equal(t, []string{"worker/0", "worker/1"}, lists["web/0"])
	assert.Equal(t, []string{"web/0"}, lists["worker/0"])

	m.Tick(time.Minute)
	h := m.Begin("worker/0")
	bag, err := h.Juju().RelationGet(context.Background(), "web-tsa:2", "web", true)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.1:2222", bag["tsa-host"])
	h.CutOff()
	h = m.Begin("web/0")
	bag, err = h.Juju().RelationGet(context.Background(), "tsa:2", "worker/1", false)
	require.NoError(t, err)
	assert.Equal(t, "ssh-rsa worker-1", bag["worker-key"])
	remote, err := h.Juju().RelationRemoteApp(context.Background(), "tsa:2")
	require.NoError(t, err)
	assert.Equal(t, "worker", remote)
	peer, err := h.Juju().RelationRemoteApp(context.Background(), "peers:0")
	require.NoError(t, err)
	assert.Equal(t, "web", peer, "a peer relation's other side is the unit's own application")
	h.CutOff()
}

// A charm whose hook always fails never comes to rest: Settle says so and
// names the queue instead of spinning.
func TestSettleGivesUpOnAHookThatAlwaysFails(t *testing.T) {
	t.Parallel()
	m := NewModel("m", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	m.Deploy("app", "", nil)
	m.AddUnit("app", "")
	failing := func(context.Context, relation.Context, relation.Juju) error { return errors.New("broken charm") }
	err := m.Settle(context.Background(), failing, 50)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "hooks still queued after 50")
	assert.Contains(t, err.Error(), "app/0")

	ok := func(context.Context, relation.Context, relation.Juju) error { return nil }
	require.NoError(t, m.Settle(context.Background(), ok, 50), "the same queue drains once the charm works")
}

// Ports a unit opens show in Ports, once the hook commits, until it
// closes them; closing a port that is not open is no error, and a port
// Juju would refuse is refused.
func TestPortsOpenAndClose(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 1)
	settle(t, m, r.dispatch)
	ctx := context.Background()
	m.Tick(0)
	h := m.Begin("app/0")
	j := h.Juju()
	require.NoError(t, j.OpenPort(ctx, 8080, "tcp"))
	require.NoError(t, j.OpenPort(ctx, 2222, "tcp"))
	require.NoError(t, j.OpenPort(ctx, 2222, "tcp"))
	commit(t, h)
	assert.Equal(t, []string{"2222/tcp", "8080/tcp"}, m.Ports("app/0"))

	m.Tick(0)
	h = m.Begin("app/0")
	j = h.Juju()
	require.NoError(t, j.ClosePort(ctx, 2222, "tcp"))
	require.NoError(t, j.ClosePort(ctx, 2222, "tcp"), "closing what is not open changes nothing")
	require.NoError(t, j.ClosePort(ctx, 8080, "udp"), "another protocol's port is another port")
	var te *relation.ToolError
	require.ErrorAs(t, j.ClosePort(ctx, 0, "tcp"), &te)
	require.ErrorAs(t, j.OpenPort(ctx, 70000, "tcp"), &te)
	require.ErrorAs(t, j.OpenPort(ctx, 80, "sctp"), &te)
	commit(t, h)
	assert.Equal(t, []string{"8080/tcp"}, m.Ports("app/0"))
}

// commit runs h doing nothing more and commits it.
func commit(t *testing.T, h *Hook) {
	t.Helper()
	require.NoError(t, h.Run(context.Background(), func(context.Context, relation.Context, relation.Juju) error { return nil }))
	require.NoError(t, h.Commit())
}

// Port changes are requests, as in Juju: opened-ports and Ports list the
// committed ports only; a hook's changes apply in order when it commits
// and are dropped when it fails or is cut off.
func TestPortChangesCommitWithTheHook(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 1)
	settle(t, m, r.dispatch)
	ctx := context.Background()
	opened := func(j relation.Juju) []relation.Port {
		ports, err := j.OpenedPorts(ctx)
		require.NoError(t, err)
		return ports
	}

	m.Tick(0)
	h := m.Begin("app/0")
	require.NoError(t, h.Juju().OpenPort(ctx, 8080, "tcp"))
	assert.Empty(t, m.Ports("app/0"), "pending, not open")
	assert.Empty(t, opened(h.Juju()), "opened-ports leaves out the hook's own requests")
	commit(t, h)
	assert.Equal(t, []string{"8080/tcp"}, m.Ports("app/0"))

	// A failed hook and a cut-off one close nothing.
	m.Tick(0)
	h = m.Begin("app/0")
	require.NoError(t, h.Juju().ClosePort(ctx, 8080, "tcp"))
	require.NoError(t, h.Juju().OpenPort(ctx, 2222, "tcp"))
	assert.Error(t, h.Run(ctx, func(context.Context, relation.Context, relation.Juju) error { return errors.New("boom") }))
	require.Error(t, h.Commit())
	assert.Equal(t, []string{"8080/tcp"}, m.Ports("app/0"), "a failed hook's port changes are dropped")
	h = m.Begin("app/0")
	assert.Equal(t, []relation.Port{relation.TCP(8080)}, opened(h.Juju()), "the retry sees what was committed")
	require.NoError(t, h.Juju().ClosePort(ctx, 8080, "tcp"))
	h.CutOff()
	assert.Equal(t, []string{"8080/tcp"}, m.Ports("app/0"), "a cut-off hook's port changes are dropped")

	// Applied in order: close then open leaves it open, open then close
	// leaves it closed.
	h = m.Begin("app/0")
	j := h.Juju()
	require.NoError(t, j.ClosePort(ctx, 8080, "tcp"))
	require.NoError(t, j.OpenPort(ctx, 8080, "tcp"))
	require.NoError(t, j.OpenPort(ctx, 2222, "udp"))
	require.NoError(t, j.ClosePort(ctx, 2222, "udp"))
	commit(t, h)
	assert.Equal(t, []string{"8080/tcp"}, m.Ports("app/0"))
	m.Tick(0)
	h = m.Begin("app/0")
	assert.Equal(t, []relation.Port{relation.TCP(8080)}, opened(h.Juju()))
	h.CutOff()
}

// step runs unit's next hook, which must be hook, with d, and returns the
// commit's error.
func step(t *testing.T, m *Model, unit, hook string, d Dispatcher) error {
	t.Helper()
	h := m.Begin(unit)
	require.NotNil(t, h, "%s has nothing queued", unit)
	require.Equal(t, hook, h.Event.Hook)
	_ = h.Run(context.Background(), d)
	return h.Commit()
}

// As in Juju, a unit's own relation-broken hook still lists the relation,
// with nobody in it; the unit leaves it when that hook commits, so a
// broken hook that fails sees it again when retried.
func TestBrokenHookStillListsItsRelation(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	id := m.RelateRemote("app", "postgresql", "pg", "database")
	settle(t, m, r.dispatch)
	m.Unrelate(id)
	var ids, units []string
	seen := func(fail bool) Dispatcher {
		return func(ctx context.Context, hc relation.Context, j relation.Juju) error {
			var err error
			ids, err = j.RelationIDs(ctx, "postgresql")
			require.NoError(t, err)
			units = nil
			if len(ids) > 0 {
				units, err = j.RelationList(ctx, ids[0])
				require.NoError(t, err)
			}
			if fail {
				return errors.New("broken hook fails")
			}
			return nil
		}
	}
	require.Error(t, step(t, m, "app/0", "postgresql-relation-broken", seen(true)))
	assert.Equal(t, []string{"postgresql:1"}, ids, "the broken hook lists its relation")
	assert.Empty(t, units, "with nobody in it")
	require.NoError(t, step(t, m, "app/0", "postgresql-relation-broken", seen(false)))
	assert.Equal(t, []string{"postgresql:1"}, ids, "and so does its retry")
	m.Trigger("app/0", "update-status")
	require.NoError(t, step(t, m, "app/0", "update-status", seen(false)))
	assert.Empty(t, ids, "once the broken hook committed the relation is gone")

	// A removed unit's own peers-relation-broken lists the peer relation.
	m.RemoveUnit("app/1")
	var peerIDs []string
	peers := func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		var err error
		peerIDs, err = j.RelationIDs(ctx, relation.PeerRelation)
		return err
	}
	for _, hook := range []string{"postgresql-relation-broken", "peers-relation-departed", "peers-relation-broken"} {
		require.NoError(t, step(t, m, "app/1", hook, peers))
	}
	assert.Equal(t, []string{"peers:0"}, peerIDs)
}

// A relation removed while a relation-joined is still queued: the joined
// runs, but the broken hook lists nobody in the relation.
func TestBrokenHookListsNobody(t *testing.T) {
	t.Parallel()
	m, r := webAndWorkers(t, 1)
	id := m.Relate("web", "tsa", "worker", "web-tsa")
	require.NoError(t, step(t, m, "web/0", "tsa-relation-created", r.dispatch))
	require.NoError(t, step(t, m, "worker/0", "web-tsa-relation-created", r.dispatch))
	m.Unrelate(id)
	listed := map[string][]string{}
	settle(t, m, func(ctx context.Context, hc relation.Context, j relation.Juju) error {
		if hc.RelationID == "" {
			return nil
		}
		units, err := j.RelationList(ctx, hc.RelationID)
		listed[hc.Hook] = units
		return err
	})
	assert.Equal(t, []string{"worker/0"}, listed["tsa-relation-joined"])
	assert.Empty(t, listed["tsa-relation-broken"])
	assert.Contains(t, listed, "tsa-relation-broken")
}

// Outside the peer relation only the leader may read its own
// application's bag, as in Juju; in the peer relation every unit reads it.
func TestNonLeaderReadsOwnAppBagOnlyInThePeerRelation(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	m.RelateRemote("app", "postgresql", "pg", "database")
	settle(t, m, r.dispatch)
	m.Tick(0)
	ctx := context.Background()
	for _, unit := range []string{"app/0", "app/1"} {
		h := m.Begin(unit)
		j := h.Juju()
		_, err := j.RelationGet(ctx, "peers:0", "app", true)
		require.NoError(t, err, "%s reads its peer application bag", unit)
		_, err = j.RelationGet(ctx, "postgresql:1", "pg", true)
		require.NoError(t, err, "%s reads the remote application's bag", unit)
		_, err = j.RelationGet(ctx, "postgresql:1", "app", true)
		if unit == m.Leader("app") {
			require.NoError(t, err, "the leader reads its own application's bag")
		} else {
			var te *relation.ToolError
			require.ErrorAs(t, err, &te, "a non-leader may not")
			assert.Contains(t, te.Stderr, "permission denied")
		}
		h.CutOff()
	}
}

// A unit removed before its peers ran relation-joined for it departs from
// nobody: no peer gets relation-departed for it, and their joined and
// changed still queued for it are dropped, as Juju drops them.
func TestRemoveUnitDepartsOnlyFromThoseThatSawItJoin(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 2)
	settle(t, m, r.dispatch)
	m.AddUnit("app", t.TempDir())
	for _, hook := range []string{"concourse-data-storage-attached", "install", "peers-relation-created"} {
		require.NoError(t, step(t, m, "app/2", hook, r.dispatch))
	}
	require.Contains(t, m.Queue("app/0"), Event{Hook: "peers-relation-joined", RelationID: "peers:0", RemoteUnit: "app/2", RemoteApp: "app"})
	// app/1 sees app/2 join; app/0 has not yet when app/2 goes.
	for _, hook := range []string{"peers-relation-joined", "peers-relation-changed"} {
		require.NoError(t, step(t, m, "app/1", hook, r.dispatch))
	}
	m.RemoveUnit("app/2")
	assert.Empty(t, m.Queue("app/0"), "app/0 neither joins nor departs a unit it never saw")
	assert.Equal(t, []Event{{Hook: "peers-relation-departed", RelationID: "peers:0", RemoteUnit: "app/2", RemoteApp: "app", DepartingUnit: "app/2"}}, m.Queue("app/1"))
	for _, e := range m.Queue("app/2") {
		assert.NotEqual(t, "peers-relation-departed", e.Hook, "app/2 saw nobody join (it never started)")
	}
	r.events = map[string][]string{}
	settle(t, m, r.dispatch)
	assert.Equal(t, []string{"peers-relation-departed"}, r.events["app/1"])
	assert.Empty(t, r.events["app/0"])
	for _, u := range []string{"app/0", "app/1"} {
		h := m.Begin(u)
		assert.Nil(t, h, "%s is at rest", u)
	}
}

// Two models that differ only in a unit's committed ports are two states:
// the explorer must not take one for the other.
func TestStateTellsPortsApart(t *testing.T) {
	t.Parallel()
	m, r := deploy(t, 1)
	settle(t, m, r.dispatch)
	m.Tick(0)
	c := m.Clone(func(old string) string { return old })
	require.Equal(t, m.State(), c.State())
	h := m.Begin("app/0")
	require.NoError(t, h.Juju().OpenPort(context.Background(), 8080, "tcp"))
	commit(t, h)
	commit(t, c.Begin("app/0"))
	assert.NotEqual(t, m.State(), c.State())
}
