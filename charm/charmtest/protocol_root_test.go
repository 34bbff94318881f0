//go:build !unit

package charmtest

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/charm"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A disk that fills during the download: a unit whose own volume is a
// small tmpfs cannot unpack the target; the upgrade fails and nothing is
// lost.
func TestDiskFullDuringTheDownload(t *testing.T) {
	t.Parallel()
	if !inPrivateTmp(t) {
		return // the tmpfs below is mounted in the child's private namespace
	}
	ctx := context.Background()
	w := NewT(t, Options{Units: 3, Apart: []string{"concourse/2"}})
	small, err := releasetest.Build(releasetest.Spec{Version: "7.14.3"})
	require.NoError(t, err)
	big, err := releasetest.Build(releasetest.Spec{Version: "7.14.4", Padding: 3 << 20})
	require.NoError(t, err)
	w.Server.AddRelease("7.14.3", small)
	w.Server.AddRelease("7.14.4", big)
	apart := filepath.Join(w.Dir, "volume-2")
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", apart).CombinedOutput()
	require.NoError(t, err, "mount a 2 MiB tmpfs (the tests run as root): %s", out)
	t.Cleanup(func() { _ = exec.Command("umount", apart).Run() })

	require.NoError(t, w.Converge(ctx, 5))
	startUpgrade(t, w, "7.14.4")
	runUntil(t, w, 500, phaseIs(fsm.PhaseFailed))
	rec, _ := w.Record()
	assert.Contains(t, rec.LastError, "concourse/2")
	require.NoError(t, w.Settle(ctx, 500))
	assert.Equal(t, "7.14.3", w.Machine("concourse/2").Running()[charm.RoleWorker].String(), "the old release still runs")
	a := w.Model.RunAction("concourse/0", fsm.ActionUpgradeRollback, nil)
	require.NoError(t, w.Settle(ctx, 500))
	require.False(t, a.Failed, a.Message)
	rec = settled(t, w)
	assert.Equal(t, "7.14.3", rec.Version.String())
}
