package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/concourse-ci-machine/concourse-ci-machine/storage/releasetest"
)

// fakeWaits records the fetcher's retry delays instead of sleeping.
type fakeWaits struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (f *fakeWaits) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delays = append(f.delays, d)
	return ctx.Err()
}

func (f *fakeWaits) recorded() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.delays...)
}

// testFetchOptions never sleeps, jitters deterministically and times out a
// stalled body quickly.
func testFetchOptions(waits *fakeWaits) FetchOptions {
	return FetchOptions{
		ConnectTimeout: 5 * time.Second,
		ReadTimeout:    200 * time.Millisecond,
		RetryDelay:     time.Second,
		Jitter:         func(d time.Duration) time.Duration { return d },
		Sleep:          waits.sleep,
	}
}

// readAll is a Consumer that keeps the last attempt's bytes.
type readAll struct{ got []byte }

func (r *readAll) consume(_ context.Context, body io.Reader, _ int64) error {
	var err error
	r.got, err = io.ReadAll(body)
	return err
}

func TestFetchFaults(t *testing.T) {
	t.Parallel()
	const version = "7.14.3"
	tarball, err := releasetest.Build(releasetest.Spec{Version: version, Padding: 256 << 10})
	require.NoError(t, err)
	half := int64(len(tarball) / 2)
	// Every failure is a *DownloadError; cause is what it wraps: "" none,
	// "timeout" a *ReadTimeoutError, a number the *HTTPStatusError's status.
	const fails, timeout, notFound, unavailable = "transfer", "timeout", "404", "503"
	tests := []struct {
		name      string
		faults    []releasetest.Fault
		wantErr   string // "" succeeds
		wantHits  int
		wantWaits []time.Duration
	}{
		{"healthy", nil, "", 1, nil},
		{"500 then 200", []releasetest.Fault{{Kind: releasetest.FaultStatus, Status: 500}}, "", 2, []time.Duration{time.Second}},
		{"truncated then dropped then fine", []releasetest.Fault{
			{Kind: releasetest.FaultTruncate, After: half},
			{Kind: releasetest.FaultDrop, After: half},
		}, "", 3, []time.Duration{time.Second, 2 * time.Second}},
		{"truncated every time", []releasetest.Fault{
			{Kind: releasetest.FaultTruncate, After: half},
			{Kind: releasetest.FaultTruncate, After: half},
			{Kind: releasetest.FaultTruncate, After: half},
		}, fails, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"connection dropped mid-body every time", []releasetest.Fault{
			{Kind: releasetest.FaultDrop, After: 1000},
			{Kind: releasetest.FaultDrop, After: 1000},
			{Kind: releasetest.FaultDrop, After: 1000},
		}, fails, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"slow body past the read timeout, then fine", []releasetest.Fault{{Kind: releasetest.FaultStall, After: half}}, "", 2, []time.Duration{time.Second}},
		{"slow body every time", []releasetest.Fault{
			{Kind: releasetest.FaultStall, After: half},
			{Kind: releasetest.FaultStall, After: 0},
			{Kind: releasetest.FaultStall, After: 10},
		}, timeout, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"503 three times", []releasetest.Fault{
			{Kind: releasetest.FaultStatus, Status: 503},
			{Kind: releasetest.FaultStatus, Status: 503},
			{Kind: releasetest.FaultStatus, Status: 503},
		}, unavailable, 3, []time.Duration{time.Second, 2 * time.Second}},
		{"404 is not retried", []releasetest.Fault{{Kind: releasetest.FaultStatus, Status: 404}}, notFound, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := releasetest.NewTestServer(t)
			srv.AddRelease(version, tarball)
			for _, f := range tt.faults {
				srv.InjectFault(releasetest.ReleasePath(version), f)
			}
			waits := &fakeWaits{}
			f := NewFetcher(testFetchOptions(waits))
			src := DefaultSource(srv.BaseURL(), ver(version))
			want, err := f.ExpectedSums(context.Background(), src, "")
			require.NoError(t, err)
			var sink readAll
			got, err := f.Fetch(context.Background(), src, want, sink.consume)
			if tt.wantErr != "" {
				dl, ok := errors.AsType[*DownloadError](err)
				require.True(t, ok, "%v", err)
				assert.Equal(t, tt.wantHits, dl.Attempts)
				status, isStatus := errors.AsType[*HTTPStatusError](err)
				_, isTimeout := errors.AsType[*ReadTimeoutError](err)
				switch tt.wantErr {
				case timeout:
					assert.True(t, isTimeout, "%v", err)
				case fails:
					assert.False(t, isStatus || isTimeout, "%v", err)
				default:
					require.True(t, isStatus, "%v", err)
					assert.Equal(t, tt.wantErr, strconv.Itoa(status.Status))
				}
			} else {
				require.NoError(t, err)
				assert.Equal(t, tarball, sink.got)
				assert.Equal(t, releasetest.SHA1Hex(tarball), got.SHA1)
				assert.Equal(t, "sha1:"+releasetest.SHA1Hex(tarball), got.Checksum())
				assert.Equal(t, int64(len(tarball)), got.Bytes)
			}
			assert.Equal(t, tt.wantHits, srv.Hits(releasetest.ReleasePath(version)))
			assert.Equal(t, tt.wantWaits, waits.recorded())
		})
	}
}

