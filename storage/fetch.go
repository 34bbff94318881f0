package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
)

// Fetch defaults: generous enough for a slow mirror, short enough that a
// dead one fails within a hook.
const (
	DefaultConnectTimeout = 30 * time.Second
	DefaultReadTimeout    = 60 * time.Second
	DefaultFetchAttempts  = 3
	DefaultRetryDelay     = 2 * time.Second
)

// errSidecarMissing stands for a 404 or a missing file.
var errSidecarMissing = errors.New("not published")

// maxSidecarSize bounds a .sha1 sidecar: a digest and a file name.
const maxSidecarSize = 4 << 10

// FetchOptions tune a Fetcher; zero values take the defaults.
type FetchOptions struct {
	ConnectTimeout time.Duration // TCP connect and TLS handshake
	ReadTimeout    time.Duration // longest wait for response headers or the next body bytes
	Attempts       int           // tries per request, including the first
	RetryDelay     time.Duration // wait before the second try, doubled for each next one
	// Jitter spreads a retry delay so that units do not retry in step;
	// the default picks uniformly in [d/2, d].
	Jitter func(time.Duration) time.Duration
	// Sleep waits between tries; it returns early with ctx's error.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now and ProgressEvery throttle OnProgress.
	Now           func() time.Time
	ProgressEvery time.Duration
	OnProgress    func(DownloadProgress)
	// Proxy picks the proxy per request; http.ProxyFromEnvironment
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) by default.
	Proxy func(*http.Request) (*url.URL, error)
	// Logf receives retries and other notes for the operator's log.
	Logf func(format string, args ...any)
}

