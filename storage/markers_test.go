package storage

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInstalledVersionRoundTrip(t *testing.T) {
	t.Parallel()
	v := testVolume(t, clockAt(testEpoch))
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	assert.Nil(t, iv, "absent marker")

	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, os.Mkdir(v.ReleaseDir("7.11.2"), 0o755))
	sum := "sha1:" + strings.Repeat("ab", 20)
	require.NoError(t, l.WriteInstalledVersion(InstalledVersion{Version: "7.11.2", Checksum: sum}))

	iv, err = v.ReadInstalledVersion()
	require.NoError(t, err)
	require.NotNil(t, iv)
	assert.Equal(t, "7.11.2", iv.Version)
	assert.Equal(t, sum, iv.Checksum)
	assert.Equal(t, "concourse/0", iv.Unit, "defaults to the holder")
	assert.True(t, testEpoch.Equal(iv.InstalledAt), "defaults to the clock")

	raw, err := os.ReadFile(v.Path(InstalledVersionFile))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"installed_at"`, "lower-case JSON keys")
	assert.Contains(t, string(raw), `"checksum": "sha1:`)
}

// The version marker is written last: never before the release is in place.
func TestWriteInstalledVersionRefusesBadInput(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, os.Mkdir(v.ReleaseDir("1.0.0"), 0o755))
	putFile(t, v.Path(ReleasesDir, "2.0.0"), "a file, not a release")

	tests := []struct {
		name string
		iv   InstalledVersion
		want error
	}{
		{"release missing", InstalledVersion{Version: "3.0.0", Checksum: testSum("x")}, ErrReleaseNotInPlace},
		{"release is a file", InstalledVersion{Version: "2.0.0", Checksum: testSum("x")}, ErrReleaseNotInPlace},
		{"bad version", InstalledVersion{Version: "../1.0.0", Checksum: testSum("x")}, ErrInvalidValue},
		{"empty version", InstalledVersion{Checksum: testSum("x")}, ErrInvalidValue},
		{"no checksum", InstalledVersion{Version: "1.0.0"}, ErrInvalidValue},
		{"md5 checksum", InstalledVersion{Version: "1.0.0", Checksum: "md5:d41d8cd98f00b204e9800998ecf8427e"}, ErrInvalidValue},
	}
	for _, tc := range tests {
		err := l.WriteInstalledVersion(tc.iv)
		require.ErrorIs(t, err, tc.want, tc.name)
		assert.NoFileExists(t, v.Path(InstalledVersionFile), tc.name)
	}
}

// Corrupt markers give a typed error naming the file and saying what to do,
// and reading them changes nothing.
func TestCorruptMarkers(t *testing.T) {
	t.Parallel()
	good := `{"version":"7.11.2","checksum":"` + testSum("x") + `","installed_at":"2025-03-01T12:00:00Z","unit":"c/0"}`
	tests := []struct {
		name    string
		file    string
		content string
		read    func(v *Volume) error
		fix     string
	}{
		{"version: not JSON", InstalledVersionFile, "7.11.2\n", readIV, "remove it; the next install redoes"},
		{"version: truncated", InstalledVersionFile, good[:40], readIV, "remove it"},
		{"version: trailing data", InstalledVersionFile, good + good, readIV, "remove it"},
		{"version: wrong type", InstalledVersionFile, `{"version": 7}`, readIV, "remove it"},
		{"version: empty object", InstalledVersionFile, `{}`, readIV, "remove it"},
		{"version: escaping version", InstalledVersionFile, strings.Replace(good, "7.11.2", "../../x", 1), readIV, "remove it"},
		{"version: bad checksum", InstalledVersionFile, strings.Replace(good, "sha256:", "sha257:", 1), readIV, "remove it"},
		{"version: huge", InstalledVersionFile, strings.Repeat(" ", maxMarkerSize+1), readIV, "remove it"},
		{"progress: not JSON", ProgressFile, "downloading", readProg, "remove it once no unit is installing"},
		{"progress: no version", ProgressFile, `{"unit":"c/0","pid":1,"started":"2025-03-01T12:00:00Z"}`, readProg, "remove it"},
		{"volume id: too short", VolumeIDFile, "abc\n", readID, "writes a new token"},
		{"volume id: not hex", VolumeIDFile, strings.Repeat("z", 32), readID, "remove it"},
		{"volume id: huge", VolumeIDFile, strings.Repeat("a", maxMarkerSize+1), readID, "remove it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := testVolume(t)
			putFile(t, v.Path(tc.file), tc.content)
			before := treeSnapshot(t, v.Root())

			err := tc.read(v)
			require.ErrorIs(t, err, ErrCorruptMarker)
			var ce *CorruptMarkerError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, v.Path(tc.file), ce.Path)
			assert.Contains(t, err.Error(), v.Path(tc.file))
			assert.Contains(t, err.Error(), tc.fix)
			assert.Equal(t, before, treeSnapshot(t, v.Root()), "reading loses nothing")
		})
	}
}

