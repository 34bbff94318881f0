package fsm

import (
	"errors"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

var none version.Version

func members() []string { return []string{"a/0", "a/1", "a/2"} }

func rec(phase Phase) Record {
	r := Record{Phase: phase, Generation: 3, Revision: 10, Version: v1, TargetVersion: v2, PreviousVersion: v1,
		PrepareTimeout: 10 * time.Minute, Members: members()}
	if phase == PhaseIdle {
		r.TargetVersion, r.PreviousVersion, r.PrepareTimeout = v1, none, 0
		r.Generation = 2
	}
	return r
}

func TestUpgradeTableValidates(t *testing.T) {
	t.Parallel()
	table := UpgradeTable()
	require.NoError(t, table.Validate())
	for _, s := range table.States {
		assert.NotEmpty(t, s.Meaning, s.Name)
		assert.NotEmpty(t, s.WhenStuck, s.Name)
	}
	for _, tr := range table.Transitions {
		assert.NotEmpty(t, tr.Effect, tr.Event)
		if tr.Action != "" {
			assert.Contains(t, Actions(), tr.Action, "%s: actions are the constants of actions.go", tr.Event)
			assert.Equal(t, Leader, tr.Who, "%s: operator actions change the leader's record", tr.Event)
		}
		// looplab, built from the table, takes every row.
		for _, from := range tr.From {
			p, _ := ParsePhase(from)
			got, err := takeUpgrade(p, tr.Event)
			require.NoError(t, err, "%s from %s", tr.Event, from)
			assert.Equal(t, tr.To, got.String())
		}
	}
}

func TestTakeUpgradeRefusesWhatTheTableLacks(t *testing.T) {
	t.Parallel()
	_, err := takeUpgrade(PhaseFailed, UpgradeAbort)
	var invalid *InvalidEventError
	require.ErrorAs(t, err, &invalid)
	assert.Equal(t, "failed", invalid.State)
	assert.Equal(t, []string{UpgradeRetry, UpgradeRollback, UpgradeWorkerStarted}, invalid.Allowed)
	assert.Equal(t, []string{ActionUpgradeRetry, ActionUpgradeRollback}, invalid.AllowedActions())
	_, err = takeUpgrade(Phase(42), UpgradeAbort)
	require.ErrorAs(t, err, &invalid)
}

// What each committed record asks of a member, and of a unit it does not
// list yet: a non-member runs nothing, whatever the phase.
func TestWanted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		phase Phase
		want  Want
	}{
		{PhaseIdle, Want{Member: true, Worker: v1, Web: v1, Stage: v1, Current: v1}},
		{PhasePrepare, Want{Member: true, Web: v1, Stage: v1, PreStage: v2, Current: v1}},
		{PhaseDownloading, Want{Member: true, Web: v1, Stage: v2, Current: v2}},
		{PhaseComplete, Want{Member: true, Worker: v2, Web: v2, Stage: v2, Current: v2}},
		{PhaseFailed, Want{Member: true, Worker: v1, Web: v1, Stage: v1, Current: v1}},
	}
	for _, tc := range tests {
		r := rec(tc.phase)
		assert.Equal(t, tc.want, Wanted(r, "a/1"), tc.phase.String())
		outsider := Wanted(r, "a/9")
		assert.False(t, outsider.Member)
		assert.True(t, outsider.Worker.IsZero() && outsider.Web.IsZero(), "%s: a non-member runs nothing", tc.phase)
		assert.Equal(t, tc.want.Stage, outsider.Stage, "a non-member may still get the release ready")
	}
	fresh := Wanted(Record{Members: []string{"a/0"}}, "a/0")
	assert.Equal(t, Want{Member: true}, fresh, "nothing is settled yet: nothing to run")
}

func TestAckForAndStale(t *testing.T) {
	t.Parallel()
	r := rec(PhasePrepare)
	a := AckFor(r, Observed{Running: v1})
	assert.Equal(t, Ack{Generation: 3, Seen: 10, WorkerStopped: true, Running: v1}, a, "a web-only unit: no worker, web runs")
	a = AckFor(r, Observed{Worker: v1, Running: v1, Err: errors.New("drain timed out")})
	assert.Equal(t, Ack{Generation: 3, Seen: 10, Running: v1, Error: "drain timed out"}, a)
	assert.False(t, Stale(r, a))
	assert.True(t, Stale(Record{}, a), "a wiped bag reads older than what the unit acted on")
}

