package fsm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	oldVersion = "7.13.2"
	newVersion = "7.14.3"
)

// t0 is the test clock's start; the engine takes time only as an argument.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// recordIn returns a realistic record sitting in phase, generation 3.
func recordIn(phase Phase) Record {
	rec := Record{
		Phase:           phase,
		Generation:      3,
		Version:         oldVersion,
		TargetVersion:   newVersion,
		PreviousVersion: oldVersion,
		InitiatedBy:     "concourse/0",
		InitiatedAt:     t0,
		Staged:          true,
	}
	switch phase {
	case PhaseIdle:
		rec.TargetVersion, rec.PreviousVersion = oldVersion, "7.12.0"
	case PhasePrepare:
		rec.Deadline = t0.Add(DefaultPrepareTimeout)
	case PhaseFailed:
		rec.LastError = "switch-release 7.14.3: sha1 mismatch"
	}
	return rec
}

func allPhases() []Phase {
	return []Phase{PhaseIdle, PhasePrepare, PhaseDownloading, PhaseComplete, PhaseFailed}
}

func TestUpgradeTableValidatesAndMatchesPhases(t *testing.T) {
	t.Parallel()
	table := UpgradeTable()
	require.NoError(t, table.Validate())
	assert.Equal(t, phaseNames(), table.StateNames(), "Phase constants and table states must be the same list")
	assert.Equal(t, PhaseIdle.String(), table.Initial)
	for _, p := range allPhases() {
		got, ok := ParsePhase(p.String())
		assert.True(t, ok)
		assert.Equal(t, p, got)
	}
	_, ok := ParsePhase("paused")
	assert.False(t, ok)
	assert.Equal(t, "phase(9)", Phase(9).String())
}

func TestUpgradeTableIsDocumentedForOperators(t *testing.T) {
	t.Parallel()
	table := UpgradeTable()
	for _, s := range table.States {
		assert.NotEmpty(t, s.Meaning, s.Name)
		assert.NotEmpty(t, s.WhenStuck, s.Name)
		level, _, ok := strings.Cut(s.Status, ": ")
		assert.True(t, ok, "status of %s starts with a juju status level", s.Name)
		assert.Contains(t, []string{"active", "maintenance", "waiting", "blocked"}, level, s.Name)
	}
	for _, tr := range table.Transitions {
		assert.NotEmpty(t, tr.Effect, tr.Event)
		assert.NotEmpty(t, tr.Hooks, tr.Event)
		isUnitEvent := tr.Event == UpgradeWorkerStopped || tr.Event == UpgradeWorkerStarted
		if isUnitEvent {
			assert.Equal(t, AnyUnit, tr.Who, tr.Event)
			assert.Equal(t, tr.From, []string{tr.To}, "a unit's own step never moves the phase")
		} else {
			assert.Equal(t, Leader, tr.Who, "%s changes the record, which only the leader writes", tr.Event)
		}
	}
	failed, _ := table.State(PhaseFailed.String())
	assert.Contains(t, failed.Status, "juju run APP/leader upgrade-retry")
	assert.Contains(t, failed.Status, "upgrade-rollback")
}

// TestFireEveryPair fires every event from every phase through looplab:
// allowed pairs land where the table says, refused ones name the allowed
// events and leave the phase.
func TestFireEveryPair(t *testing.T) {
	t.Parallel()
	table := UpgradeTable()
	for _, p := range allPhases() {
		for _, event := range append(table.EventNames(), "no-such-event") {
			got, err := fireUpgrade(p, event)
			tr, allowed := table.Next(p.String(), event)
			if allowed {
				require.NoError(t, err, "%s in %s", event, p)
				assert.Equal(t, tr.To, got.String(), "%s in %s", event, p)
				continue
			}
			var invalid *InvalidTransitionError
			require.ErrorAs(t, err, &invalid, "%s in %s", event, p)
			assert.Equal(t, p, got)
			assert.Equal(t, p.String(), invalid.State)
			assert.Equal(t, event, invalid.Event)
			assert.Equal(t, table.Allowed(p.String()), invalid.Allowed)
			assert.NotEmpty(t, invalid.Allowed, "every phase allows something")
			assert.Contains(t, err.Error(), "nothing was changed")
		}
	}
	_, err := fireUpgrade(Phase(9), UpgradeInitiate)
	var invalid *InvalidTransitionError
	require.ErrorAs(t, err, &invalid)
	assert.Empty(t, invalid.Allowed)
}

