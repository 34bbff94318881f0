package storage

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

const proxyChildEnv = "STORAGE_TEST_PROXY_CHILD"

// proxiedHost is a name no resolver knows: the download can only succeed
// through the proxy named in HTTP_PROXY.
const proxiedHost = "http://releases.invalid"

// TestFetchHonoursProxyEnvironment runs a fetch in a child process whose
// environment names a proxy (Go reads the proxy variables once per process,
// so only a fresh process proves the default honours them). The loopback
// release server plays the proxy: it serves by path, so the request for
// releases.invalid reaches it only by going through HTTP_PROXY.
func TestFetchHonoursProxyEnvironment(t *testing.T) {
	t.Parallel()
	srv := releasetest.NewTestServer(t, "7.14.3")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcessProxy$")
	cmd.Env = append(os.Environ(), proxyChildEnv+"=1", "HTTP_PROXY="+srv.URL(), "http_proxy="+srv.URL(), "NO_PROXY=", "no_proxy=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with this test binary
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "child output:\n%s", out.String())
	assert.Equal(t, 1, srv.Hits(releasetest.SidecarPath("7.14.3")), "the sidecar must come through the proxy")
	assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath("7.14.3")), "the tarball must come through the proxy")
}

// TestHelperProcessProxy is the child of TestFetchHonoursProxyEnvironment;
// run directly it does nothing.
func TestHelperProcessProxy(t *testing.T) {
	if os.Getenv(proxyChildEnv) == "" {
		return
	}
	ctx := context.Background()
	f := NewFetcher(FetchOptions{})
	src := URLSource(proxiedHost + releasetest.ReleasePath("7.14.3"))
	want, err := f.ExpectedSums(ctx, src, "")
	require.NoError(t, err)
	var body bytes.Buffer
	_, err = f.Fetch(ctx, src, want, func(_ context.Context, r io.Reader, _ int64) error {
		_, err := io.Copy(&body, r)
		return err
	})
	require.NoError(t, err)
	require.Equal(t, releasetest.Tarball("7.14.3"), body.Bytes())
}