func acksAll(r Record, edit func(*Ack)) map[string]Ack {
	acks := map[string]Ack{}
	for _, m := range r.Members {
		a := Ack{Generation: r.Generation, Seen: r.Revision}
		edit(&a)
		acks[m] = a
	}
	return acks
}

func view(r Record, acks map[string]Ack) LeaderView {
	return LeaderView{Self: "a/0", Peers: []string{"a/1", "a/2"}, Acks: acks, Now: t0, PhaseSince: t0}
}

func TestLeaderStepPrepare(t *testing.T) {
	t.Parallel()
	r := rec(PhasePrepare)
	stopped := acksAll(r, func(a *Ack) { a.WorkerStopped = true })

	d, err := LeaderStep(r, view(r, stopped))
	require.NoError(t, err)
	assert.Equal(t, UpgradeWorkersReady, d.Event)
	assert.True(t, d.Changed)
	assert.Equal(t, PhaseDownloading, d.Record.Phase)
	assert.Equal(t, r.Revision+1, d.Record.Revision, "every write has a new revision")
	assert.Equal(t, r.Generation, d.Record.Generation)

	// One unit still draining: wait, and say who.
	draining := acksAll(r, func(a *Ack) { a.WorkerStopped = true })
	draining["a/2"] = Ack{Generation: 3, Seen: 10, Running: v1}
	d, err = LeaderStep(r, view(r, draining))
	require.NoError(t, err)
	assert.False(t, d.Changed)
	assert.Equal(t, r, d.Record)
	assert.Equal(t, []Waiting{{Unit: "a/2"}}, d.Waiting)

	// Acks of another generation never count.
	old := acksAll(r, func(a *Ack) { a.WorkerStopped = true; a.Generation = 2 })
	d, err = LeaderStep(r, view(r, old))
	require.NoError(t, err)
	assert.Len(t, d.Waiting, 3)

	// An error is shown with the unit.
	failing := acksAll(r, func(a *Ack) { a.WorkerStopped = true })
	failing["a/1"] = Ack{Generation: 3, Seen: 10, Error: "stop worker: bus gone"}
	d, _ = LeaderStep(r, view(r, failing))
	assert.Equal(t, []Waiting{{Unit: "a/1", Error: "stop worker: bus gone"}}, d.Waiting)
	assert.Equal(t, "a/1 (stop worker: bus gone)", d.Waiting[0].String())
}

func TestLeaderStepPrepareTimeoutOnTheLeadersOwnClock(t *testing.T) {
	t.Parallel()
	r := rec(PhasePrepare)
	draining := acksAll(r, func(a *Ack) { a.WorkerStopped = true })
	draining["a/2"] = Ack{Generation: 3, Seen: 10, Running: v1}

	v := view(r, draining)
	v.Now = t0.Add(10*time.Minute - time.Second)
	d, _ := LeaderStep(r, v)
	assert.False(t, d.Changed, "before the timeout: wait")

	v.Now = t0.Add(10 * time.Minute)
	d, err := LeaderStep(r, v)
	require.NoError(t, err)
	assert.Equal(t, UpgradeAbort, d.Event)
	assert.Equal(t, PhaseIdle, d.Record.Phase)
	assert.Equal(t, v1, d.Record.Version, "back to the previous release")
	assert.Equal(t, OutcomeAborted, d.Record.Outcome)
	assert.Contains(t, d.Record.LastError, "the prepare timeout (10m0s) passed with units not stopped: a/2")

	// A leader that has just taken over starts its own count, whatever
	// the initiating leader's clock said.
	v.PhaseSince = v.Now
	d, _ = LeaderStep(r, v)
	assert.False(t, d.Changed)

	// Every member ready beats a deadline noticed late.
	v = view(r, acksAll(r, func(a *Ack) { a.WorkerStopped = true }))
	v.Now = t0.Add(time.Hour)
	d, _ = LeaderStep(r, v)
	assert.Equal(t, UpgradeWorkersReady, d.Event)
}

