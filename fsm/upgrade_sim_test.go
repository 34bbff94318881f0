package fsm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A multi-unit simulation that keeps Juju's rules: one hook at a time per
// unit, every hook reads the committed bags and commits its own writes only
// when it succeeds, only the leader writes the application bag, and every
// record and ack goes through the codec on the way in and out.

// simVolume is the shared volume: releases and the `current` link.
type simVolume struct {
	current  string
	releases map[string]bool
	// corrupt counts the coming switches to a version that fail verification
	// after `current` already moved (the worst case for the restore path).
	corrupt map[string]int
	// stageFails makes StageRelease fail (no network before PREPARE).
	stageFails bool
	downloads  int
	// downloadsInSwitch counts downloads that happened inside SwitchRelease,
	// i.e. while every worker was stopped.
	downloadsInSwitch int
}

// simUnit is one unit's systemd units, implementing Effects.
type simUnit struct {
	name string
	vol  *simVolume
	// worker is the release the worker runs; empty while stopped.
	worker      string
	web         string
	webRestarts int
	// drainFailures counts the coming StopWorker calls that fail.
	drainFailures int
	// down units run no hooks (the agent is dead), their worker keeps going.
	down    bool
	effects int
}

func (u *simUnit) StageRelease(_ context.Context, v string) error {
	u.effects++
	if u.vol.stageFails {
		return errors.New("download: dial tcp: no route to host")
	}
	if !u.vol.releases[v] {
		u.vol.downloads++
		u.vol.releases[v] = true
	}
	return nil
}

func (u *simUnit) StopWorker(context.Context) error {
	u.effects++
	if u.drainFailures > 0 {
		u.drainFailures--
		return errors.New("drain timed out")
	}
	u.worker = ""
	return nil
}

func (u *simUnit) SwitchRelease(_ context.Context, v string) error {
	u.effects++
	if !u.vol.releases[v] {
		u.vol.downloads++
		u.vol.downloadsInSwitch++
		u.vol.releases[v] = true
	}
	u.vol.current = v
	if u.vol.corrupt[v] > 0 {
		u.vol.corrupt[v]--
		return fmt.Errorf("verify releases/%s: concourse --version: exec format error", v)
	}
	return nil
}

func (u *simUnit) StartWorker(_ context.Context, v string) error {
	u.effects++
	if u.vol.current != v {
		return fmt.Errorf("current is %s, not %s", u.vol.current, v)
	}
	u.worker = v
	return nil
}

func (u *simUnit) RestartWeb(_ context.Context, v string) error {
	u.effects++
	if u.vol.current != v {
		return fmt.Errorf("current is %s, not %s", u.vol.current, v)
	}
	u.web = v
	u.webRestarts++
	return nil
}

type simCluster struct {
	t      *testing.T
	now    time.Time
	leader string
	units  []*simUnit
	vol    *simVolume
	app    map[string]string
	bags   map[string]map[string]string
	// twice runs every hook a second time and checks it changes nothing.
	twice bool
}

// newSimCluster is n units running oldVersion from a shared volume, with a
// fresh peer relation (empty bags) and c/0 as leader.
func newSimCluster(t *testing.T, n int) *simCluster {
	vol := &simVolume{current: oldVersion, releases: map[string]bool{oldVersion: true}, corrupt: map[string]int{}}
	c := &simCluster{t: t, now: t0, leader: "c/0", vol: vol, app: map[string]string{}, bags: map[string]map[string]string{}}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("c/%d", i)
		c.units = append(c.units, &simUnit{name: name, vol: vol, worker: oldVersion, web: oldVersion})
		c.bags[name] = map[string]string{"unrelated": "kept"}
	}
	return c
}

func (c *simCluster) unit(name string) *simUnit {
	for _, u := range c.units {
		if u.name == name {
			return u
		}
	}
	c.t.Fatalf("no unit %s", name)
	return nil
}

func (c *simCluster) names() []string {
	names := make([]string, len(c.units))
	for i, u := range c.units {
		names[i] = u.name
	}
	return names
}

func (c *simCluster) record() Record {
	rec, err := DecodeRecord(c.app)
	require.NoError(c.t, err)
	return rec
}

func (c *simCluster) acks() map[string]Ack {
	acks := map[string]Ack{}
	for name, bag := range c.bags {
		ack, err := DecodeAck(bag)
		require.NoError(c.t, err)
		acks[name] = ack
	}
	return acks
}

