package fsm

import (
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validBag is an encoded record in PREPARE, the richest phase.
func validBag() map[string]string {
	return map[string]string{
		KeySchema:          "1",
		KeyPhase:           "prepare",
		KeyGeneration:      "4",
		KeyVersion:         "7.13.2",
		KeyTargetVersion:   "7.14.3",
		KeyPreviousVersion: "7.13.2",
		KeyInitiatedBy:     "concourse/0",
		KeyInitiatedAt:     "2025-03-01T10:00:00Z",
		KeyDeadline:        "2025-03-01T10:10:00Z",
		KeyStaged:          "true",
		KeyLastError:       "",
	}
}

func TestDecodeRecordOfFreshRelationIsZero(t *testing.T) {
	t.Parallel()
	for name, bag := range map[string]map[string]string{
		"nil":             nil,
		"empty":           {},
		"foreign keys":    {"sharing-token": "abc", "address": "10.0.0.4"},
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
		Version:         "7.13.2",
		TargetVersion:   "7.14.3",
		PreviousVersion: "7.13.2",
		InitiatedBy:     "concourse/0",
		InitiatedAt:     time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		Deadline:        time.Date(2025, 3, 1, 10, 10, 0, 0, time.UTC),
		Staged:          true,
	}, rec)
}

func TestDecodeRecordRefusesBadData(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		key    string
		value  string // "" deletes the key
		reason string
	}{
		{"unknown phase", KeyPhase, "paused", "unknown phase"},
		{"missing phase", KeyPhase, "", "missing"},
		{"v-prefixed version", KeyTargetVersion, "v7.14.3", "not a release version"},
		{"two-part version", KeyPreviousVersion, "7.14", "not a release version"},
		{"version with spaces", KeyVersion, "7.14.3 ", "not a release version"},
		{"non-numeric generation", KeyGeneration, "four", "whole number"},
		{"negative generation", KeyGeneration, "-1", "whole number"},
		{"missing generation", KeyGeneration, "", "missing"},
		{"unparseable time", KeyInitiatedAt, "yesterday", "RFC 3339"},
		{"time without zone", KeyDeadline, "2025-03-01T10:10:00", "RFC 3339"},
		{"zero time", KeyDeadline, "0001-01-01T00:00:00Z", "RFC 3339"},
		{"staged yes", KeyStaged, "yes", `"true" nor "false"`},
		{"staged 1", KeyStaged, "1", `"true" nor "false"`},
		{"key from a newer charm", KeyPrefix + "pause-after", "first", "unknown key"},
		{"newer schema", KeySchema, "2", "newer than this charm reads"},
		{"schema not a number", KeySchema, "one", "not a schema number"},
		{"schema zero", KeySchema, "0", "not a schema number"},
		{"missing schema", KeySchema, "", "missing"},
		{"prepare without deadline", KeyDeadline, "", "needs a deadline"},
		{"prepare at generation 0", KeyGeneration, "0", "generation of at least 1"},
		{"prepare without target", KeyTargetVersion, "", "needs a target version"},
		{"prepare without previous", KeyPreviousVersion, "", "needs the previous version"},
		{"target equals previous", KeyTargetVersion, "7.13.2", "are the same"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bag := validBag()
			if tc.value == "" {
				delete(bag, tc.key)
			} else {
				bag[tc.key] = tc.value
			}
			before := maps.Clone(bag)
			rec, err := DecodeRecord(bag)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrDecode))
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "upgrade record", de.Bag)
			assert.Equal(t, tc.key, de.Key)
			assert.Equal(t, tc.value, de.Value)
			assert.Contains(t, de.Reason, tc.reason)
			assert.Contains(t, err.Error(), tc.key, "the message names the key")
			assert.Equal(t, Record{}, rec)
			assert.Equal(t, before, bag, "decoding must not touch the bag")
		})
	}
}

func TestDecodeRecordIdleAfterUpgradeNeedsVersion(t *testing.T) {
	t.Parallel()
	_, err := DecodeRecord(map[string]string{KeySchema: "1", KeyPhase: "idle", KeyGeneration: "3"})
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, KeyVersion, de.Key)
}

func TestDecodeAckRefusesBadData(t *testing.T) {
	t.Parallel()
	valid := func() map[string]string {
		return map[string]string{KeyAckGeneration: "4", KeyAckReadyForDownload: "false", KeyAckRunningVersion: "7.14.3"}
	}
	cases := []struct {
		name   string
		key    string
		value  string
		reason string
	}{
		{"non-numeric generation", KeyAckGeneration, "4a", "whole number"},
		{"missing generation", KeyAckGeneration, "", "missing"},
		{"ready not a bool", KeyAckReadyForDownload, "True", `"true" nor "false"`},
		{"running not a version", KeyAckRunningVersion, "latest", "not a release version"},
		{"unknown key", KeyPrefix + "drained-at", "now", "unknown key"},
		{"ready while running", KeyAckReadyForDownload, "true", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bag := valid()
			if tc.value == "" {
				delete(bag, tc.key)
			} else {
				bag[tc.key] = tc.value
			}
			ack, err := DecodeAck(bag)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, "upgrade ack", de.Bag)
			assert.Contains(t, de.Reason, tc.reason)
			assert.Equal(t, Ack{}, ack)
		})
	}
}