func TestLeaderStepDownloading(t *testing.T) {
	t.Parallel()
	r := rec(PhaseDownloading)
	ready := acksAll(r, func(a *Ack) { a.WorkerStopped, a.Staged = true, true })
	d, err := LeaderStep(r, view(r, ready))
	require.NoError(t, err)
	assert.Equal(t, UpgradeDownloadVerified, d.Event)
	assert.Equal(t, PhaseComplete, d.Record.Phase)

	notYet := acksAll(r, func(a *Ack) { a.WorkerStopped, a.Staged = true, true })
	notYet["a/0"] = Ack{Generation: 3, Seen: 10, WorkerStopped: true}
	d, _ = LeaderStep(r, view(r, notYet))
	assert.False(t, d.Changed)
	assert.Equal(t, []Waiting{{Unit: "a/0"}}, d.Waiting)

	failed := acksAll(r, func(a *Ack) { a.WorkerStopped, a.Staged = true, true })
	failed["a/2"] = Ack{Generation: 3, Seen: 10, WorkerStopped: true, Error: "HTTP 404"}
	d, err = LeaderStep(r, view(r, failed))
	require.NoError(t, err)
	assert.Equal(t, UpgradeDownloadFailed, d.Event)
	assert.Equal(t, PhaseFailed, d.Record.Phase)
	assert.Equal(t, "a/2 could not get 7.14.3 ready: HTTP 404", d.Record.LastError)
}

func TestLeaderStepComplete(t *testing.T) {
	t.Parallel()
	r := rec(PhaseComplete)
	running := acksAll(r, func(a *Ack) { a.Running = v2 })
	d, err := LeaderStep(r, view(r, running))
	require.NoError(t, err)
	assert.Equal(t, UpgradeFinish, d.Event)
	assert.Equal(t, PhaseIdle, d.Record.Phase)
	assert.Equal(t, v2, d.Record.Version)
	assert.Equal(t, OutcomeFinished, d.Record.Outcome)

	mixed := acksAll(r, func(a *Ack) { a.Running = v2 })
	mixed["a/1"] = Ack{Generation: 3, Seen: 10, WorkerStopped: true, Error: "concourse --version: exec format error"}
	d, _ = LeaderStep(r, view(r, mixed))
	assert.False(t, d.Changed, "no way back from complete: wait")
	assert.Equal(t, []Waiting{{Unit: "a/1", Error: "concourse --version: exec format error"}}, d.Waiting)
}

func TestLeaderStepMembership(t *testing.T) {
	t.Parallel()
	r := rec(PhaseIdle)
	v := view(r, nil)
	v.Peers = []string{"a/2", "a/3", "a/2"}
	d, err := LeaderStep(r, v)
	require.NoError(t, err)
	assert.True(t, d.Changed)
	assert.Equal(t, "", d.Event, "membership is not a phase change")
	assert.Equal(t, []string{"a/0", "a/2", "a/3"}, d.Record.Members, "self included, departed a/1 dropped, sorted once each")
	assert.Equal(t, r.Revision+1, d.Record.Revision)

	// A member added during PREPARE is waited for too.
	p := rec(PhasePrepare)
	v = view(p, acksAll(p, func(a *Ack) { a.WorkerStopped = true }))
	v.Peers = append(v.Peers, "a/3")
	d, _ = LeaderStep(p, v)
	assert.Equal(t, PhasePrepare, d.Record.Phase)
	assert.Equal(t, []Waiting{{Unit: "a/3"}}, d.Waiting)
	assert.True(t, d.Changed, "the new member is recorded")

	// Idle and failed wait for nobody.
	for _, phase := range []Phase{PhaseIdle, PhaseFailed} {
		r := rec(phase)
		d, _ := LeaderStep(r, view(r, nil))
		assert.False(t, d.Changed, phase.String())
		assert.Empty(t, d.Waiting)
	}
}