// operatorCall is one entry point that fires exactly one event.
type operatorCall struct {
	event string
	call  func(Record) (Record, []Effect, error)
}

func operatorCalls() []operatorCall {
	noEffects := func(rec Record, err error) (Record, []Effect, error) { return rec, nil, err }
	return []operatorCall{
		{UpgradeInitiate, func(r Record) (Record, []Effect, error) {
			return noEffects(Initiate(t0, r, InitiateRequest{Target: "8.0.0", Installed: oldVersion, By: "concourse/1", Staged: true}))
		}},
		{UpgradeRetry, func(r Record) (Record, []Effect, error) {
			return noEffects(Retry(t0, r, RetryRequest{By: "concourse/1", Staged: true}))
		}},
		{UpgradeRollback, func(r Record) (Record, []Effect, error) { return Rollback(r, "concourse/1") }},
		{UpgradeAbort, func(r Record) (Record, []Effect, error) { return Abort(r, "concourse/1", "operator asked") }},
		{UpgradeDownloadVerified, func(r Record) (Record, []Effect, error) { return ConfirmSwitch(r, r.Generation, nil) }},
		{UpgradeDownloadFailed, func(r Record) (Record, []Effect, error) {
			return ConfirmSwitch(r, r.Generation, errors.New("sha1 mismatch"))
		}},
	}
}

// TestOperatorEntryPointsEveryPhase calls each explicit entry point in every
// phase: allowed ones reach the table's phase with the right effects,
// refused ones return *InvalidTransitionError and change nothing.
func TestOperatorEntryPointsEveryPhase(t *testing.T) {
	t.Parallel()
	table := UpgradeTable()
	restoreOld := []Effect{{Kind: SwitchRelease, Version: oldVersion}}
	wantEffects := map[string][]Effect{
		UpgradeInitiate:         nil,
		UpgradeRetry:            nil,
		UpgradeRollback:         restoreOld,
		UpgradeAbort:            restoreOld,
		UpgradeDownloadVerified: nil,
		UpgradeDownloadFailed:   restoreOld,
	}
	for _, op := range operatorCalls() {
		for _, p := range allPhases() {
			t.Run(op.event+"/"+p.String(), func(t *testing.T) {
				t.Parallel()
				before := recordIn(p)
				after, effects, err := op.call(before)
				tr, allowed := table.Next(p.String(), op.event)
				if !allowed {
					var invalid *InvalidTransitionError
					require.ErrorAs(t, err, &invalid)
					assert.Equal(t, op.event, invalid.Event)
					assert.Equal(t, before, after, "a refused event changes nothing")
					assert.Nil(t, effects)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tr.To, after.Phase.String())
				assert.Equal(t, wantEffects[op.event], effects)
				assert.GreaterOrEqual(t, after.Generation, before.Generation)
				_, err = EncodeRecord(after)
				assert.NoError(t, err, "the engine only produces records the codec accepts")
			})
		}
	}
}

func TestInitiateRecordsTheGeneration(t *testing.T) {
	t.Parallel()
	rec, err := Initiate(t0.Add(1500*time.Millisecond), Record{}, InitiateRequest{
		Target: newVersion, Installed: oldVersion, By: "concourse/0", Staged: true, PrepareTimeout: 3 * time.Minute,
	})
	require.NoError(t, err)
	assert.Equal(t, Record{
		Phase:           PhasePrepare,
		Generation:      1,
		Version:         oldVersion,
		TargetVersion:   newVersion,
		PreviousVersion: oldVersion,
		InitiatedBy:     "concourse/0",
		InitiatedAt:     t0.Add(time.Second),
		Deadline:        t0.Add(time.Second + 3*time.Minute),
		Staged:          true,
	}, rec)

	again, err := Initiate(t0.Add(time.Hour), rec, InitiateRequest{Target: newVersion, By: "concourse/2"})
	require.NoError(t, err)
	assert.Equal(t, rec, again, "asking again for the target under way changes nothing")

	defaulted, err := Initiate(t0, Record{}, InitiateRequest{Target: newVersion, Installed: oldVersion})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(DefaultPrepareTimeout), defaulted.Deadline)

	settled := recordIn(PhaseIdle)
	next, err := Initiate(t0, settled, InitiateRequest{Target: newVersion, Installed: "1.0.0"})
	require.NoError(t, err)
	assert.Equal(t, oldVersion, next.PreviousVersion, "the record's settled version wins over the caller's idea")
	assert.Equal(t, settled.Generation+1, next.Generation)
}