func readIV(v *Volume) error   { _, err := v.ReadInstalledVersion(); return err }
func readProg(v *Volume) error { _, err := v.ReadProgress(); return err }
func readID(v *Volume) error   { _, err := v.ReadVolumeID(); return err }

// Markers written by a newer charm revision (extra fields) still read.
func TestMarkersAcceptUnknownFields(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	putFile(t, v.Path(InstalledVersionFile), `{"version":"7.11.2","checksum":"`+testSum("x")+`","unit":"c/0","arch":"arm64"}`)
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	assert.Equal(t, "7.11.2", iv.Version)
}

func TestProgressMarker(t *testing.T) {
	t.Parallel()
	v := testVolume(t, clockAt(testEpoch))
	l, err := v.TryLock(Holder{Unit: "concourse/5", PID: 55})
	require.NoError(t, err)
	defer l.Release()

	require.NoError(t, l.ClearProgress(), "clearing an absent marker is fine")
	require.NoError(t, l.WriteProgress(Progress{Version: "7.12.0"}))
	p, err := v.ReadProgress()
	require.NoError(t, err)
	require.NotNil(t, p)
	assert.Equal(t, Progress{Unit: "concourse/5", PID: 55, Version: "7.12.0", Started: testEpoch}, *p, "defaults from the holder and the clock")

	explicit := Progress{Unit: "other/1", PID: 7, Version: "7.13.0", Started: testEpoch.Add(time.Hour)}
	require.NoError(t, l.WriteProgress(explicit))
	p, err = v.ReadProgress()
	require.NoError(t, err)
	assert.Equal(t, explicit.Unit, p.Unit)
	assert.True(t, explicit.Started.Equal(p.Started))

	require.ErrorIs(t, l.WriteProgress(Progress{Version: "../x"}), ErrInvalidValue)
	require.ErrorIs(t, l.WriteProgress(Progress{Version: "1.0.0", Unit: "Bad/x"}), ErrInvalidUnitName)

	require.NoError(t, l.ClearProgress())
	require.NoError(t, l.ClearProgress())
	p, err = v.ReadProgress()
	require.NoError(t, err)
	assert.Nil(t, p)
}

func TestVolumeID(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	id, err := v.ReadVolumeID()
	require.ErrorIs(t, err, ErrNoVolumeID)
	assert.Empty(t, id)

	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	first, err := l.EnsureVolumeID()
	require.NoError(t, err)
	assert.Len(t, first, 32)
	again, err := l.EnsureVolumeID()
	require.NoError(t, err)
	assert.Equal(t, first, again, "created once")
	require.NoError(t, l.Release())

	// Another unit opening the same filesystem reads the same token: that
	// is the sharing proof.
	other, err := OpenVolume(v.Root())
	require.NoError(t, err)
	read, err := other.ReadVolumeID()
	require.NoError(t, err)
	assert.Equal(t, first, read)
	ol, err := other.TryLock(Holder{Unit: "concourse/1"})
	require.NoError(t, err)
	defer ol.Release()
	ensured, err := ol.EnsureVolumeID()
	require.NoError(t, err)
	assert.Equal(t, first, ensured)

	// Two volumes get different tokens.
	fresh := testVolume(t)
	fl, err := fresh.TryLock(Holder{})
	require.NoError(t, err)
	defer fl.Release()
	freshID, err := fl.EnsureVolumeID()
	require.NoError(t, err)
	assert.NotEqual(t, first, freshID)
}

// A corrupt token is reported, never silently replaced.
func TestEnsureVolumeIDKeepsCorruptToken(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	putFile(t, v.Path(VolumeIDFile), "not-a-token\n")
	l, err := v.TryLock(Holder{})
	require.NoError(t, err)
	defer l.Release()
	_, err = l.EnsureVolumeID()
	require.ErrorIs(t, err, ErrCorruptMarker)
	data, err := os.ReadFile(v.Path(VolumeIDFile))
	require.NoError(t, err)
	assert.Equal(t, "not-a-token\n", string(data))
}