func TestInitiate(t *testing.T) {
	t.Parallel()
	req := InitiateRequest{Target: v2, By: "a/0", Now: t0.Add(1500 * time.Millisecond), PrepareTimeout: 5 * time.Minute}
	idle := rec(PhaseIdle)
	next, err := Initiate(idle, req)
	require.NoError(t, err)
	assert.Equal(t, Record{Phase: PhasePrepare, Generation: 3, Revision: 11, Version: v1, TargetVersion: v2, PreviousVersion: v1,
		InitiatedBy: "a/0", InitiatedAt: t0.Add(time.Second), PrepareTimeout: 5 * time.Minute, Members: members()}, next)

	// Forward from complete: web may run the target already, so it is
	// the previous release now.
	complete := rec(PhaseComplete)
	req.Target = v3
	next, err = Initiate(complete, req)
	require.NoError(t, err)
	assert.Equal(t, PhasePrepare, next.Phase)
	assert.Equal(t, complete.Generation+1, next.Generation)
	assert.Equal(t, v2, next.PreviousVersion)
	assert.Equal(t, v2, next.Version)

	refusals := []struct {
		name string
		rec  Record
		req  InitiateRequest
		err  any
	}{
		{"same version", idle, InitiateRequest{Target: v1, PrepareTimeout: time.Minute}, &SameVersionError{}},
		{"nothing settled", Record{}, InitiateRequest{Target: v1, PrepareTimeout: time.Minute}, &NoReleaseError{}},
		{"already under way", rec(PhaseDownloading), InitiateRequest{Target: v2, PrepareTimeout: time.Minute}, &AlreadyError{}},
		{"another target under way", rec(PhasePrepare), InitiateRequest{Target: v3, PrepareTimeout: time.Minute}, &InvalidEventError{}},
		{"after a failure", rec(PhaseFailed), InitiateRequest{Target: v3, PrepareTimeout: time.Minute}, &InvalidEventError{}},
		{"downgrade", rec(PhaseIdle), InitiateRequest{Target: version.MustParse("7.12.0"), PrepareTimeout: time.Minute}, &InvalidRequestError{}},
		{"back from complete", complete, InitiateRequest{Target: v1, PrepareTimeout: time.Minute}, &InvalidRequestError{}},
		{"no timeout", idle, InitiateRequest{Target: v2}, &InvalidRequestError{}},
		{"no target", idle, InitiateRequest{PrepareTimeout: time.Minute}, &InvalidRequestError{}},
	}
	for _, tc := range refusals {
		got, err := Initiate(tc.rec, tc.req)
		require.Error(t, err, tc.name)
		assert.IsType(t, tc.err, err, tc.name)
		assert.Equal(t, tc.rec, got, "%s: nothing changes", tc.name)
	}
}