func TestInitiateRefusesBadRequests(t *testing.T) {
	t.Parallel()
	idle := recordIn(PhaseIdle)
	cases := []struct {
		name  string
		rec   Record
		req   InitiateRequest
		check func(t *testing.T, err error)
	}{
		{"bad target", idle, InitiateRequest{Target: "v7.14.3"}, func(t *testing.T, err error) {
			var e *InvalidVersionError
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "v7.14.3", e.Version)
		}},
		{"already running it", idle, InitiateRequest{Target: oldVersion}, func(t *testing.T, err error) {
			var e *SameVersionError
			require.ErrorAs(t, err, &e)
		}},
		{"nothing installed", Record{}, InitiateRequest{Target: newVersion}, func(t *testing.T, err error) {
			var e *NoReleaseError
			require.ErrorAs(t, err, &e)
		}},
		{"bad installed version", Record{}, InitiateRequest{Target: newVersion, Installed: "unknown"}, func(t *testing.T, err error) {
			var e *InvalidRequestError
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "installed", e.Field)
		}},
		{"negative timeout", idle, InitiateRequest{Target: newVersion, PrepareTimeout: -time.Minute}, func(t *testing.T, err error) {
			var e *InvalidRequestError
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "prepare-timeout", e.Field)
		}},
		{"other target while failed", recordIn(PhaseFailed), InitiateRequest{Target: "8.0.0"}, func(t *testing.T, err error) {
			var e *InvalidTransitionError
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Allowed, UpgradeRetry)
		}},
		{"same target while failed", recordIn(PhaseFailed), InitiateRequest{Target: newVersion}, func(t *testing.T, err error) {
			var e *InvalidTransitionError
			require.ErrorAs(t, err, &e, "failed waits for retry or rollback, not a second initiate")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Initiate(t0, tc.rec, tc.req)
			tc.check(t, err)
			assert.Equal(t, tc.rec, got)
		})
	}
}

func TestPlanStage(t *testing.T) {
	t.Parallel()
	effects, err := PlanStage(recordIn(PhaseIdle), newVersion)
	require.NoError(t, err)
	assert.Equal(t, []Effect{{Kind: StageRelease, Version: newVersion}}, effects)

	effects, err = PlanStage(recordIn(PhaseFailed), newVersion)
	require.NoError(t, err, "staging again before a retry")
	assert.Equal(t, []Effect{{Kind: StageRelease, Version: newVersion}}, effects)

	_, err = PlanStage(recordIn(PhaseIdle), oldVersion)
	var same *SameVersionError
	require.ErrorAs(t, err, &same)
	_, err = PlanStage(recordIn(PhaseIdle), "7.14")
	var bad *InvalidVersionError
	require.ErrorAs(t, err, &bad)
	_, err = PlanStage(recordIn(PhasePrepare), "8.0.0")
	var invalid *InvalidTransitionError
	require.ErrorAs(t, err, &invalid)
}

func TestConfirmSwitchIgnoresOtherGenerations(t *testing.T) {
	t.Parallel()
	rec := recordIn(PhaseDownloading)
	got, effects, err := ConfirmSwitch(rec, rec.Generation-1, nil)
	var stale *StaleGenerationError
	require.ErrorAs(t, err, &stale)
	assert.Equal(t, uint64(2), stale.Got)
	assert.Equal(t, rec, got)
	assert.Nil(t, effects)

	failed, _, err := ConfirmSwitch(rec, rec.Generation, errors.New("sha1 mismatch"))
	require.NoError(t, err)
	assert.Equal(t, "sha1 mismatch", failed.LastError)
}