func TestFetchChecksums(t *testing.T) {
	t.Parallel()
	const version = "7.14.3"
	tarball := releasetest.Tarball(version)
	other := releasetest.Tarball("7.14.4")
	tests := []struct {
		name       string
		sidecar    []byte // nil: no sidecar (404)
		pin        string
		wantErr    func(error) bool
		wantAlgo   string // of a mismatch
		wantSum    string
		wantDownld bool
	}{
		{"sidecar matches", releasetest.Sidecar(tarball, "x"), "", nil, "", "sha1:" + releasetest.SHA1Hex(tarball), true},
		{"sidecar and pin match", releasetest.Sidecar(tarball, "x"), releasetest.SHA256Hex(tarball), nil, "", "sha256:" + releasetest.SHA256Hex(tarball), true},
		{"pin in upper case with prefix", nil, "sha256:" + string(bytes.ToUpper([]byte(releasetest.SHA256Hex(tarball)))), nil, "", "sha256:" + releasetest.SHA256Hex(tarball), true},
		{"sidecar mismatch", releasetest.Sidecar(other, "x"), "", isType[*ChecksumMismatchError], "sha1", "", true},
		{"sidecar matches, pin does not", releasetest.Sidecar(tarball, "x"), releasetest.SHA256Hex(other), isType[*ChecksumMismatchError], "sha256", "", true},
		{"pin matches, sidecar does not", releasetest.Sidecar(other, "x"), releasetest.SHA256Hex(tarball), isType[*ChecksumMismatchError], "sha1", "", true},
		{"no sidecar, no pin", nil, "", isType[*NoChecksumError], "", "", false},
		{"garbage sidecar, no pin", []byte("<html>not found</html>"), "", isType[*NoChecksumError], "", "", false},
		{"malformed pin", releasetest.Sidecar(tarball, "x"), "abc", isType[*ValueError], "", "", false},
		{"pin labelled SHA-1", releasetest.Sidecar(tarball, "x"), "sha1:" + releasetest.SHA256Hex(tarball), isType[*ValueError], "", "", false},
		{"pin labelled twice", releasetest.Sidecar(tarball, "x"), "sha256:sha1:" + releasetest.SHA256Hex(tarball), isType[*ValueError], "", "", false},
		{"sidecar labelled SHA-256, no pin", []byte("sha256:" + releasetest.SHA1Hex(tarball) + "  x\n"), "", isType[*NoChecksumError], "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := releasetest.NewTestServer(t)
			srv.AddRelease(version, tarball)
			if tt.sidecar == nil {
				srv.RemoveFile(releasetest.SidecarPath(version))
			} else {
				srv.SetFile(releasetest.SidecarPath(version), tt.sidecar)
			}
			f := NewFetcher(testFetchOptions(&fakeWaits{}))
			src := DefaultSource(srv.BaseURL(), ver(version))
			got, err := func() (Digests, error) {
				want, err := f.ExpectedSums(context.Background(), src, tt.pin)
				if err != nil {
					return Digests{}, err
				}
				return f.Fetch(context.Background(), src, want, (&readAll{}).consume)
			}()
			if tt.wantDownld {
				assert.Equal(t, 1, srv.Hits(releasetest.ReleasePath(version)))
			} else {
				assert.Zero(t, srv.Hits(releasetest.ReleasePath(version)), "no byte is fetched without a checksum")
			}
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.wantSum, got.Checksum())
				return
			}
			require.True(t, tt.wantErr(err), "%v", err)
			if mismatch, ok := errors.AsType[*ChecksumMismatchError](err); ok {
				assert.Equal(t, tt.wantAlgo, mismatch.Algorithm)
				assert.NotEqual(t, mismatch.Want, mismatch.Got)
				assert.Contains(t, err.Error(), "nothing was installed")
			}
		})
	}
}

