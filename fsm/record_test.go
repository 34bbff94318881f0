package fsm

import (
	"maps"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	v1 = version.MustParse("7.13.2")
	v2 = version.MustParse("7.14.3")
	v3 = version.MustParse("7.14.4")
)

// validBag is an encoded record in PREPARE, the richest phase.
func validBag() map[string]string {
	return map[string]string{
		KeySchema:          "2",
		KeyPhase:           "prepare",
		KeyGeneration:      "4",
		KeyRevision:        "17",
		KeyVersion:         "7.13.2",
		KeyTargetVersion:   "7.14.3",
		KeyPreviousVersion: "7.13.2",
		KeyInitiatedBy:     "concourse/0",
		KeyInitiatedAt:     "2025-03-01T10:00:00Z",
		KeyPrepareTimeout:  "10m0s",
		KeyMembers:         "concourse/0,concourse/1",
		KeyOutcome:         "",
		KeyLastError:       "",
	}
}

func TestDecodeOfFreshRelationIsZero(t *testing.T) {
	t.Parallel()
	for name, bag := range map[string]map[string]string{
		"nil":             nil,
		"empty":           {},
		"foreign keys":    {"volume-token": "abc", "address": "10.0.0.4"},
		"all keys absent": {KeySchema: "", KeyPhase: "", KeyGeneration: ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec, err := DecodeRecord(bag)
			require.NoError(t, err)
			assert.Equal(t, Record{}, rec)
			assert.Equal(t, PhaseIdle, rec.Phase)
			ack, err := DecodeAck(bag)
			require.NoError(t, err)
			assert.Equal(t, Ack{}, ack)
		})
	}
}

func TestDecodeRecordReadsEveryKey(t *testing.T) {
	t.Parallel()
	bag := validBag()
	bag["unrelated-key"] = "left alone"
	rec, err := DecodeRecord(bag)
	require.NoError(t, err)
	assert.Equal(t, Record{
		Phase:           PhasePrepare,
		Generation:      4,
		Revision:        17,
		Version:         v1,
		TargetVersion:   v2,
		PreviousVersion: v1,
		InitiatedBy:     "concourse/0",
		InitiatedAt:     time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		PrepareTimeout:  10 * time.Minute,
		Members:         []string{"concourse/0", "concourse/1"},
	}, rec)
	assert.True(t, rec.IsMember("concourse/1"))
	assert.False(t, rec.IsMember("concourse/2"))
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	records := []Record{
		{},
		{Revision: 1, Version: v1, Members: []string{"a/0"}},
		{Phase: PhaseIdle, Generation: 3, Revision: 9, Version: v2, TargetVersion: v2, PreviousVersion: v1, Outcome: OutcomeFinished},
		{Phase: PhaseIdle, Generation: 3, Revision: 9, Version: v1, TargetVersion: v2, PreviousVersion: v1, Outcome: OutcomeAborted, LastError: "upgrade to 7.14.3 aborted by a/0: why"},
		{Phase: PhaseDownloading, Generation: 1, Revision: 4, Version: v1, TargetVersion: v2, PreviousVersion: v1, PrepareTimeout: time.Minute, Members: []string{"a/0", "a/1", "b/10"}},
		{Phase: PhaseFailed, Generation: 2, Revision: 5, Version: v1, TargetVersion: v3, PreviousVersion: v1, LastError: "a/1 could not get 7.14.4 ready: 404"},
	}
	for _, rec := range records {
		bag, err := EncodeRecord(rec)
		require.NoError(t, err, "%+v", rec)
		for _, k := range recordKeys() {
			assert.Contains(t, bag, k, "every key is written, empty meaning absent, so a write replaces the whole record")
		}
		got, err := DecodeRecord(bag)
		require.NoError(t, err)
		assert.Equal(t, rec, got)
	}
}