func TestRetryAndRollbackRecords(t *testing.T) {
	t.Parallel()
	failed := recordIn(PhaseFailed)
	retried, err := Retry(t0.Add(time.Hour), failed, RetryRequest{By: "concourse/2", PrepareTimeout: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, PhasePrepare, retried.Phase)
	assert.Equal(t, failed.Generation+1, retried.Generation, "a retry is a new generation: old acks never count")
	assert.Equal(t, t0.Add(time.Hour+time.Minute), retried.Deadline)
	assert.False(t, retried.Staged)
	assert.Empty(t, retried.LastError)
	assert.Equal(t, failed.TargetVersion, retried.TargetVersion)

	rolled, effects, err := Rollback(failed, "")
	require.NoError(t, err)
	assert.Equal(t, PhaseIdle, rolled.Phase)
	assert.Equal(t, oldVersion, rolled.Version)
	assert.Equal(t, []Effect{{Kind: SwitchRelease, Version: oldVersion}}, effects)
	assert.Contains(t, rolled.LastError, "rolled back by an operator")
	assert.Contains(t, rolled.LastError, failed.LastError)

	_, err = Retry(t0, failed, RetryRequest{PrepareTimeout: -1})
	var bad *InvalidRequestError
	require.ErrorAs(t, err, &bad)
}

func readyAcks(gen uint64, units ...string) map[string]Ack {
	acks := map[string]Ack{}
	for _, u := range units {
		acks[u] = Ack{Generation: gen, ReadyForDownload: true}
	}
	return acks
}

func runningAcks(gen uint64, version string, units ...string) map[string]Ack {
	acks := map[string]Ack{}
	for _, u := range units {
		acks[u] = Ack{Generation: gen, RunningVersion: version}
	}
	return acks
}

func TestLeaderStep(t *testing.T) {
	t.Parallel()
	units := []string{"c/0", "c/1", "c/2"}
	prepare := recordIn(PhasePrepare)
	complete := recordIn(PhaseComplete)
	partly := readyAcks(3, "c/0", "c/1")
	partly["c/2"] = Ack{Generation: 3, Error: "drain timed out"}
	extra := readyAcks(3, units...)
	extra["c/9"] = Ack{Generation: 3}
	cases := []struct {
		name        string
		rec         Record
		acks        map[string]Ack
		now         time.Time
		wantPhase   Phase
		wantEffects []Effect
		wantError   string
	}{
		{"prepare waits for every unit", prepare, readyAcks(3, "c/0", "c/1"), t0, PhasePrepare, nil, ""},
		{"prepare ignores old-generation acks", prepare, readyAcks(2, units...), t0, PhasePrepare, nil, ""},
		{"prepare ignores newer-generation acks", prepare, readyAcks(4, units...), t0, PhasePrepare, nil, ""},
		{"a unit's error is not readiness", prepare, partly, t0, PhasePrepare, nil, ""},
		{"acks of departed units do not matter", prepare, extra, t0, PhaseDownloading, []Effect{{Kind: SwitchRelease, Version: newVersion}}, ""},
		{"all ready: switch", prepare, readyAcks(3, units...), t0.Add(time.Minute), PhaseDownloading, []Effect{{Kind: SwitchRelease, Version: newVersion}}, ""},
		{"deadline aborts", prepare, partly, prepare.Deadline, PhaseIdle, []Effect{{Kind: SwitchRelease, Version: oldVersion}}, "c/2 (drain timed out)"},
		{"every unit ready wins over a passed deadline", prepare, readyAcks(3, units...), prepare.Deadline.Add(time.Second), PhaseDownloading, []Effect{{Kind: SwitchRelease, Version: newVersion}}, ""},
		{"downloading keeps asking for the switch", recordIn(PhaseDownloading), nil, t0, PhaseDownloading, []Effect{{Kind: SwitchRelease, Version: newVersion}}, ""},
		{"complete waits for every unit", complete, runningAcks(3, newVersion, "c/0", "c/2"), t0, PhaseComplete, nil, ""},
		{"complete ignores units on the old release", complete, runningAcks(3, oldVersion, units...), t0, PhaseComplete, nil, ""},
		{"complete finishes", complete, runningAcks(3, newVersion, units...), t0, PhaseIdle, nil, ""},
		{"idle does nothing", recordIn(PhaseIdle), readyAcks(3, units...), t0, PhaseIdle, nil, ""},
		{"failed waits for the operator", recordIn(PhaseFailed), readyAcks(3, units...), t0.Add(24 * time.Hour), PhaseFailed, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, effects, err := LeaderStep(tc.now, tc.rec, tc.acks, units)
			require.NoError(t, err)
			assert.Equal(t, tc.wantPhase, got.Phase)
			assert.Equal(t, tc.wantEffects, effects)
			assert.Contains(t, got.LastError, tc.wantError)
			assert.Equal(t, tc.rec.Generation, got.Generation)
			if got.Phase == PhaseIdle && tc.rec.Phase == PhaseComplete {
				assert.Equal(t, newVersion, got.Version)
			}
			if got.Phase == PhaseIdle && tc.rec.Phase == PhasePrepare {
				assert.Equal(t, oldVersion, got.Version, "an abort settles back on the previous release")
				assert.True(t, got.Deadline.IsZero())
			}
			if got.Phase == tc.rec.Phase {
				assert.Equal(t, tc.rec, got, "no transition, no change")
			}
			_, err = EncodeRecord(got)
			require.NoError(t, err)
		})
	}
	_, _, err := LeaderStep(t0, prepare, nil, nil)
	require.ErrorIs(t, err, ErrNoUnits)
	_, _, err = LeaderStep(t0, Record{Phase: Phase(7)}, nil, units)
	var invalid *InvalidTransitionError
	require.ErrorAs(t, err, &invalid)
}

