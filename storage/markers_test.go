package storage

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInstalledVersionRoundTrip(t *testing.T) {
	t.Parallel()
	v := testVolume(t, clockAt(testEpoch))
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	assert.Nil(t, iv, "absent marker")

	stageFakeRelease(t, v, "7.11.2")
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, l.SwitchCurrent(ver("7.11.2"), 0))

	iv, err = v.ReadInstalledVersion()
	require.NoError(t, err)
	require.NotNil(t, iv)
	assert.Equal(t, ver("7.11.2"), iv.Version)
	assert.Equal(t, testSum("7.11.2"), iv.Checksum, "the release's own checksum")
	assert.Equal(t, "concourse/0", iv.Unit, "the holder")
	assert.True(t, testEpoch.Equal(iv.InstalledAt), "the clock")

	raw, err := os.ReadFile(v.Path(InstalledVersionFile))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"installed_at"`, "lower-case JSON keys")
	assert.Contains(t, string(raw), `"version": "7.11.2"`)
}

// The version marker is written last: never for a release that is not
// staged, nor for a version that cannot name a release.
func TestSwitchCurrentRefusesBadInput(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	l, err := v.TryLock(Holder{Unit: "concourse/0"})
	require.NoError(t, err)
	defer l.Release()
	require.NoError(t, os.Mkdir(v.ReleaseDir(ver("1.0.0")), 0o755))
	putFile(t, v.Path(ReleasesDir, "2.0.0"), "a file, not a release")

	for _, tc := range []struct {
		name    string
		version version.Version
		staged  bool // want ErrReleaseNotStaged, else a *ValueError
	}{
		{"release missing", ver("3.0.0"), true},
		{"release is a file", ver("2.0.0"), true},
		{"release without its info", ver("1.0.0"), true},
		{"no version", version.Version{}, false},
		{"reserved infix", ver("1.0.0-x" + PartialInfix + "y"), false},
	} {
		err := l.SwitchCurrent(tc.version, 1)
		if tc.staged {
			require.ErrorIs(t, err, ErrReleaseNotStaged, tc.name)
		} else {
			_, ok := errors.AsType[*ValueError](err)
			require.True(t, ok, "%s: %v", tc.name, err)
		}
		assert.NoFileExists(t, v.Path(InstalledVersionFile), tc.name)
		assert.NoFileExists(t, v.Path(CurrentFenceFile), tc.name)
		assert.NoFileExists(t, v.Path(CurrentLink), tc.name)
	}
}

// Corrupt markers give a typed error naming the file, and reading them
// changes nothing.
func TestCorruptMarkers(t *testing.T) {
	t.Parallel()
	good := `{"version":"7.11.2","checksum":"` + testSum("x") + `","installed_at":"2025-03-01T12:00:00Z","unit":"c/0"}`
	tests := []struct {
		name    string
		file    string
		content string
		read    func(v *Volume) error
		why     string
	}{
		{"version: not JSON", InstalledVersionFile, "7.11.2\n", readIV, "cannot unmarshal number"},
		{"version: truncated", InstalledVersionFile, good[:40], readIV, "unexpected EOF"},
		{"version: trailing data", InstalledVersionFile, good + good, readIV, "trailing data"},
		{"version: wrong type", InstalledVersionFile, `{"version": 7}`, readIV, "cannot unmarshal"},
		{"version: empty object", InstalledVersionFile, `{}`, readIV, "it is empty"},
		{"version: escaping version", InstalledVersionFile, strings.Replace(good, "7.11.2", "../../x", 1), readIV, "not a Concourse release version"},
		{"version: reserved infix", InstalledVersionFile, strings.Replace(good, "7.11.2", "7.11.2-a"+PartialInfix+"b", 1), readIV, "reserves"},
		{"version: bad checksum", InstalledVersionFile, strings.Replace(good, "sha256:", "sha257:", 1), readIV, "sha1:<hex>"},
		{"version: huge", InstalledVersionFile, strings.Repeat(" ", maxMarkerSize+1), readIV, "larger than"},
		{"progress: not JSON", ProgressFile, "downloading", readProg, "invalid character"},
		{"progress: no version", ProgressFile, `{"unit":"c/0","pid":1,"started":"2025-03-01T12:00:00Z"}`, readProg, "version or start time missing"},
		{"fence: no version", CurrentFenceFile, `{"revision": 3}`, readFence, "it is empty"},
		{"fence: negative revision", CurrentFenceFile, `{"version": "7.11.2", "revision": -1}`, readFence, "cannot unmarshal"},
		{"volume id: too short", VolumeIDFile, "abc\n", readID, "want 32 lower-case hex digits"},
		{"volume id: not hex", VolumeIDFile, strings.Repeat("z", 32), readID, "want 32 lower-case hex digits"},
		{"volume id: huge", VolumeIDFile, strings.Repeat("a", maxMarkerSize+1), readID, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := testVolume(t)
			putFile(t, v.Path(tc.file), tc.content)
			before := treeSnapshot(t, v.Root())

			err := tc.read(v)
			ce, ok := errors.AsType[*CorruptMarkerError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, v.Path(tc.file), ce.Path)
			assert.Contains(t, err.Error(), "marker "+v.Path(tc.file)+" is corrupt: ")
			assert.Contains(t, err.Error(), tc.why)
			assert.NotContains(t, err.Error(), "remove", "facts, not advice")
			assert.Equal(t, before, treeSnapshot(t, v.Root()), "reading loses nothing")
		})
	}
}

func readIV(v *Volume) error    { _, err := v.ReadInstalledVersion(); return err }
func readProg(v *Volume) error  { _, err := v.ReadProgress(); return err }
func readID(v *Volume) error    { _, err := v.ReadVolumeID(); return err }
func readFence(v *Volume) error { _, err := v.CurrentFence(); return err }

// Markers written by a newer charm revision (extra fields) still read.
func TestMarkersAcceptUnknownFields(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	putFile(t, v.Path(InstalledVersionFile), `{"version":"7.11.2","checksum":"`+testSum("x")+`","unit":"c/0","arch":"arm64"}`)
	iv, err := v.ReadInstalledVersion()
	require.NoError(t, err)
	assert.Equal(t, ver("7.11.2"), iv.Version)
}

func TestProgressMarker(t *testing.T) {
	t.Parallel()
	v := testVolume(t, clockAt(testEpoch))
	l, err := v.TryLock(Holder{Unit: "concourse/5", PID: 55})
	require.NoError(t, err)
	defer l.Release()

	require.NoError(t, l.ClearProgress(), "clearing an absent marker is fine")
	require.NoError(t, l.WriteProgress(ver("7.12.0")))
	p, err := v.ReadProgress()
	require.NoError(t, err)
	require.NotNil(t, p)
	assert.Equal(t, Progress{Unit: "concourse/5", PID: 55, Version: ver("7.12.0"), Started: testEpoch}, *p, "from the holder and the clock")

	_, ok := errors.AsType[*ValueError](l.WriteProgress(version.Version{}))
	require.True(t, ok, "no version, no marker")

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
	require.True(t, isType[*CorruptMarkerError](err), "%v", err)
	data, err := os.ReadFile(v.Path(VolumeIDFile))
	require.NoError(t, err)
	assert.Equal(t, "not-a-token\n", string(data))
}