// commit writes what a successful hook staged, as relation-set would.
func (c *simCluster) commit(name string, ack Ack, rec *Record) {
	bag, err := EncodeAck(ack)
	require.NoError(c.t, err)
	maps.Copy(c.bags[name], bag)
	if rec != nil {
		require.Equal(c.t, c.leader, name, "only the leader writes the application bag")
		app, err := EncodeRecord(*rec)
		require.NoError(c.t, err)
		c.app = app
	}
	c.checkInvariants()
}

// checkInvariants: no worker ever runs a release other than `current`.
func (c *simCluster) checkInvariants() {
	for _, u := range c.units {
		if u.worker != "" && !u.down {
			require.Equal(c.t, c.vol.current, u.worker, "%s runs %s while current is %s", u.name, u.worker, c.vol.current)
		}
	}
}

// hook runs one hook (relation-changed or update-status) on a unit: the
// unit's own step, and on the leader the leader's step until it re-checked
// its own writes. It returns how many effects ran.
func (c *simCluster) hook(name string) (int, error) {
	u := c.unit(name)
	if u.down {
		return 0, nil
	}
	before := u.effects
	rec := c.record()
	ack, err := DecodeAck(c.bags[name])
	require.NoError(c.t, err)
	unitFailed := false
	unitStep := func() {
		if unitFailed {
			return // a failed step waits for the next hook
		}
		next, err := RunUnitStep(context.Background(), u, rec, ack)
		require.NoError(c.t, err)
		ack, unitFailed = next, next.Error != ""
	}
	unitStep()
	if name != c.leader {
		c.commit(name, ack, nil)
		return u.effects - before, nil
	}
	for i := 0; ; i++ {
		require.Less(c.t, i, 10, "the leader's hook never reached a fixed point")
		acks := c.acks()
		acks[name] = ack
		next, err := RunLeaderStep(context.Background(), u, c.now, rec, acks, c.names())
		if err != nil {
			return u.effects - before, err // the hook fails: Juju drops its writes
		}
		if next == rec {
			break
		}
		rec = next
		unitStep() // the leader gets no relation-changed for its own write
	}
	c.commit(name, ack, &rec)
	return u.effects - before, nil
}

// settle runs hooks on every unit, in an order drawn from rng each round,
// until a whole round changes neither a bag nor a service nor the volume (a
// unit whose drain keeps failing retries on every hook and changes nothing).
func (c *simCluster) settle(rng *rand.Rand) {
	for round := 0; round < 30; round++ {
		app, bags, world := maps.Clone(c.app), c.cloneBags(), c.world()
		for _, i := range rng.Perm(len(c.units)) {
			name := c.units[i].name
			_, err := c.hook(name)
			require.NoError(c.t, err, "hook on %s", name)
			if c.twice {
				afterApp, afterBags := maps.Clone(c.app), c.cloneBags()
				again, err := c.hook(name)
				require.NoError(c.t, err)
				require.Zero(c.t, again, "%s: the same hook run twice must do nothing the second time", name)
				require.Equal(c.t, afterApp, c.app, "%s: a second run changed the record", name)
				require.Equal(c.t, afterBags, c.bags, "%s: a second run changed an ack", name)
			}
		}
		if maps.Equal(app, c.app) && bagsEqual(bags, c.bags) && world == c.world() {
			return
		}
	}
	c.t.Fatalf("the cluster did not settle; record %+v", c.record())
}

// world summarises every service and the volume's `current`.
func (c *simCluster) world() string {
	s := "current=" + c.vol.current
	for _, u := range c.units {
		s += fmt.Sprintf(" %s:worker=%s,web=%s", u.name, u.worker, u.web)
	}
	return s
}

func (c *simCluster) cloneBags() map[string]map[string]string {
	out := map[string]map[string]string{}
	for k, v := range c.bags {
		out[k] = maps.Clone(v)
	}
	return out
}

func bagsEqual(a, b map[string]map[string]string) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

// upgradeAction is the `upgrade` action on the leader: stage, then initiate.
func (c *simCluster) upgradeAction(target string) error {
	rec := c.record()
	effects, err := PlanStage(rec, target)
	if err != nil {
		return err
	}
	stageErr := Execute(context.Background(), c.unit(c.leader), effects)
	next, err := Initiate(c.now, rec, InitiateRequest{Target: target, Installed: c.vol.current, By: c.leader, Staged: stageErr == nil})
	if err != nil {
		return err
	}
	c.commitRecord(next)
	return nil
}