func (o FetchOptions) withDefaults() FetchOptions {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultFetchAttempts
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Jitter == nil {
		o.Jitter = halfJitter
	}
	if o.Sleep == nil {
		o.Sleep = sleepContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.Proxy == nil {
		o.Proxy = http.ProxyFromEnvironment
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// sleepContext waits d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fetcher downloads release tarballs and their sidecars with timeouts,
// retries and progress, hashing the bytes as they stream past.
type Fetcher struct {
	opts   FetchOptions
	client *http.Client
}

// NewFetcher builds a Fetcher with its own HTTP transport.
func NewFetcher(opts FetchOptions) *Fetcher {
	opts = opts.withDefaults()
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 opts.Proxy,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.ReadTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Fetcher{opts: opts, client: &http.Client{Transport: transport}}
}

// Consumer reads one attempt's tarball stream to its end; size is -1 when
// unknown. A failed attempt is retried with a new stream, so a consumer must
// start from scratch on every call. Errors reading body are the transfer's
// and may be retried; any other error the consumer returns stops the fetch.
type Consumer func(ctx context.Context, body io.Reader, size int64) error

// ExpectedSums finds what src must hash to: the SHA-1 in its .sha1 sidecar
// and pin (a SHA-256, from release-sha256) when given. Without either it
// returns *NoChecksumError and nothing should be downloaded.
func (f *Fetcher) ExpectedSums(ctx context.Context, src Source, pin string) (ExpectedSums, error) {
	var want ExpectedSums
	if pin != "" {
		sum, err := parsePin(pin)
		if err != nil {
			return want, err
		}
		want.SHA256 = sum
	}
	r, err := src.resolve()
	if err != nil {
		return want, err
	}
	sidecar := r.String() + SidecarSuffix
	data, err := f.readSidecar(ctx, r, sidecar)
	if err == nil {
		want.SHA1, err = parseSidecar(data)
	}
	if status, ok := errors.AsType[*HTTPStatusError](err); (ok && status.Status == http.StatusNotFound) || errors.Is(err, fs.ErrNotExist) {
		err = errSidecarMissing
	}
	if err != nil {
		if want.SHA256 == "" {
			return want, &NoChecksumError{Source: r.String(), Sidecar: sidecar, Err: err}
		}
		f.opts.Logf("release %s: sidecar %s unusable (%v); verifying against the SHA-256 pin only", r, sidecar, err)
	}
	return want, nil
}

func (f *Fetcher) readSidecar(ctx context.Context, r resolved, sidecar string) ([]byte, error) {
	if r.path != "" {
		file, err := os.Open(sidecar)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		return readAtMost(file, maxSidecarSize, errSidecarTooLarge)
	}
	var data []byte
	err := f.retry(ctx, sidecar, func(ctx context.Context) error {
		resp, err := f.get(ctx, sidecar)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, err = readAtMost(resp.Body, maxSidecarSize, errSidecarTooLarge)
		if err != nil && !errors.Is(err, errSidecarTooLarge) {
			return &transferError{err}
		}
		return err
	})
	return data, err
}

// errSidecarTooLarge refuses a sidecar larger than any checksum file.
var errSidecarTooLarge = errors.New("the sidecar is larger than " + bytesize.Format(maxSidecarSize))

// readAtMost reads all of r, refusing more than limit bytes with tooLarge.
func readAtMost(r io.Reader, limit int64, tooLarge error) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooLarge
	}
	return data, nil
}

// Fetch streams src's tarball into consume and checks the bytes against
// want. HTTP transfers are retried; a local file is read once. An archive
// that ends early (*TruncatedArchiveError from consume) is downloaded once
// more, as a cut connection that the server closed cleanly looks the same.
// The bytes are hashed as they stream, so consume must not treat what it
// wrote as valid until Fetch returns nil.
func (f *Fetcher) Fetch(ctx context.Context, src Source, want ExpectedSums, consume Consumer) (Digests, error) {
	if want.SHA1 == "" && want.SHA256 == "" {
		return Digests{}, &NoChecksumError{Source: src.String(), Sidecar: "(not looked up)", Err: errors.New("no expected checksum given")}
	}
	r, err := src.resolve()
	if err != nil {
		return Digests{}, err
	}
	if r.path != "" {
		return f.fetchFile(ctx, r.path, want, consume)
	}
	var got Digests
	truncated := 0
	err = f.retry(ctx, r.url, func(ctx context.Context) error {
		var err error
		got, err = f.fetchOnce(ctx, r.url, want, consume)
		if short, ok := errors.AsType[*TruncatedArchiveError](err); ok {
			truncated++
			short.Attempts = truncated
			if truncated == 1 {
				return &transferError{err}
			}
		}
		return err
	})
	return got, err
}

// nameSource fills in what the consumer could not know about an archive
// error: where the archive came from and how much of it arrived.
func nameSource(err error, source string, received int64) error {
	if short, ok := errors.AsType[*TruncatedArchiveError](err); ok {
		short.Source, short.Received = source, received
		short.Attempts = max(short.Attempts, 1)
	}
	if corrupt, ok := errors.AsType[*CorruptArchiveError](err); ok {
		corrupt.Source = source
	}
	return err
}

func (f *Fetcher) fetchFile(ctx context.Context, path string, want ExpectedSums, consume Consumer) (Digests, error) {
	file, err := os.Open(path)
	if err != nil {
		return Digests{}, fmt.Errorf("%w: %w", ErrBadSource, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return Digests{}, err
	}
	if !info.Mode().IsRegular() {
		return Digests{}, fmt.Errorf("%w: %s is not a regular file", ErrBadSource, path)
	}
	return f.stream(ctx, file, info.Size(), path, want, consume)
}

// fetchOnce is one HTTP attempt.
func (f *Fetcher) fetchOnce(ctx context.Context, rawURL string, want ExpectedSums, consume Consumer) (Digests, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := f.get(ctx, rawURL)
	if err != nil {
		return Digests{}, err
	}
	defer resp.Body.Close()
	idle := &idleReader{r: resp.Body, ctx: ctx, timeout: f.opts.ReadTimeout, cancel: cancel}
	return f.stream(ctx, idle, resp.ContentLength, rawURL, want, consume)
}

// stream feeds r (size bytes; -1 when unknown) from source to consume,
// hashing and reporting progress on the way, then reads what consume left
// and checks the digests against want.
func (f *Fetcher) stream(ctx context.Context, r io.Reader, size int64, source string, want ExpectedSums, consume Consumer) (Digests, error) {
	h := newHasher(want)
	body := newProgressReader(io.TeeReader(r, h), size, f.opts.OnProgress, f.opts.Now, f.opts.ProgressEvery)
	if err := consume(ctx, body, size); err != nil {
		return Digests{}, nameSource(err, source, h.n)
	}
	// The consumer may stop at the archive's end; the hash covers every byte.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return Digests{}, err
	}
	got := h.digests()
	return got, want.verify(source, got)
}

// get sends a GET and returns a 200 response; anything else is an error
// (transfer or status) the retry loop classifies.
func (f *Fetcher) get(ctx context.Context, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSource, err)
	}
	req.Header.Set("User-Agent", "concourse-ci-machine")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, &transferError{err}
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &HTTPStatusError{URL: rawURL, Status: resp.StatusCode}
	}
	return resp, nil
}