func TestEncodeRefusesRecordsThatWouldNotDecode(t *testing.T) {
	t.Parallel()
	for name, rec := range map[string]Record{
		"prepare without anything": {Phase: PhasePrepare},
		"unknown phase":            {Phase: Phase(42), Generation: 1, TargetVersion: "1.0.0", PreviousVersion: "0.9.0"},
		"bad version":              {Version: "latest"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bag, err := EncodeRecord(rec)
			assert.Nil(t, bag)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
		})
	}
	_, err := EncodeAck(Ack{Generation: 1, ReadyForDownload: true, RunningVersion: "7.14.3"})
	var de *DecodeError
	require.ErrorAs(t, err, &de)
}

func TestEncodeWritesEveryKeySoStaleOnesAreDeleted(t *testing.T) {
	t.Parallel()
	bag, err := EncodeRecord(Record{})
	require.NoError(t, err)
	assert.ElementsMatch(t, recordKeys(), keysOf(bag))
	assert.Equal(t, "", bag[KeyLastError], "empty values delete the key in Juju")
	ackBag, err := EncodeAck(Ack{})
	require.NoError(t, err)
	assert.ElementsMatch(t, ackKeys(), keysOf(ackBag))
}

// TestRecordRoundTripProperty: decode(encode(x)) == x for generated records
// and acks.
func TestRecordRoundTripProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(20250301))
	for i := 0; i < 3000; i++ {
		rec := randomRecord(rng)
		bag, err := EncodeRecord(rec)
		require.NoError(t, err, "record %+v", rec)
		got, err := DecodeRecord(bag)
		require.NoError(t, err)
		require.Equal(t, rec, got)

		ack := randomAck(rng)
		ackBag, err := EncodeAck(ack)
		require.NoError(t, err, "ack %+v", ack)
		gotAck, err := DecodeAck(ackBag)
		require.NoError(t, err)
		require.Equal(t, ack, gotAck)
	}
}

func keysOf(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func randomVersion(rng *rand.Rand) string {
	v := fmt.Sprintf("%d.%d.%d", rng.Intn(10), rng.Intn(30), rng.Intn(12))
	switch rng.Intn(4) {
	case 0:
		v += fmt.Sprintf("-rc.%d", rng.Intn(5))
	case 1:
		v += "+build-" + fmt.Sprint(rng.Intn(100))
	}
	return v
}

func randomTime(rng *rand.Rand) time.Time {
	if rng.Intn(4) == 0 {
		return time.Time{}
	}
	return time.Unix(rng.Int63n(4e9), rng.Int63n(1e9)).UTC()
}

func randomText(rng *rand.Rand) string {
	pieces := []string{"", "concourse/0", "download failed: sha1 mismatch", "ünïcödé", "a=b\nc", `"quoted"`, " spaced "}
	return pieces[rng.Intn(len(pieces))]
}

// randomRecord builds a record that satisfies the codec's invariants.
func randomRecord(rng *rand.Rand) Record {
	rec := Record{
		Phase:       Phase(rng.Intn(len(phaseNames()))),
		Generation:  uint64(rng.Int63()),
		InitiatedBy: randomText(rng),
		InitiatedAt: randomTime(rng),
		Deadline:    randomTime(rng),
		Staged:      rng.Intn(2) == 0,
		LastError:   randomText(rng),
	}
	if rng.Intn(3) > 0 {
		rec.Version = randomVersion(rng)
	}
	if rec.Phase == PhaseIdle {
		if rec.Version == "" {
			rec.Generation = 0
		}
		if rng.Intn(2) == 0 {
			rec.TargetVersion, rec.PreviousVersion = randomVersion(rng), randomVersion(rng)
		}
		return rec
	}
	if rec.Generation == 0 {
		rec.Generation = 1
	}
	rec.PreviousVersion = randomVersion(rng)
	rec.TargetVersion = rec.PreviousVersion + "-next"
	if rec.Phase == PhasePrepare && rec.Deadline.IsZero() {
		rec.Deadline = time.Unix(1700000000, 0).UTC()
	}
	return rec
}

func randomAck(rng *rand.Rand) Ack {
	ack := Ack{Generation: uint64(rng.Intn(1000)), Error: randomText(rng)}
	switch {
	case ack.Generation > 0 && rng.Intn(2) == 0:
		ack.ReadyForDownload = true
	case rng.Intn(2) == 0:
		ack.RunningVersion = randomVersion(rng)
	}
	return ack
}