func (c *simCluster) retryAction() error {
	rec := c.record()
	effects, err := PlanStage(rec, rec.TargetVersion)
	if err != nil {
		return err
	}
	stageErr := Execute(context.Background(), c.unit(c.leader), effects)
	next, err := Retry(c.now, rec, RetryRequest{By: c.leader, Staged: stageErr == nil})
	if err != nil {
		return err
	}
	c.commitRecord(next)
	return nil
}

func (c *simCluster) rollbackAction() error {
	next, effects, err := Rollback(c.record(), c.leader)
	if err != nil {
		return err
	}
	if err := Execute(context.Background(), c.unit(c.leader), effects); err != nil {
		return err
	}
	c.commitRecord(next)
	return nil
}

func (c *simCluster) commitRecord(rec Record) {
	app, err := EncodeRecord(rec)
	require.NoError(c.t, err)
	c.app = app
}

// requireAllOn checks every live unit's worker runs version from `current`.
func (c *simCluster) requireAllOn(version string) {
	require.Equal(c.t, version, c.vol.current)
	for _, u := range c.units {
		if !u.down {
			assert.Equal(c.t, version, u.worker, "worker of %s", u.name)
		}
	}
}

func TestSimulationFullUpgrade(t *testing.T) {
	t.Parallel()
	for seed := int64(1); seed <= 30; seed++ {
		c := newSimCluster(t, 3)
		c.twice = seed%2 == 0
		rng := rand.New(rand.NewSource(seed))
		c.settle(rng) // a fresh relation changes nothing
		assert.Equal(t, Record{}, c.record())

		require.NoError(t, c.upgradeAction(newVersion))
		c.settle(rng)

		rec := c.record()
		assert.Equal(t, PhaseIdle, rec.Phase, "seed %d", seed)
		assert.Equal(t, newVersion, rec.Version)
		assert.Equal(t, uint64(1), rec.Generation)
		assert.Empty(t, rec.LastError)
		assert.True(t, rec.Staged)
		c.requireAllOn(newVersion)
		for _, u := range c.units {
			assert.Equal(t, newVersion, u.web)
			assert.Equal(t, 1, u.webRestarts, "web on %s restarts exactly once", u.name)
		}
		for name, ack := range c.acks() {
			assert.Equal(t, Ack{Generation: 1, RunningVersion: newVersion}, ack, name)
			assert.Equal(t, "kept", c.bags[name]["unrelated"], "other keys in the bag survive")
		}
		assert.Equal(t, 1, c.vol.downloads, "the release is downloaded once per cluster")
		assert.Zero(t, c.vol.downloadsInSwitch, "staged before PREPARE: no download while workers are stopped")
		assert.Equal(t, "active", StatusOf("concourse", rec, c.acks(), c.names()).Level)

		var same *SameVersionError
		require.ErrorAs(t, c.upgradeAction(newVersion), &same, "upgrading to the running release is refused")
	}
}

func TestSimulationUnstagedUpgradeDownloadsWhileStopped(t *testing.T) {
	t.Parallel()
	c := newSimCluster(t, 3)
	c.vol.stageFails = true
	rng := rand.New(rand.NewSource(7))
	require.NoError(t, c.upgradeAction(newVersion))
	assert.False(t, c.record().Staged)
	c.vol.stageFails = false
	c.settle(rng)
	assert.Equal(t, PhaseIdle, c.record().Phase)
	c.requireAllOn(newVersion)
	assert.Equal(t, 1, c.vol.downloadsInSwitch, "without staging, DOWNLOADING fetches the release")
}

func TestSimulationPrepareDeadlineAborts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		break_ func(*simUnit)
		want   string
	}{
		{"unit agent down", func(u *simUnit) { u.down = true }, "c/2"},
		{"drain keeps failing", func(u *simUnit) { u.drainFailures = 1 << 30 }, "c/2 (stop-worker: drain timed out)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for seed := int64(1); seed <= 10; seed++ {
				c := newSimCluster(t, 3)
				tc.break_(c.unit("c/2"))
				rng := rand.New(rand.NewSource(seed))
				require.NoError(t, c.upgradeAction(newVersion))
				c.settle(rng)

				rec := c.record()
				require.Equal(t, PhasePrepare, rec.Phase, "c/2 never acks, so the leader waits")
				assert.Empty(t, c.unit("c/0").worker)
				assert.Empty(t, c.unit("c/1").worker)
				status := StatusOf("concourse", rec, c.acks(), c.names())
				assert.Contains(t, status.Message, "waiting for "+tc.want)
				assert.Contains(t, status.Message, "juju run concourse/leader upgrade-abort")

				c.now = rec.Deadline.Add(time.Second)
				c.settle(rng)

				rec = c.record()
				assert.Equal(t, PhaseIdle, rec.Phase)
				assert.Equal(t, oldVersion, rec.Version, "an abort settles on the previous release")
				assert.Contains(t, rec.LastError, "deadline")
				assert.Contains(t, rec.LastError, tc.want)
				c.requireAllOn(oldVersion)
				assert.Equal(t, oldVersion, c.unit("c/2").worker)
				for _, u := range c.units {
					assert.Zero(t, u.webRestarts, "the web never restarts for an aborted upgrade")
				}
				assert.Contains(t, StatusOf("concourse", rec, nil, nil).Message, "last upgrade: upgrade to 7.14.3 aborted")
			}
		})
	}
}

func TestSimulationDownloadFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		recover func(c *simCluster) error
		want    string
		wantGen uint64
	}{
		{"then retry", (*simCluster).retryAction, newVersion, 2},
		{"then rollback", (*simCluster).rollbackAction, oldVersion, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for seed := int64(1); seed <= 10; seed++ {
				c := newSimCluster(t, 3)
				c.twice = seed%2 == 1
				c.vol.corrupt[newVersion] = 1
				rng := rand.New(rand.NewSource(seed))
				require.NoError(t, c.upgradeAction(newVersion))
				c.settle(rng)

				rec := c.record()
				require.Equal(t, PhaseFailed, rec.Phase)
				assert.Contains(t, rec.LastError, "exec format error")
				c.requireAllOn(oldVersion)
				status := StatusOf("concourse", rec, c.acks(), c.names())
				assert.Equal(t, "blocked", status.Level)
				assert.Contains(t, status.Message, "Run: juju run concourse/leader upgrade-retry (or upgrade-rollback)")

				require.NoError(t, tc.recover(c))
				c.settle(rng)

				rec = c.record()
				assert.Equal(t, PhaseIdle, rec.Phase)
				assert.Equal(t, tc.want, rec.Version)
				assert.Equal(t, tc.wantGen, rec.Generation)
				c.requireAllOn(tc.want)
			}
		})
	}
}

func TestSimulationLeaderChangeMidPrepare(t *testing.T) {
	t.Parallel()
	for seed := int64(1); seed <= 10; seed++ {
		c := newSimCluster(t, 3)
		rng := rand.New(rand.NewSource(seed))
		require.NoError(t, c.upgradeAction(newVersion))
		_, err := c.hook("c/1")
		require.NoError(t, err)
		require.Equal(t, PhasePrepare, c.record().Phase)

		// c/0 loses leadership before it saw any ack; c/1 takes over with
		// nothing but the persisted record and the bags.
		c.leader = "c/1"
		_, err = c.hook("c/1")
		require.NoError(t, err)
		rec := c.record()
		assert.Equal(t, PhasePrepare, rec.Phase, "c/0 and c/2 have not acked yet")
		assert.Equal(t, uint64(1), rec.Generation, "the new leader continues the same generation")

		c.settle(rng)
		rec = c.record()
		assert.Equal(t, PhaseIdle, rec.Phase)
		assert.Equal(t, newVersion, rec.Version)
		assert.Equal(t, uint64(1), rec.Generation)
		c.requireAllOn(newVersion)
	}
}

func TestSimulationOldGenerationAcksNeverCount(t *testing.T) {
	t.Parallel()
	c := newSimCluster(t, 3)
	c.vol.corrupt[newVersion] = 1
	rng := rand.New(rand.NewSource(3))
	require.NoError(t, c.upgradeAction(newVersion))
	c.settle(rng)
	require.Equal(t, PhaseFailed, c.record().Phase)
	require.NoError(t, c.retryAction())

	// Forge what a buggy or slow unit might leave behind: a ready ack from
	// generation 1 on every unit but the leader.
	for _, name := range []string{"c/1", "c/2"} {
		bag, err := EncodeAck(Ack{Generation: 1, ReadyForDownload: true})
		require.NoError(t, err)
		maps.Copy(c.bags[name], bag)
	}
	_, err := c.hook("c/0")
	require.NoError(t, err)
	assert.Equal(t, PhasePrepare, c.record().Phase, "generation-1 acks do not make generation 2 ready")
	c.settle(rng)
	assert.Equal(t, PhaseIdle, c.record().Phase)
	c.requireAllOn(newVersion)
}
