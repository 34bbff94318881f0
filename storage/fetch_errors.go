package storage

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrDownload is the errors.Is target of every failure to get the tarball's
// bytes (network, HTTP status, timeouts), after the last retry.
var ErrDownload = errors.New("download failed")

// DownloadError is the last failure of a download and how many attempts
// were made.
type DownloadError struct {
	Source   string
	Attempts int
	Err      error
}

func (e *DownloadError) Error() string {
	return fmt.Sprintf("%v: %s after %d attempt(s): %v; check the unit's network path (juju-http-proxy/juju-https-proxy) or attach the release as a resource",
		ErrDownload, e.Source, e.Attempts, e.Err)
}

func (e *DownloadError) Unwrap() []error { return []error{ErrDownload, e.Err} }

// ErrReadTimeout means the server sent nothing for the read timeout.
var ErrReadTimeout = errors.New("no data received within the read timeout")

// ReadTimeoutError names the idle time that was exceeded.
type ReadTimeoutError struct {
	After time.Duration
	Done  int64 // bytes received before the stall
}

func (e *ReadTimeoutError) Error() string {
	return fmt.Sprintf("%v (%s, after %d bytes)", ErrReadTimeout, e.After, e.Done)
}

func (e *ReadTimeoutError) Is(target error) bool { return target == ErrReadTimeout }

// ErrReleaseNotFound means the server has no such tarball: the version is
// wrong or the mirror lacks it. It is not retried.
var ErrReleaseNotFound = errors.New("release not found")

// HTTPStatusError is a non-200 answer.
type HTTPStatusError struct {
	URL    string
	Status int
}

func (e *HTTPStatusError) Error() string {
	msg := fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Status == http.StatusNotFound {
		msg += ": check the version and the release URL (or attach the release as a resource)"
	}
	return msg
}

func (e *HTTPStatusError) Is(target error) bool {
	return target == ErrReleaseNotFound && e.Status == http.StatusNotFound
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