// isType tells whether err's chain holds an E.
func isType[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

func TestExpectedSumsSidecarDownButPinned(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("1.2.3")
	srv := releasetest.NewTestServer(t)
	srv.AddRelease("1.2.3", tarball)
	for range 3 {
		srv.InjectFault(releasetest.SidecarPath("1.2.3"), releasetest.Fault{Kind: releasetest.FaultStatus, Status: 502})
	}
	var logs []string
	opts := testFetchOptions(&fakeWaits{})
	opts.Logf = func(format string, args ...any) { logs = append(logs, format) }
	f := NewFetcher(opts)
	want, err := f.ExpectedSums(context.Background(), DefaultSource(srv.BaseURL(), ver("1.2.3")), releasetest.SHA256Hex(tarball))
	require.NoError(t, err)
	assert.Equal(t, ExpectedSums{SHA256: releasetest.SHA256Hex(tarball)}, want)
	assert.Equal(t, 3, srv.Hits(releasetest.SidecarPath("1.2.3")))
	assert.NotEmpty(t, logs)
}

func TestFetchLocalSources(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("1.2.3")
	dir := t.TempDir()
	path := filepath.Join(dir, "concourse.tgz")
	require.NoError(t, os.WriteFile(path, tarball, 0o644))
	noSidecar := filepath.Join(dir, "resource.tgz")
	require.NoError(t, os.WriteFile(noSidecar, tarball, 0o644))
	require.NoError(t, os.WriteFile(path+SidecarSuffix, releasetest.Sidecar(tarball, "concourse.tgz"), 0o644))

	tests := []struct {
		name    string
		src     Source
		pin     string
		wantErr error
	}{
		{"file path with sidecar", FileSource(path), "", nil},
		{"file URL with sidecar", URLSource("file://" + path), "", nil},
		{"resource without sidecar, pinned", FileSource(noSidecar), releasetest.SHA256Hex(tarball), nil},
		{"resource without sidecar, unpinned", FileSource(noSidecar), "", errNoChecksumForTest},
		{"missing file", FileSource(filepath.Join(dir, "nope.tgz")), releasetest.SHA256Hex(tarball), ErrBadSource},
		{"a directory", FileSource(dir), releasetest.SHA256Hex(tarball), ErrBadSource},
		{"remote file URL", URLSource("file://elsewhere/x.tgz"), "", ErrBadSource},
		{"ftp", URLSource("ftp://example.com/x.tgz"), "", ErrBadSource},
		{"both", Source{URL: "https://example.com/x.tgz", File: path}, "", ErrBadSource},
		{"neither", Source{}, "", ErrBadSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var progress []DownloadProgress
			opts := testFetchOptions(&fakeWaits{})
			opts.OnProgress = func(p DownloadProgress) { progress = append(progress, p) }
			f := NewFetcher(opts)
			var sink readAll
			_, err := func() (Digests, error) {
				want, err := f.ExpectedSums(context.Background(), tt.src, tt.pin)
				if err != nil {
					return Digests{}, err
				}
				return f.Fetch(context.Background(), tt.src, want, sink.consume)
			}()
			switch {
			case tt.wantErr == errNoChecksumForTest:
				require.True(t, isType[*NoChecksumError](err), "%v", err)
				return
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tarball, sink.got)
			require.NotEmpty(t, progress)
			assert.Equal(t, DownloadProgress{Done: int64(len(tarball)), Total: int64(len(tarball))}, progress[len(progress)-1])
		})
	}
}

func TestFetchRefusesToStartWithoutChecksum(t *testing.T) {
	t.Parallel()
	f := NewFetcher(FetchOptions{})
	_, err := f.Fetch(context.Background(), FileSource("/nonexistent"), ExpectedSums{}, (&readAll{}).consume)
	require.True(t, isType[*NoChecksumError](err), "%v", err)
}