// A second abort, retry or rollback says it is already done instead of
// failing.
func TestOperatorActionsAreIdempotent(t *testing.T) {
	t.Parallel()
	aborted, err := Abort(rec(PhasePrepare), "a/0", "changed my mind")
	require.NoError(t, err)
	assert.Equal(t, PhaseIdle, aborted.Phase)
	assert.Equal(t, v1, aborted.Version)
	assert.Equal(t, "upgrade to 7.14.3 aborted by a/0: changed my mind", aborted.LastError)
	assert.Equal(t, uint64(11), aborted.Revision)
	_, err = Abort(aborted, "a/0", "")
	var already *AlreadyError
	require.ErrorAs(t, err, &already)
	assert.Equal(t, "already aborted; nothing was changed", err.Error())

	_, err = Abort(rec(PhaseComplete), "a/0", "")
	var invalid *InvalidEventError
	require.ErrorAs(t, err, &invalid, "no abort once web may run the target")
	assert.Equal(t, []string{ActionUpgrade}, invalid.AllowedActions())

	failed := rec(PhaseFailed)
	failed.LastError = "a/1 could not get 7.14.3 ready: 404"
	retried, err := Retry(failed, RetryRequest{By: "a/0", Now: t0, PrepareTimeout: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, PhasePrepare, retried.Phase)
	assert.Equal(t, failed.Generation+1, retried.Generation)
	assert.Empty(t, retried.LastError)
	_, err = Retry(retried, RetryRequest{By: "a/0", Now: t0, PrepareTimeout: time.Minute})
	require.ErrorAs(t, err, &already)
	_, err = Retry(rec(PhaseIdle), RetryRequest{PrepareTimeout: time.Minute})
	require.ErrorAs(t, err, &invalid)
	done := rec(PhaseIdle)
	done.Generation, done.Outcome, done.Version, done.TargetVersion, done.PreviousVersion = 4, OutcomeFinished, v2, v2, v1
	_, err = Retry(done, RetryRequest{PrepareTimeout: time.Minute})
	require.ErrorAs(t, err, &already, "a retry after the retried upgrade finished is already done")

	rolled, err := Rollback(failed, "")
	require.NoError(t, err)
	assert.Equal(t, PhaseIdle, rolled.Phase)
	assert.Equal(t, v1, rolled.Version)
	assert.Equal(t, OutcomeRolledBack, rolled.Outcome)
	assert.Contains(t, rolled.LastError, "rolled back by an operator after: a/1 could not get 7.14.3 ready: 404")
	_, err = Rollback(rolled, "")
	require.ErrorAs(t, err, &already)
	_, err = Rollback(rec(PhaseComplete), "")
	require.ErrorAs(t, err, &invalid)
}

func TestSettle(t *testing.T) {
	t.Parallel()
	r, ok := Settle(Record{Revision: 1, Members: []string{"a/0"}}, v1)
	require.True(t, ok)
	assert.Equal(t, Record{Revision: 2, Version: v1, Members: []string{"a/0"}}, r)
	_, ok = Settle(r, v2)
	assert.False(t, ok, "settled once; later changes are upgrades")
}

// A wiped application bag reads as a fresh relation; the leader rebuilds
// the record from the acks and the volume so that neither the generation
// nor the revision goes back.
func TestRecover(t *testing.T) {
	t.Parallel()
	_, ok := Recover(Record{}, Evidence{Members: members()})
	assert.False(t, ok, "a fresh relation is not a lost one")
	_, ok = Recover(rec(PhaseIdle), Evidence{Acks: map[string]Ack{"a/1": {Generation: 9, Seen: 99}}, Members: members()})
	assert.False(t, ok, "a record that is there is not rebuilt")

	acks := map[string]Ack{"a/1": {Generation: 3, Seen: 12, Running: v2}, "a/2": {Generation: 3, Seen: 14, Running: v2}}
	r, ok := Recover(Record{}, Evidence{Acks: acks, Members: members(), FenceRevision: 13, FenceVersion: v1})
	require.True(t, ok)
	assert.Equal(t, PhaseIdle, r.Phase)
	assert.Equal(t, uint64(4), r.Generation, "above every generation, also one nobody acked")
	assert.Equal(t, uint64(15), r.Revision)
	assert.Equal(t, v2, r.Version, "what every member runs")
	assert.Equal(t, members(), r.Members, "the members stay counted, or every unit would stop")
	assert.Contains(t, r.LastError, "rebuilt")
	assert.Equal(t, OutcomeRecovered, r.Outcome)

	acks["a/2"] = Ack{Generation: 3, Seen: 14, WorkerStopped: true}
	r, _ = Recover(Record{}, Evidence{Acks: acks, Members: members(), FenceRevision: 20, FenceVersion: v1})
	assert.Equal(t, v1, r.Version, "units disagree: `current` decides")
	assert.Equal(t, uint64(21), r.Revision)

	// A record a former leader wrote that nobody acted on: its unit bag
	// echoes it.
	acks["a/0"] = Ack{Generation: 3, Seen: 14, WroteGeneration: 7, WroteRevision: 40}
	r, _ = Recover(Record{}, Evidence{Acks: acks, Members: members(), FenceRevision: 13, FenceVersion: v1})
	assert.Equal(t, uint64(8), r.Generation)
	assert.Equal(t, uint64(41), r.Revision)
	delete(acks, "a/0")

	// A record the leader wrote that nobody saw is never reused.
	r, _ = Recover(Record{}, Evidence{Acks: acks, Members: members(), FenceRevision: 13, FenceVersion: v1, WrittenGeneration: 5, WrittenRevision: 30})
	assert.Equal(t, uint64(6), r.Generation)
	assert.Equal(t, uint64(31), r.Revision)
}
