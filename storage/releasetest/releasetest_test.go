package releasetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func entries(t *testing.T, data []byte) map[string]*tar.Header {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out[h.Name] = h
	}
}

func TestBuildRelease(t *testing.T) {
	t.Parallel()
	data, err := Build(Spec{Version: "7.14.3", Padding: 1 << 20})
	require.NoError(t, err)
	got := entries(t, data)
	require.Contains(t, got, BinaryPath)
	assert.Equal(t, int64(0o755), got[BinaryPath].Mode)
	assert.Contains(t, got, "concourse/resource-types/git/resource_metadata.json")
	require.Contains(t, got, PaddingPath)
	assert.Equal(t, int64(1<<20), got[PaddingPath].Size)
	assert.Greater(t, len(data), 1<<20, "padding does not compress")
	again, err := Build(Spec{Version: "7.14.3", Padding: 1 << 20})
	require.NoError(t, err)
	assert.Equal(t, data, again, "fixtures are reproducible")
}

func TestBuildHostileVariantsAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]Hostile{}
	for _, kind := range HostileKinds() {
		data, err := BuildHostile(kind, "1.0.0", "/tmp/outside")
		require.NoError(t, err, kind)
		got := entries(t, data)
		assert.Contains(t, got, BinaryPath, "%s starts like a real release", kind)
		key := SHA1Hex(data)
		assert.NotContains(t, seen, key, "%s duplicates %s", kind, seen[key])
		seen[key] = kind
	}
	_, err := BuildHostile("nonsense", "1.0.0", "/tmp")
	assert.Error(t, err)
}

func TestServerCountsHitsAndInjectsFaults(t *testing.T) {
	t.Parallel()
	srv := NewTestServer(t)
	data := Tarball("1.0.0")
	srv.AddRelease("1.0.0", data)
	srv.InjectFault(ReleasePath("1.0.0"), Fault{Kind: FaultStatus, Status: http.StatusBadGateway})

	resp, err := http.Get(srv.TarballURL("1.0.0"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)

	resp, err = http.Get(srv.TarballURL("1.0.0"))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, data, body)

	resp, err = http.Get(srv.TarballURL("1.0.0") + ".sha1")
	require.NoError(t, err)
	sidecar, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, SHA1Hex(data)+"  "+AssetName("1.0.0")+"\n", string(sidecar))

	assert.Equal(t, 2, srv.Hits(ReleasePath("1.0.0")))
	assert.Equal(t, 1, srv.Hits(SidecarPath("1.0.0")))
	assert.Equal(t, DownloadPrefix+"/v1.0.0/concourse-1.0.0-linux-amd64.tgz", ReleasePath("1.0.0"))
}