func TestDecodeRecordRefusesBadData(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		key   string
		value string // "" deletes the key
		kind  DecodeKind
	}{
		{"newer schema", KeySchema, "3", DecodeNewer},
		{"older schema", KeySchema, "1", DecodeMalformed},
		{"schema missing", KeySchema, "", DecodeMalformed},
		{"schema not a number", KeySchema, "two", DecodeMalformed},
		{"unknown key of a newer charm", KeyPrefix + "paused-by", "x", DecodeNewer},
		{"unknown phase", KeyPhase, "paused", DecodeNewer},
		{"phase missing", KeyPhase, "", DecodeMalformed},
		{"generation not a number", KeyGeneration, "-1", DecodeMalformed},
		{"revision missing", KeyRevision, "", DecodeMalformed},
		{"version with a v", KeyVersion, "v7.13.2", DecodeMalformed},
		{"version garbage", KeyTargetVersion, "latest", DecodeMalformed},
		{"time garbage", KeyInitiatedAt, "yesterday", DecodeMalformed},
		{"timeout garbage", KeyPrepareTimeout, "soon", DecodeMalformed},
		{"timeout negative", KeyPrepareTimeout, "-1m", DecodeMalformed},
		{"timeout missing in prepare", KeyPrepareTimeout, "", DecodeMalformed},
		{"members unsorted", KeyMembers, "concourse/1,concourse/0", DecodeMalformed},
		{"members twice", KeyMembers, "concourse/0,concourse/0", DecodeMalformed},
		{"members empty element", KeyMembers, "concourse/0,,concourse/1", DecodeMalformed},
		{"unknown outcome", KeyOutcome, "exploded", DecodeNewer},
		{"outcome while under way", KeyOutcome, "finished", DecodeMalformed},
		{"target missing", KeyTargetVersion, "", DecodeMalformed},
		{"target equals previous", KeyTargetVersion, "7.13.2", DecodeMalformed},
		{"generation zero while under way", KeyGeneration, "0", DecodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bag := maps.Clone(validBag())
			if tc.value == "" {
				delete(bag, tc.key)
			} else {
				bag[tc.key] = tc.value
			}
			rec, err := DecodeRecord(bag)
			require.ErrorIs(t, err, ErrDecode)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.key, de.Key)
			assert.Equal(t, tc.value, de.Value)
			assert.Equal(t, tc.kind, de.Kind)
			assert.Equal(t, "upgrade record", de.Bag)
			assert.Equal(t, Record{}, rec, "nothing half-decoded")
		})
	}
}

func TestDecodeIdleRecordChecks(t *testing.T) {
	t.Parallel()
	bag := map[string]string{KeySchema: "2", KeyPhase: "idle", KeyGeneration: "2", KeyRevision: "5"}
	_, err := DecodeRecord(bag)
	var de *DecodeError
	require.ErrorAs(t, err, &de, "an idle record after an upgrade must name its version")
	assert.Equal(t, KeyVersion, de.Key)
	bag[KeyVersion] = "7.14.3"
	_, err = DecodeRecord(bag)
	require.NoError(t, err)
}

func TestAckRoundTripAndRefusals(t *testing.T) {
	t.Parallel()
	acks := []Ack{
		{},
		{Generation: 4, Seen: 17, WorkerStopped: true},
		{Generation: 4, Seen: 18, WorkerStopped: true, Staged: true},
		{Generation: 4, Seen: 19, Running: v2},
		{Generation: 4, Seen: 19, WorkerStopped: true, Error: "drain: worker not heard by the ATC"},
		{Generation: 4, Seen: 20, Running: v2, WroteGeneration: 4, WroteRevision: 20},
	}
	for _, a := range acks {
		bag, err := EncodeAck(a)
		require.NoError(t, err)
		assert.Equal(t, "1", bag[KeyAckSchema], "acks carry their schema")
		got, err := DecodeAck(bag)
		require.NoError(t, err)
		assert.Equal(t, a, got)
	}
	good := func() map[string]string {
		bag, err := EncodeAck(Ack{Generation: 1, Seen: 2, WorkerStopped: true})
		require.NoError(t, err)
		return bag
	}
	for name, edit := range map[string]func(map[string]string){
		"newer schema":    func(b map[string]string) { b[KeyAckSchema] = "2" },
		"no schema":       func(b map[string]string) { delete(b, KeyAckSchema) },
		"unknown key":     func(b map[string]string) { b[KeyPrefix+"ready-for-download"] = "true" },
		"bad bool":        func(b map[string]string) { b[KeyAckWorkerStopped] = "yes" },
		"bad version":     func(b map[string]string) { b[KeyAckRunning] = "7.x" },
		"bad generation":  func(b map[string]string) { b[KeyAckGeneration] = "one" },
		"seen is missing": func(b map[string]string) { delete(b, KeyAckSeen) },
	} {
		bag := good()
		edit(bag)
		a, err := DecodeAck(bag)
		var de *DecodeError
		require.ErrorAs(t, err, &de, name)
		assert.Equal(t, "upgrade ack", de.Bag, name)
		assert.Equal(t, Ack{}, a, name)
	}
}

func TestPhaseNames(t *testing.T) {
	t.Parallel()
	for i, name := range phaseNames() {
		p, ok := ParsePhase(name)
		require.True(t, ok)
		assert.Equal(t, Phase(i), p)
		assert.Equal(t, name, p.String())
		_, inTable := UpgradeTable().State(name)
		assert.True(t, inTable, "phase %s is a state of the table", name)
	}
	_, ok := ParsePhase("paused")
	assert.False(t, ok)
	assert.Equal(t, "phase(9)", Phase(9).String())
}