// errNoChecksumForTest stands for "a *NoChecksumError" in a table of
// sentinels.
var errNoChecksumForTest = errors.New("want a *NoChecksumError")

// TestFetchProgressIsThrottled drives a fake clock 100 ms per read: reports
// come at most once a fake second, plus one at the end.
func TestFetchProgressIsThrottled(t *testing.T) {
	t.Parallel()
	tarball, err := releasetest.Build(releasetest.Spec{Version: "1.0.0", Padding: 2 << 20})
	require.NoError(t, err)
	srv := releasetest.NewTestServer(t)
	srv.AddRelease("1.0.0", tarball)

	var clock atomic.Int64
	now := func() time.Time { return time.Unix(0, clock.Add(int64(100*time.Millisecond))) }
	var reports []DownloadProgress
	var at []time.Time
	reads := 0
	opts := testFetchOptions(&fakeWaits{})
	opts.Now = now
	opts.OnProgress = func(p DownloadProgress) {
		reports = append(reports, p)
		at = append(at, time.Unix(0, clock.Load()))
	}
	f := NewFetcher(opts)
	src := DefaultSource(srv.BaseURL(), ver("1.0.0"))
	want, err := f.ExpectedSums(context.Background(), src, "")
	require.NoError(t, err)
	_, err = f.Fetch(context.Background(), src, want, func(_ context.Context, body io.Reader, _ int64) error {
		buf := make([]byte, 8<<10)
		for {
			_, err := body.Read(buf)
			reads++
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(reports), 2)
	assert.Less(t, len(reports), reads/5, "reports are throttled, not one per read")
	for i := 1; i < len(reports)-1; i++ {
		assert.GreaterOrEqual(t, at[i].Sub(at[i-1]), time.Second, "report %d came too soon", i)
		assert.Greater(t, reports[i].Done, reports[i-1].Done)
	}
	last := reports[len(reports)-1]
	assert.Equal(t, DownloadProgress{Done: int64(len(tarball)), Total: int64(len(tarball))}, last)
}

// TestFetchUsesTheProxy routes the download through a forward proxy, the way
// HTTP_PROXY does in production (ProxyFromEnvironment is the default Proxy).
func TestFetchUsesTheProxy(t *testing.T) {
	t.Parallel()
	tarball := releasetest.Tarball("1.0.0")
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		// A forward proxy gets the absolute URL; this one answers itself.
		switch r.URL.Path {
		case releasetest.ReleasePath("1.0.0"):
			_, _ = w.Write(tarball)
		case releasetest.SidecarPath("1.0.0"):
			_, _ = w.Write(releasetest.Sidecar(tarball, "x"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(proxy.Close)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	opts := testFetchOptions(&fakeWaits{})
	opts.Proxy = http.ProxyURL(proxyURL)
	f := NewFetcher(opts)
	src := DefaultSource("http://releases.example.invalid"+releasetest.DownloadPrefix, ver("1.0.0"))
	want, err := f.ExpectedSums(context.Background(), src, "")
	require.NoError(t, err)
	var sink readAll
	_, err = f.Fetch(context.Background(), src, want, sink.consume)
	require.NoError(t, err)
	assert.Equal(t, tarball, sink.got)
	assert.Equal(t, int64(2), proxied.Load())
}

func TestReleaseURL(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "https://github.com/concourse/concourse/releases/download/v7.14.3/concourse-7.14.3-linux-amd64.tgz", ReleaseURL("", ver("7.14.3")))
	assert.Equal(t, "http://mirror/c/v1.0.0/concourse-1.0.0-linux-amd64.tgz", ReleaseURL("http://mirror/c/", ver("v1.0.0")))
}

func TestSumReader(t *testing.T) {
	t.Parallel()
	data := releasetest.Tarball("1.0.0")
	d, err := sumReader(bytes.NewReader(data), true, true)
	require.NoError(t, err)
	assert.Equal(t, releasetest.SHA1Hex(data), d.SHA1)
	assert.Equal(t, releasetest.SHA256Hex(data), d.SHA256)
	assert.Equal(t, int64(len(data)), d.Bytes)
}
