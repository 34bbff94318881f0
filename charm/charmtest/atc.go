package charmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
)

// The world's ATC: the parts of Concourse's web API the charm uses, over
// what the machines' workers told it (Machine.registered). It checks
// what Concourse checks: fly's client and a password grant for an admin
// whose password is one the charm generated on a volume, a bearer token
// on the API, and prune only of a worker that is not running. Every unit
// reaches it in process by default; ServeATC puts it on a loopback socket.

// ATCCall is one request the ATC answered: "PUT /api/v1/workers/x/prune".
type ATCCall string

// atc is the world's ATC state that is not the machines'.
type atc struct {
	calls []ATCCall
	down  bool // the in-process transport refuses connections
	hang  bool // requests wait until the caller gives up
	// server, when set by ServeATC, is where units reach the ATC.
	server *httptest.Server
}

// ATC is the world's ATC as an http.Handler.
func (w *World) ATC() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+concourse.TokenPath, w.atcToken)
	mux.HandleFunc("GET /api/v1/workers", func(rw http.ResponseWriter, r *http.Request) {
		if !w.atcAuthorized(rw, r) {
			return
		}
		list := []concourse.Worker{}
		for name, state := range w.Workers() {
			list = append(list, concourse.Worker{Name: name, State: state, Platform: "linux", Version: "2.5"})
		}
		slices.SortFunc(list, func(a, b concourse.Worker) int { return strings.Compare(a.Name, b.Name) })
		writeJSON(rw, http.StatusOK, list)
	})
	mux.HandleFunc("PUT /api/v1/workers/{name}/prune", func(rw http.ResponseWriter, r *http.Request) {
		if !w.atcAuthorized(rw, r) {
			return
		}
		// atc/api/workerserver/prune.go: 404 for a worker not there, 400
		// with "cannot prune running worker" for a running one.
		name := r.PathValue("name")
		m, state := w.registration(name)
		switch {
		case m == nil:
			rw.WriteHeader(http.StatusNotFound)
		case state == concourse.WorkerRunning:
			writeJSON(rw, http.StatusBadRequest, map[string]string{"stderr": "cannot prune running worker"})
		default:
			m.mu.Lock()
			delete(m.registered, name)
			m.mu.Unlock()
			rw.WriteHeader(http.StatusOK)
		}
	})
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.atc.calls = append(w.atc.calls, ATCCall(r.Method+" "+r.URL.Path))
		hang := w.atc.hang
		w.mu.Unlock()
		if hang {
			// With the body read, the server notices the caller hang up
			// and ends the request's context.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		mux.ServeHTTP(rw, r)
	})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// atcToken is fly's password grant: a token for the world's admin, whose
// password is one of the admin-password files the charm wrote.
func (w *World) atcToken(rw http.ResponseWriter, r *http.Request) {
	if id, secret, ok := r.BasicAuth(); !ok || id != "fly" || secret != "Zmx5" {
		writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "password" {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	token := atcToken(r.PostForm.Get("username"), r.PostForm.Get("password"))
	if !slices.Contains(w.atcTokens(), token) {
		writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "access_denied"})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]string{"access_token": "opaque", "token_type": "bearer", "id_token": token})
}

func atcToken(user, password string) string {
	sum := sha256.Sum256([]byte(user + ":" + password))
	return hex.EncodeToString(sum[:12])
}

// atcTokens are the tokens of every admin the world's web units have: the
// configured admin of each application with each password the charm wrote.
func (w *World) atcTokens() []string {
	var passwords []string
	for _, pattern := range []string{"*/keys/admin-password", "*/*/keys/admin-password"} {
		files, _ := filepath.Glob(filepath.Join(w.Dir, pattern))
		for _, f := range files {
			if data, err := os.ReadFile(f); err == nil {
				passwords = append(passwords, strings.TrimSpace(string(data)))
			}
		}
	}
	var tokens []string
	for _, app := range w.Apps() {
		user, _ := w.Model.Config(app)["initial-admin-username"].(string)
		for _, p := range passwords {
			tokens = append(tokens, atcToken(user, p))
		}
	}
	return tokens
}

func (w *World) atcAuthorized(rw http.ResponseWriter, r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !slices.Contains(w.atcTokens(), token) {
		rw.WriteHeader(http.StatusUnauthorized)
		return false
	}
	return true
}

// Workers is every worker the ATC knows, with its state.
func (w *World) Workers() map[string]string {
	out := map[string]string{}
	for _, m := range w.allMachines() {
		m.mu.Lock()
		maps.Copy(out, m.registered)
		m.mu.Unlock()
	}
	return out
}

// SetWorkerState sets what the ATC says of a registered worker (a worker
// seen landing or retiring, or stalled).
func (w *World) SetWorkerState(name, state string) {
	if m, _ := w.registration(name); m != nil {
		m.mu.Lock()
		m.registered[name] = state
		m.mu.Unlock()
	}
}

// registration finds the machine a worker registered from.
func (w *World) registration(name string) (*Machine, string) {
	for _, m := range w.allMachines() {
		m.mu.Lock()
		state, ok := m.registered[name]
		m.mu.Unlock()
		if ok {
			return m, state
		}
	}
	return nil, ""
}

func (w *World) allMachines() []*Machine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Values(w.machines))
}

// ATCCalls are the requests the ATC answered, in order.
func (w *World) ATCCalls() []ATCCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.atc.calls)
}

// SetATCDown makes web's API refuse connections (true) or answer again.
func (w *World) SetATCDown(down bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.atc.down = down
}

// SetATCHang makes web's API accept requests and never answer them, until
// the caller gives up.
func (w *World) SetATCHang(hang bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.atc.hang = hang
}

// ServeATC serves the world's ATC on a loopback socket and points every
// unit's hooks at it from now on; Close stops it. Closing the returned
// server makes web unreachable for real.
func (w *World) ServeATC() *httptest.Server {
	srv := httptest.NewServer(w.ATC())
	w.mu.Lock()
	defer w.mu.Unlock()
	w.atc.server = srv
	return srv
}

// concourseAPI is the units' Deps.ConcourseAPI: the loopback server when
// ServeATC started one, otherwise the ATC in process.
func (w *World) concourseAPI(webPort int) (string, *http.Client) {
	w.mu.Lock()
	srv := w.atc.server
	w.mu.Unlock()
	if srv != nil {
		return srv.URL, srv.Client()
	}
	return "http://web.invalid", &http.Client{Transport: atcTransport{w}}
}

// atcTransport hands requests to the world's ATC in process.
type atcTransport struct{ w *World }

func (t atcTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.w.mu.Lock()
	down := t.w.atc.down
	t.w.mu.Unlock()
	if down {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.w.ATC().ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