// retry runs try up to Attempts times while it fails with a transfer error
// or a retryable status, waiting RetryDelay (doubled each time, jittered)
// between tries. Other errors are returned at once, unchanged.
func (f *Fetcher) retry(ctx context.Context, what string, try func(ctx context.Context) error) error {
	delay := f.opts.RetryDelay
	var err error
	for attempt := 1; ; attempt++ {
		err = try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("download %s: %w", what, context.Cause(ctx))
		}
		if !isRetryable(err) {
			if _, ok := errors.AsType[*HTTPStatusError](err); ok {
				return &DownloadError{Source: what, Attempts: attempt, Err: err}
			}
			return err
		}
		if attempt >= f.opts.Attempts {
			return &DownloadError{Source: what, Attempts: attempt, Err: err}
		}
		wait := f.opts.Jitter(delay)
		f.opts.Logf("download %s: attempt %d of %d failed (%v); retrying in %s", what, attempt, f.opts.Attempts, err, wait.Round(time.Millisecond))
		if err := f.opts.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("download %s: waiting to retry: %w", what, err)
		}
		delay *= 2
	}
}

func isRetryable(err error) bool {
	var status *HTTPStatusError
	if errors.As(err, &status) {
		return status.retryable()
	}
	var transfer *transferError
	return errors.As(err, &transfer)
}

// idleReader fails a read that waits longer than timeout for bytes, by
// cancelling the request. Only time spent inside Read counts, so a slow
// consumer (a busy disk) is not mistaken for a stalled server.
type idleReader struct {
	r       io.Reader
	ctx     context.Context
	timeout time.Duration
	cancel  context.CancelCauseFunc
	done    int64
}

func (ir *idleReader) Read(p []byte) (int, error) {
	timer := time.AfterFunc(ir.timeout, func() {
		ir.cancel(&ReadTimeoutError{After: ir.timeout})
	})
	n, err := ir.r.Read(p)
	timer.Stop()
	ir.done += int64(n)
	if err == nil || err == io.EOF {
		return n, err
	}
	var timeout *ReadTimeoutError
	if cause := context.Cause(ir.ctx); errors.As(cause, &timeout) {
		return n, &transferError{&ReadTimeoutError{After: timeout.After, Done: ir.done}}
	}
	return n, &transferError{err}
}

// retryable says whether another attempt may succeed: server errors and
// rate limits, but not a missing file or a refused request.
func (e *HTTPStatusError) retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// transferError marks an error that happened while moving bytes (connect,
// headers, body), as opposed to what the consumer did with them: only these
// are retried.
type transferError struct{ err error }

func (e *transferError) Error() string { return e.err.Error() }
func (e *transferError) Unwrap() error { return e.err }
