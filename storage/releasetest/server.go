package releasetest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// DownloadPrefix is the path under which GitHub serves Concourse's release
// assets; the server uses the same layout so URLs differ only in the host.
const DownloadPrefix = "/concourse/concourse/releases/download"

// AssetName is the release asset for version.
func AssetName(version string) string {
	return fmt.Sprintf("concourse-%s-linux-amd64.tgz", version)
}

// FaultKind says how one response misbehaves.
type FaultKind int

const (
	// FaultStatus answers with Fault.Status and no body.
	FaultStatus FaultKind = iota + 1
	// FaultTruncate declares the full Content-Length, sends Fault.After
	// bytes and ends the response.
	FaultTruncate
	// FaultDrop hijacks the connection, sends the headers and Fault.After
	// bytes, and resets the connection.
	FaultDrop
	// FaultStall sends Fault.After bytes, closes Fault.Reached (when set)
	// and then sends nothing until the client goes away, Fault.Release is
	// closed or the server closes. A stalled response is never completed.
	FaultStall
	// FaultHold closes Fault.Reached (when set), waits until Fault.Release
	// is closed and then answers normally: it keeps a downloader busy, so
	// that other units find the lock held, without failing the download.
	FaultHold
)

// Fault is one misbehaving response; faults queued on a path are used by its
// next requests in order, after which the path answers normally again.
type Fault struct {
	Kind    FaultKind
	Status  int
	After   int64
	Reached chan<- struct{}
	Release <-chan struct{}
}

// Server serves release tarballs and their .sha1 sidecars on loopback, counts
// hits per path and injects faults.
type Server struct {
	srv  *httptest.Server
	done chan struct{}

	mu       sync.Mutex
	files    map[string][]byte
	hits     map[string]int
	sent     map[string]int64
	faults   map[string][]Fault
	noLength bool
	rate     int64 // bytes per second of each response body; 0: as fast as it goes
}

// NewServer starts a server; Close it when done.
func NewServer() *Server {
	s := &Server{
		done:   make(chan struct{}),
		files:  map[string][]byte{},
		hits:   map[string]int{},
		sent:   map[string]int64{},
		faults: map[string][]Fault{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close releases stalled responses and stops the server.
func (s *Server) Close() {
	close(s.done)
	s.srv.Close()
}

// URL is the server's root, e.g. http://127.0.0.1:34567.
func (s *Server) URL() string { return s.srv.URL }

// BaseURL is the release base URL to configure instead of GitHub's.
func (s *Server) BaseURL() string { return s.srv.URL + DownloadPrefix }

// ReleasePath is the path of version's tarball.
func ReleasePath(version string) string {
	return fmt.Sprintf("%s/v%s/%s", DownloadPrefix, version, AssetName(version))
}

// SidecarPath is the path of version's .sha1 sidecar.
func SidecarPath(version string) string { return ReleasePath(version) + ".sha1" }

// TarballURL is the full URL of version's tarball.
func (s *Server) TarballURL(version string) string { return s.srv.URL + ReleasePath(version) }

// AddRelease serves tarball as version's asset with a matching sidecar.
func (s *Server) AddRelease(version string, tarball []byte) {
	s.SetFile(ReleasePath(version), tarball)
	s.SetFile(SidecarPath(version), Sidecar(tarball, AssetName(version)))
}

// SetFile serves body at path (replacing what was there).
func (s *Server) SetFile(path string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
}

// RemoveFile makes path answer 404.
func (s *Server) RemoveFile(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, path)
}

// OmitContentLength makes every later response stream its body without a
// Content-Length, as some proxies and mirrors do.
func (s *Server) OmitContentLength(omit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noLength = omit
}

// SetRate serves every later response body at bytesPerSecond (0: as fast
// as the network goes), as a link of that speed would.
func (s *Server) SetRate(bytesPerSecond int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = bytesPerSecond
}

// InjectFault queues f for the next request to path.
func (s *Server) InjectFault(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], f)
}

// Hits is how many requests path received.
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// Sent is how many body bytes the server has handed to the network for
// path (the client may not have read them all).
func (s *Server) Sent(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[path]
}

// write sends body in chunks, counting what was sent, until the client
// goes away.
func (s *Server) write(w http.ResponseWriter, path string, body []byte) {
	const chunk = 64 << 10
	s.mu.Lock()
	rate := s.rate
	s.mu.Unlock()
	start, written := time.Now(), int64(0)
	for len(body) > 0 {
		if rate > 0 { // not ahead of the rate
			time.Sleep(time.Until(start.Add(time.Duration(written * int64(time.Second) / rate))))
		}
		n, err := w.Write(body[:min(chunk, len(body))])
		written += int64(n)
		s.mu.Lock()
		s.sent[path] += int64(n)
		s.mu.Unlock()
		if err != nil {
			return
		}
		body = body[n:]
	}
}

// next records a hit and returns what to answer.
func (s *Server) next(path string) (body []byte, found bool, fault *Fault, noLength bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[path]++
	body, found = s.files[path]
	if q := s.faults[path]; len(q) > 0 {
		f := q[0]
		s.faults[path] = q[1:]
		fault = &f
	}
	return body, found, fault, s.noLength
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, found, fault, noLength := s.next(r.URL.Path)
	if fault != nil && fault.Kind == FaultStatus {
		http.Error(w, http.StatusText(fault.Status), fault.Status)
		return
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	if fault != nil && fault.Kind == FaultHold {
		if fault.Reached != nil {
			close(fault.Reached)
		}
		select {
		case <-fault.Release:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
		fault = nil
	}
	if fault != nil && fault.Kind == FaultDrop {
		s.drop(w, body, fault.After)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if noLength {
		// Flushing before the body makes net/http send it chunked.
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
	}
	if fault == nil {
		s.write(w, r.URL.Path, body)
		return
	}
	s.write(w, r.URL.Path, body[:min(fault.After, int64(len(body)))])
	w.(http.Flusher).Flush()
	if fault.Kind == FaultStall {
		if fault.Reached != nil {
			close(fault.Reached)
		}
		select {
		case <-r.Context().Done():
		case <-fault.Release:
		case <-s.done:
		}
	}
	// Returning short of Content-Length makes net/http close the
	// connection: the client sees an unexpected EOF.
}

// drop sends a partial response on the raw connection and resets it.
func (s *Server) drop(w http.ResponseWriter, body []byte, after int64) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		http.Error(w, "hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = buf.Write(body[:min(after, int64(len(body)))])
	_ = buf.Flush()
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close with RST, as a dying proxy would
	}
}

// NewTestServer starts a Server that the test closes when it ends, serving
// Tarball(v) for each of versions.
func NewTestServer(t testing.TB, versions ...string) *Server {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	for _, v := range versions {
		s.AddRelease(v, Tarball(v))
	}
	return s
}
