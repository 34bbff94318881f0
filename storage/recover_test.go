package storage

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaveMess writes what a holder that died mid-install leaves behind.
func leaveMess(t *testing.T, v *Volume) (removed []string) {
	t.Helper()
	partial := v.Path(ReleasesDir, "7.12.0"+PartialInfix+"a1b2")
	putFile(t, filepath.Join(partial, "concourse", "bin", "concourse"), "half")
	rootTemp := v.Path(ProgressFile + TempInfix + "c3d4")
	putFile(t, rootTemp, "{")
	releasesTemp := v.Path(ReleasesDir, "checksums"+TempInfix+"e5f6")
	putFile(t, releasesTemp, "x")
	probe := v.Path(ProbePrefix + "0011")
	putFile(t, probe, "x")
	return []string{partial, rootTemp, releasesTemp, probe}
}

func TestTryLockRecoversStaleProgressMarker(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	dead := Progress{Unit: "concourse/2", PID: 99999, Version: ver("7.12.0"), Started: testEpoch}
	data, err := encodeMarker(dead)
	require.NoError(t, err)
	putFile(t, v.Path(ProgressFile), string(data))
	mess := leaveMess(t, v)
	// Finished work and unrelated files stay.
	putFile(t, v.Path(ReleasesDir, "7.11.2", "concourse", "bin", "concourse"), "whole")
	putFile(t, v.Path(KeysDir, "tsa_host_key"), "key")

	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()

	requireRecovered(t, l, dead)
	assert.ElementsMatch(t, append(mess, v.Path(ProgressFile)), l.Removed())
	for _, p := range append(mess, v.Path(ProgressFile)) {
		assert.NoFileExists(t, p)
		assert.NoDirExists(t, p)
	}
	assert.FileExists(t, v.Path(ReleasesDir, "7.11.2", "concourse", "bin", "concourse"))
	assert.FileExists(t, v.Path(KeysDir, "tsa_host_key"))

	p, err := v.ReadProgress()
	require.NoError(t, err)
	assert.Nil(t, p)
}

// Partial data without a marker (a holder that died before writing it) is
// removed too, but nothing is reported as recovered.
func TestTryLockRemovesPartialDataWithoutMarker(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	mess := leaveMess(t, v)
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	assert.Nil(t, l.Recovered())
	assert.ElementsMatch(t, mess, l.Removed())
}

// A corrupt progress marker found by a new holder is stale all the same: it
// is removed and reported with empty fields.
func TestTryLockRecoversCorruptProgressMarker(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	putFile(t, v.Path(ProgressFile), `{"unit": "conc`)
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	require.NotNil(t, l.Recovered())
	assert.Equal(t, Progress{}, *l.Recovered())
	assert.NoFileExists(t, v.Path(ProgressFile))
}

// The stuck rule: a marker older than StuckAfter while the lock is held is
// reported as stuck, and the lock is never taken.
func TestStuckHolderIsReportedNeverStolen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		age   time.Duration
		stuck bool
	}{
		{0, false},
		{9*time.Minute + 59*time.Second, false},
		{StuckAfter, false},
		{StuckAfter + time.Second, true},
		{3 * time.Hour, true},
	}
	root := testVolume(t).Root()
	holderVol, err := OpenVolume(root, clockAt(testEpoch))
	require.NoError(t, err)
	l, err := holderVol.TryLock(Holder{Unit: "concourse/1", PID: 4321, Host: "node-1"})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, l.WriteProgress(ver("7.12.0")))

	for _, tc := range tests {
		t.Run(tc.age.String(), func(t *testing.T) {
			now := testEpoch.Add(tc.age)
			observer, err := OpenVolume(root, clockAt(now))
			require.NoError(t, err)

			_, err = observer.TryLock(Holder{Unit: "concourse/2"})
			locked, ok := errors.AsType[*LockedError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, tc.stuck, locked.Stuck)
			require.NotNil(t, locked.Progress)
			assert.Equal(t, ver("7.12.0"), locked.Progress.Version)
			assert.Contains(t, err.Error(), "pid 4321 on host node-1")
			if tc.stuck {
				assert.Contains(t, err.Error(), "; stuck: the install of 7.12.0 by concourse/1 (pid 4321) started "+tc.age.String()+" ago, more than 10m0s")
			} else {
				assert.NotContains(t, err.Error(), "stuck")
				assert.Contains(t, err.Error(), "has been installing 7.12.0 for "+tc.age.String())
			}

			report, err := observer.Inspect()
			require.NoError(t, err)
			require.NotNil(t, report.Progress)
			assert.Equal(t, tc.stuck, report.Progress.Stuck)
			assert.Equal(t, int64(tc.age/time.Second), report.Progress.AgeSeconds)
			if tc.stuck {
				require.Len(t, report.Problems, 1)
				assert.Equal(t, ProblemStuckInstall, report.Problems[0].Kind)
				assert.Contains(t, report.Problems[0].Detail, "more than 10m0s, and still holds the lock")
			} else {
				assert.Empty(t, report.Problems)
			}

			p, err := observer.ReadProgress()
			require.NoError(t, err)
			assert.NotNil(t, p, "the marker of a live holder is never removed")
		})
	}
	require.NoError(t, l.ClearProgress(), "the holder still holds the lock")
}

// requireRecovered checks that l's recovery found the dead holder's
// progress marker.
func requireRecovered(t *testing.T, l *Lock, dead Progress) {
	t.Helper()
	rec := l.Recovered()
	require.NotNil(t, rec)
	assert.Equal(t, dead.Unit, rec.Unit)
	assert.Equal(t, dead.PID, rec.PID)
	assert.Equal(t, dead.Version, rec.Version)
	assert.True(t, dead.Started.Equal(rec.Started))
}
