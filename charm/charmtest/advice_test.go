package charmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation/jujutest"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Advice reaches operators: real failures of the real charm, against a
// real release server on loopback, end as the line charm/advice.go
// promises, in action-fail and in `juju status`.

// serverHost is the release server's host:port, as the lines name it.
func serverHost(w *World) string { return strings.TrimPrefix(w.Server.URL(), "http://") }

// refused checks a failed upgrade action: its line, no proxy advice, and
// nothing recorded (the cluster stays idle on what it ran).
func refused(tb testing.TB, w *World, a *jujutest.Action, line string) {
	tb.Helper()
	require.True(tb, a.Done)
	assert.True(tb, a.Failed, "the action fails")
	assert.Equal(tb, line, a.Message)
	assert.LessOrEqual(tb, len(a.Message), relation.MaxStatusLen)
	rec, err := w.Record()
	require.NoError(tb, err)
	assert.Equal(tb, fsm.PhaseIdle, rec.Phase, "nothing was recorded")
	assert.Equal(tb, "7.14.3", rec.Version.String())
	assert.Empty(tb, w.Violations())
}

// A version the release server does not have: its .sha1 is not there
// either, so nothing vouches for it. The line says the version may be
// wrong; it never blames a proxy.
func TestAdviceUpgradeToAVersionTheServerLacks(t *testing.T) {
	t.Parallel()
	w := deployed(t, 2, Options{})
	a := upgradeAction(t, w, "7.99.0")
	refused(t, w, a, "No .sha1 for Concourse 7.99.0: wrong version? Else pin: juju config concourse release-sha256=...")
	assert.NotContains(t, a.Message, "proxy")
}

// The .sha1 is there but the tarball answers 404 (a mirror that lost it):
// the 404 line, not proxy advice. The same action succeeds once the
// server has it again.
func TestAdviceUpgradeWhoseTarballIs404(t *testing.T) {
	t.Parallel()
	w := deployed(t, 2, Options{})
	w.FailDownloads("7.14.4", 1)
	a := upgradeAction(t, w, "7.14.4")
	refused(t, w, a, fmt.Sprintf("HTTP 404: no Concourse 7.14.4 at %s. Check version, or juju config concourse release-url=...", serverHost(w)))
	assert.NotContains(t, a.Message, "proxy")

	again := upgradeAction(t, w, "7.14.4")
	assert.False(t, again.Failed, again.Message)
}

// The server sends other bytes than its .sha1 vouches for: the mirror is
// wrong, and nothing was installed.
func TestAdviceUpgradeWithAChecksumMismatch(t *testing.T) {
	t.Parallel()
	w := deployed(t, 2, Options{})
	w.Server.SetFile(releasetest.SidecarPath("7.14.4"), releasetest.Sidecar(releasetest.Tarball("7.14.5"), releasetest.AssetName("7.14.4")))
	a := upgradeAction(t, w, "7.14.4")
	refused(t, w, a, "Concourse 7.14.4 fails its .sha1 (other bytes): fix the mirror, or juju config concourse --reset release-url")
	v, err := storage.OpenVolume(w.sharedDir(), storage.WithoutSync())
	require.NoError(t, err)
	assert.False(t, v.IsStaged(version.MustParse("7.14.4")), "nothing was installed")
}