func TestUnitStep(t *testing.T) {
	t.Parallel()
	stop := []Effect{{Kind: StopWorker}}
	startNew := []Effect{{Kind: SwitchRelease, Version: newVersion}, {Kind: StartWorker, Version: newVersion}, {Kind: RestartWeb, Version: newVersion}}
	startOld := []Effect{{Kind: SwitchRelease, Version: oldVersion}, {Kind: StartWorker, Version: oldVersion}}
	aborted := recordIn(PhaseIdle)
	aborted.TargetVersion, aborted.PreviousVersion = newVersion, oldVersion
	cases := []struct {
		name        string
		rec         Record
		own         Ack
		wantAck     Ack
		wantEffects []Effect
	}{
		{"prepare stops the worker", recordIn(PhasePrepare), Ack{Generation: 2, RunningVersion: oldVersion}, Ack{Generation: 3, ReadyForDownload: true}, stop},
		{"prepare retries after an error", recordIn(PhasePrepare), Ack{Generation: 3, Error: "drain timed out"}, Ack{Generation: 3, ReadyForDownload: true}, stop},
		{"prepare already acked", recordIn(PhasePrepare), Ack{Generation: 3, ReadyForDownload: true}, Ack{Generation: 3, ReadyForDownload: true}, nil},
		{"late unit stops in downloading", recordIn(PhaseDownloading), Ack{}, Ack{Generation: 3, ReadyForDownload: true}, stop},
		{"complete starts on the target", recordIn(PhaseComplete), Ack{Generation: 3, ReadyForDownload: true}, Ack{Generation: 3, RunningVersion: newVersion}, startNew},
		{"complete already acked", recordIn(PhaseComplete), Ack{Generation: 3, RunningVersion: newVersion}, Ack{Generation: 3, RunningVersion: newVersion}, nil},
		{"failed starts on the previous", recordIn(PhaseFailed), Ack{Generation: 3, ReadyForDownload: true}, Ack{Generation: 3, RunningVersion: oldVersion}, startOld},
		{"idle after abort starts on the previous", aborted, Ack{Generation: 3, ReadyForDownload: true}, Ack{Generation: 3, RunningVersion: oldVersion}, startOld},
		{"idle settled", aborted, Ack{Generation: 3, RunningVersion: oldVersion}, Ack{Generation: 3, RunningVersion: oldVersion}, nil},
		{"fresh relation does nothing", Record{}, Ack{}, Ack{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ack, effects, err := UnitStep(tc.rec, tc.own)
			require.NoError(t, err)
			assert.Equal(t, tc.wantAck, ack)
			assert.Equal(t, tc.wantEffects, effects)
			again, effects, err := UnitStep(tc.rec, ack)
			require.NoError(t, err)
			assert.Equal(t, ack, again, "a second run changes nothing")
			assert.Empty(t, effects, "a second run does nothing")
		})
	}
	_, _, err := UnitStep(Record{Phase: Phase(7)}, Ack{})
	var invalid *InvalidTransitionError
	require.ErrorAs(t, err, &invalid)
}

func TestUnitFailedClaimsNothing(t *testing.T) {
	t.Parallel()
	rec := recordIn(PhasePrepare)
	own := Ack{Generation: 2, RunningVersion: oldVersion}
	ack := UnitFailed(rec, own, errors.New("drain timed out"))
	assert.Equal(t, Ack{Generation: 3, Error: "drain timed out"}, ack)
	assert.Equal(t, own, UnitFailed(rec, own, nil))
	_, err := EncodeAck(ack)
	require.NoError(t, err)
}

// recordingEffects logs every call and fails the kinds listed in fail.
type recordingEffects struct {
	calls []Effect
	fail  map[EffectKind]error
}

