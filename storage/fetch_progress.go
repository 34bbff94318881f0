package storage

import (
	"io"
	"time"
)

// DownloadProgress is how far a download is. Total is -1 when the server did
// not say how big the tarball is.
type DownloadProgress struct {
	Done  int64
	Total int64
}

// DefaultProgressEvery is the least time between two progress reports:
// status-set is a hook tool call, not something to run per packet.
const DefaultProgressEvery = time.Second

// progressReader reports bytes read through it at most once per every
// (by now), and once more at the end of the stream.
type progressReader struct {
	r      io.Reader
	report func(DownloadProgress)
	now    func() time.Time
	every  time.Duration
	p      DownloadProgress
	last   time.Time
	ended  bool
}

func newProgressReader(r io.Reader, total int64, report func(DownloadProgress), now func() time.Time, every time.Duration) io.Reader {
	if report == nil {
		return r
	}
	return &progressReader{r: r, report: report, now: now, every: every, p: DownloadProgress{Total: total}, last: now()}
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.Done += int64(n)
	switch {
	case err == io.EOF && !pr.ended:
		pr.ended = true
		pr.report(pr.p)
	case n > 0:
		if t := pr.now(); t.Sub(pr.last) >= pr.every {
			pr.last = t
			pr.report(pr.p)
		}
	}
	return n, err
}