// Every hostile tarball the default limits refuse is refused with its own
// reason, and nothing lands outside the release.
func TestAdviceUpgradeToAHostileTarball(t *testing.T) {
	t.Parallel()
	w := deployed(t, 2, Options{})
	outside := t.TempDir()
	kinds := []releasetest.Hostile{
		releasetest.AbsolutePath, releasetest.DotDotPath, releasetest.SymlinkAbsolute, releasetest.SymlinkEscape,
		releasetest.WriteThroughSymlink, releasetest.HardlinkOutside, releasetest.CharDevice, releasetest.Fifo,
		releasetest.Setuid, releasetest.DuplicateEntry,
	}
	// What each variant is refused for, in the operator's words; variants
	// of one attack share a reason, the others never do.
	want := map[releasetest.Hostile]string{
		releasetest.AbsolutePath: "absolute path", releasetest.DotDotPath: `".." in path`,
		releasetest.SymlinkAbsolute: "link leaves release", releasetest.SymlinkEscape: "link leaves release",
		releasetest.WriteThroughSymlink: "through a symlink", releasetest.HardlinkOutside: "link leaves release",
		releasetest.CharDevice: "device or fifo", releasetest.Fifo: "device or fifo",
		releasetest.Setuid: "setuid/setgid", releasetest.DuplicateEntry: "appears twice",
	}
	for i, kind := range kinds {
		target := fmt.Sprintf("7.15.%d", i)
		tarball, err := releasetest.BuildHostile(kind, target, outside)
		require.NoError(t, err)
		w.Server.AddRelease(target, tarball)
		a := upgradeAction(t, w, target)
		require.True(t, a.Failed, "%s: %s", kind, a.Message)
		assert.True(t, strings.HasPrefix(a.Message, `Refused "`), a.Message)
		assert.Contains(t, a.Message, `": `+want[kind], kind)
		assert.True(t, strings.HasSuffix(a.Message, ". Official tarball: juju config concourse --reset release-url"), a.Message)
		assert.LessOrEqual(t, len(a.Message), relation.MaxStatusLen)
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing reached outside the release")
	rec, err := w.Record()
	require.NoError(t, err)
	assert.Equal(t, "7.14.3", rec.Version.String())
}

// closedAddress is a loopback address nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// A release server that refuses connections is the network: proxy advice,
// naming the model's proxy setting.
func TestAdviceUpgradeWhenTheServerIsUnreachable(t *testing.T) {
	t.Parallel()
	closed := closedAddress(t)
	w := deployed(t, 2, Options{VolumeOptions: func(o *charm.VolumeOptions) {
		o.StageWait, o.Fetch = time.Minute, storage.FetchOptions{RetryDelay: time.Millisecond}
	}})
	w.Model.SetConfig(w.App, map[string]any{"release-url": "http://" + closed + "/v{version}/concourse-{version}-linux-amd64.tgz"})
	require.NoError(t, w.Settle(context.Background(), 100))
	a := upgradeAction(t, w, "7.14.4")
	refused(t, w, a, fmt.Sprintf("Cannot reach %s (connection refused, 3 tries). Proxy? juju model-config juju-http-proxy=http://HOST:PORT", closed))
}

// The status line of a real failure: `juju config version=` names a
// release the server lacks; the leader's unit says so, blocked, with the
// command, and keeps running what it ran.
func TestAdviceStatusOfAConfigVersionTheServerLacks(t *testing.T) {
	t.Parallel()
	w := deployed(t, 2, Options{})
	w.Model.SetConfig(w.App, map[string]any{"version": "7.99.0"})
	require.NoError(t, w.Settle(context.Background(), 100))
	st := w.Model.Status(w.Model.Leader(w.App))
	assert.Equal(t, relation.Blocked, st.State)
	assert.Equal(t, "No .sha1 for Concourse 7.99.0: wrong version? Else pin: juju config concourse release-sha256=...", st.Message)
	rec, err := w.Record()
	require.NoError(t, err)
	assert.Equal(t, fsm.PhaseIdle, rec.Phase, "no worker was stopped for a release that cannot be had")
	assert.Empty(t, w.Violations())
}

// A first deploy of a version the release server lacks: no record names a
// release yet, yet every unit's status says what to fix instead of
// "Installing" for good; fixing the config installs it, once.
func TestAdviceFirstDeployOfAVersionTheServerLacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := NewT(t, Options{Units: 2, Releases: []string{"7.14.3"}, Config: map[string]any{"version": "7.99.1"}})
	require.NoError(t, w.Settle(ctx, 10000))
	line := "No .sha1 for Concourse 7.99.1: wrong version? Else pin: juju config concourse release-sha256=..."
	for _, u := range w.Model.Units(w.App) {
		st := w.Model.Status(u)
		assert.Equal(t, relation.Blocked, st.State, "%s: %s", u, st)
		assert.Equal(t, line, st.Message, u)
	}
	assert.Empty(t, w.Violations())

	w.Model.SetConfig(w.App, map[string]any{"version": "7.14.3"})
	require.NoError(t, w.Converge(ctx, 5), "%s", w.Model)
	assert.Equal(t, 1, w.Downloads("7.14.3"))
	for _, u := range w.Model.Units(w.App) {
		assert.Equal(t, relation.Active, w.Model.Status(u).State, u)
	}
}

// Air-gapped: the release server is unreachable, the tarball is attached
// as the charm's resource and pinned by release-sha256. Every unit comes
// up on it, installed once, with nothing fetched. An upgrade to a version
// the attached tarball is not is refused, and says so.
func TestAirGappedReleaseFromTheResource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tarball := releasetest.Tarball("7.14.3")
	sum := sha256.Sum256(tarball)
	closed := closedAddress(t)
	w := NewT(t, Options{Units: 3, Config: map[string]any{
		"release-url":    "http://" + closed + "/v{version}/concourse-{version}-linux-amd64.tgz",
		"release-sha256": hex.EncodeToString(sum[:]),
	}})
	path := filepath.Join(w.Dir, "resources", "concourse-linux-amd64.tgz")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, tarball, 0o644))
	w.Model.AttachResource(w.App, path)

	require.NoError(t, w.Converge(ctx, 5), "%s", w.Model)
	assert.Empty(t, w.Violations(), "installed once on the shared volume")
	for _, u := range w.Model.Units(w.App) {
		st := w.Model.Status(u)
		assert.Equal(t, relation.Active, st.State, "%s: %s", u, st)
		assert.Contains(t, st.Message, "7.14.3", u)
	}

	a := upgradeAction(t, w, "7.14.4")
	require.True(t, a.Failed, "the attached tarball is 7.14.3, not 7.14.4")
	assert.Equal(t, "Tarball is 7.14.3, not 7.14.4: juju attach-resource concourse concourse-release=FILE, or fix release-url", a.Message)
	assert.NotContains(t, a.Message, "proxy")
	rec, err := w.Record()
	require.NoError(t, err)
	assert.Equal(t, fsm.PhaseIdle, rec.Phase)
	assert.Equal(t, "7.14.3", rec.Version.String())
}