func (r *recordingEffects) do(e Effect) error {
	r.calls = append(r.calls, e)
	return r.fail[e.Kind]
}

func (r *recordingEffects) StageRelease(_ context.Context, v string) error {
	return r.do(Effect{Kind: StageRelease, Version: v})
}
func (r *recordingEffects) StopWorker(context.Context) error { return r.do(Effect{Kind: StopWorker}) }
func (r *recordingEffects) SwitchRelease(_ context.Context, v string) error {
	return r.do(Effect{Kind: SwitchRelease, Version: v})
}
func (r *recordingEffects) StartWorker(_ context.Context, v string) error {
	return r.do(Effect{Kind: StartWorker, Version: v})
}
func (r *recordingEffects) RestartWeb(_ context.Context, v string) error {
	return r.do(Effect{Kind: RestartWeb, Version: v})
}

func TestExecute(t *testing.T) {
	t.Parallel()
	all := []Effect{
		{Kind: StageRelease, Version: newVersion}, {Kind: StopWorker}, {Kind: SwitchRelease, Version: newVersion},
		{Kind: StartWorker, Version: newVersion}, {Kind: RestartWeb, Version: newVersion},
	}
	ok := &recordingEffects{}
	require.NoError(t, Execute(context.Background(), ok, all))
	assert.Equal(t, all, ok.calls, "every kind reaches its method, in order")

	boom := errors.New("unit not found")
	failing := &recordingEffects{fail: map[EffectKind]error{SwitchRelease: boom}}
	err := Execute(context.Background(), failing, all)
	var effectErr *EffectError
	require.ErrorAs(t, err, &effectErr)
	assert.Equal(t, all[2], effectErr.Effect)
	require.ErrorIs(t, err, boom)
	assert.Equal(t, all[:3], failing.calls, "nothing runs after a failure")
	assert.Equal(t, "switch-release 7.14.3: unit not found", err.Error())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cancelled := &recordingEffects{}
	require.ErrorIs(t, Execute(ctx, cancelled, all), context.Canceled)
	assert.Empty(t, cancelled.calls)

	err = Execute(context.Background(), &recordingEffects{}, []Effect{{Kind: "reboot"}})
	require.ErrorAs(t, err, &effectErr)
	assert.Contains(t, err.Error(), "does not know")
}

func TestStatusOfTellsTheNextCommand(t *testing.T) {
	t.Parallel()
	units := []string{"c/0", "c/1"}
	aborted := recordIn(PhaseIdle)
	aborted.LastError = "upgrade to 7.14.3 aborted by c/0: operator asked"
	cases := []struct {
		name      string
		rec       Record
		acks      map[string]Ack
		wantLevel string
		want      string
	}{
		{"fresh", Record{}, nil, "active", "No upgrade has run yet. To upgrade: juju run concourse/leader upgrade version=V"},
		{"idle", recordIn(PhaseIdle), nil, "active", "Concourse 7.13.2. To upgrade: juju run concourse/leader upgrade version=V"},
		{"idle after abort", aborted, nil, "active", "Concourse 7.13.2. To upgrade: juju run concourse/leader upgrade version=V (last upgrade: upgrade to 7.14.3 aborted by c/0: operator asked)"},
		{"prepare", recordIn(PhasePrepare), map[string]Ack{"c/0": {Generation: 3, ReadyForDownload: true}, "c/1": {Generation: 3, Error: "drain timed out"}}, "maintenance",
			"Upgrade to 7.14.3: waiting for workers to drain and stop (waiting for c/1 (drain timed out)); aborts at 2025-03-01T10:10:00Z. To stop now: juju run concourse/leader upgrade-abort"},
		{"complete", recordIn(PhaseComplete), runningAcks(3, newVersion, units...), "maintenance", "Upgrade to 7.14.3: starting workers on the new release (no unit left to wait for)"},
		{"failed", recordIn(PhaseFailed), nil, "blocked", "Upgrade to 7.14.3 failed: switch-release 7.14.3: sha1 mismatch. Run: juju run concourse/leader upgrade-retry (or upgrade-rollback)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := StatusOf("concourse", tc.rec, tc.acks, units)
			assert.Equal(t, UpgradeStatus{Level: tc.wantLevel, Message: tc.want}, got)
		})
	}
	assert.Equal(t, "blocked", StatusOf("concourse", Record{Phase: Phase(9)}, nil, units).Level)
}
