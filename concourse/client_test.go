package concourse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	fakeUser     = "admin"
	fakePassword = "the-admin-password"
)

// fakeATC plays the parts of Concourse's web the client uses, with the
// checks Concourse makes: fly's client credentials and a password grant at
// the token endpoint, a bearer token on the API, prune only for stalled
// workers.
type fakeATC struct {
	t *testing.T

	mu      sync.Mutex
	workers map[string]string // name -> state
	tokens  map[string]bool
	logins  int
	// expireAfter makes every issued token stop working after this many
	// API requests (0: never).
	expireAfter int
	apiCalls    int
	// failWith, when set, answers every API request (not login) with it.
	failWith func(w http.ResponseWriter)
}

func newFakeATC(t *testing.T) (*fakeATC, *httptest.Server) {
	f := &fakeATC{t: t, workers: map[string]string{"w-running": WorkerRunning, "w-stalled": WorkerStalled, "odd/name": WorkerStalled}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/info", func(w http.ResponseWriter, r *http.Request) {
		if f.fail(w) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": "7.14.3", "worker_version": "2.5", "external_url": "https://ci.example.com", "cluster_name": "ci"})
	})
	mux.HandleFunc("POST /sky/issuer/token", f.token)
	mux.HandleFunc("GET /api/v1/workers", func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(w, r) || f.fail(w) {
			return
		}
		f.mu.Lock()
		var list []map[string]any
		for name, state := range f.workers {
			list = append(list, map[string]any{"name": name, "state": state, "platform": "linux", "version": "2.5", "active_containers": 3, "tags": []string{"t"}})
		}
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("PUT /api/v1/workers/{name}/prune", func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(w, r) || f.fail(w) {
			return
		}
		name := r.PathValue("name")
		f.mu.Lock()
		defer f.mu.Unlock()
		state, ok := f.workers[name]
		switch {
		case !ok:
			w.WriteHeader(http.StatusNotFound)
		case state != WorkerStalled:
			writeJSON(w, http.StatusBadRequest, map[string]string{"stderr": "cannot prune running worker"})
		default:
			delete(f.workers, name)
			w.WriteHeader(http.StatusOK)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeATC) fail(w http.ResponseWriter) bool {
	f.mu.Lock()
	fail := f.failWith
	f.mu.Unlock()
	if fail == nil {
		return false
	}
	fail(w)
	return true
}

func (f *fakeATC) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != "fly" || secret != "Zmx5" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "password" ||
		!strings.Contains(r.PostForm.Get("scope"), "openid") || !strings.Contains(r.PostForm.Get("scope"), "groups") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("username") != fakeUser || r.PostForm.Get("password") != fakePassword {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "access_denied"})
		return
	}
	f.mu.Lock()
	f.logins++
	tok := fmt.Sprintf("id-token-%d", f.logins)
	f.tokens[tok] = true
	f.apiCalls = 0
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": "opaque", "token_type": "bearer", "id_token": tok, "expires_in": 86399})
}

func (f *fakeATC) authorized(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && f.tokens[tok] && f.expireAfter > 0 && f.apiCalls >= f.expireAfter {
		delete(f.tokens, tok)
	}
	f.apiCalls++
	if !ok || !f.tokens[tok] {
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	return true
}

func newTestClient(t *testing.T, srv *httptest.Server, password string) *Client {
	t.Helper()
	c, err := NewClient(srv.URL+"/", fakeUser, password, srv.Client())
	require.NoError(t, err)
	return c
}

func TestClientInfo(t *testing.T) {
	t.Parallel()
	f, srv := newFakeATC(t)
	info, err := newTestClient(t, srv, fakePassword).Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Info{Version: "7.14.3", WorkerVersion: "2.5", ExternalURL: "https://ci.example.com", ClusterName: "ci"}, info)
	assert.Equal(t, 0, f.logins, "info needs no login")
}

func TestClientWorkersAndPrune(t *testing.T) {
	t.Parallel()
	f, srv := newFakeATC(t)
	c := newTestClient(t, srv, fakePassword)
	ctx := context.Background()

	workers, err := c.Workers(ctx)
	require.NoError(t, err)
	require.Len(t, workers, 3)
	byName := map[string]Worker{}
	for _, w := range workers {
		byName[w.Name] = w
	}
	assert.Equal(t, Worker{Name: "w-stalled", State: WorkerStalled, Platform: "linux", Version: "2.5", ActiveContainers: 3, Tags: []string{"t"}}, byName["w-stalled"])

	require.NoError(t, c.PruneWorker(ctx, "w-stalled"))
	require.NoError(t, c.PruneWorker(ctx, "odd/name"), "names are path-escaped")

	err = c.PruneWorker(ctx, "w-running")
	var notStalled *WorkerNotStalledError
	require.ErrorAs(t, err, &notStalled)
	assert.Equal(t, "cannot prune running worker", notStalled.Stderr)

	err = c.PruneWorker(ctx, "w-stalled")
	var notFound *WorkerNotFoundError
	require.ErrorAs(t, err, &notFound)
	assert.Equal(t, "w-stalled", notFound.Name)

	workers, err = c.Workers(ctx)
	require.NoError(t, err)
	assert.Len(t, workers, 1)
	assert.Equal(t, 1, f.logins, "one login serves every call")
}

func TestClientLogsInAgainWhenTheTokenExpires(t *testing.T) {
	t.Parallel()
	f, srv := newFakeATC(t)
	f.expireAfter = 1
	c := newTestClient(t, srv, fakePassword)
	for range 3 {
		_, err := c.Workers(context.Background())
		require.NoError(t, err)
	}
	assert.Equal(t, 3, f.logins)
}

func TestClientGivesUpOnPersistent401(t *testing.T) {
	t.Parallel()
	f, srv := newFakeATC(t)
	f.failWith = func(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }
	_, err := newTestClient(t, srv, fakePassword).Workers(context.Background())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.Equal(t, 2, f.logins, "one fresh login, then the answer stands")
}

func TestClientWrongPassword(t *testing.T) {
	t.Parallel()
	_, srv := newFakeATC(t)
	_, err := newTestClient(t, srv, "not-the-password").Workers(context.Background())
	var login *LoginError
	require.ErrorAs(t, err, &login)
	assert.Equal(t, http.StatusUnauthorized, login.Status)
	assert.Equal(t, "access_denied", login.Reason)
	assert.Equal(t, fakeUser, login.User)
	assert.NotContains(t, err.Error(), "not-the-password")
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fail  func(w http.ResponseWriter)
		check func(t *testing.T, err error)
	}{
		{"server error", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "db is down\nreally")
		}, func(t *testing.T, err error) {
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, http.StatusInternalServerError, apiErr.Status)
			assert.Equal(t, "db is down really", apiErr.Body)
			assert.Equal(t, "list workers", apiErr.Op)
		}},
		{"garbage", func(w http.ResponseWriter) { fmt.Fprint(w, "<html>proxy login</html>") }, func(t *testing.T, err error) {
			var bad *BadResponseError
			require.ErrorAs(t, err, &bad)
		}},
		{"a huge error body is cut", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, strings.Repeat("x", 10000))
		}, func(t *testing.T, err error) {
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Len(t, apiErr.Body, maxErrorBodyBytes)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFakeATC(t)
			f.failWith = c.fail
			_, err := newTestClient(t, srv, fakePassword).Workers(context.Background())
			require.Error(t, err)
			c.check(t, err)
			assert.NotContains(t, err.Error(), fakePassword)
		})
	}
}

func TestClientInfoWithoutVersion(t *testing.T) {
	t.Parallel()
	f, srv := newFakeATC(t)
	f.failWith = func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, map[string]string{"hello": "world"}) }
	_, err := newTestClient(t, srv, fakePassword).Info(context.Background())
	var bad *BadResponseError
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, "get info", bad.Op)
}

func TestClientUnreachable(t *testing.T) {
	t.Parallel()
	_, srv := newFakeATC(t)
	c := newTestClient(t, srv, fakePassword)
	srv.Close()
	_, err := c.Info(context.Background())
	var down *UnreachableError
	require.ErrorAs(t, err, &down)
	assert.Equal(t, "get info", down.Op)

	_, err = c.Workers(context.Background())
	require.ErrorAs(t, err, &down)
	assert.Equal(t, "login", down.Op)
}

func TestClientHonoursTheContext(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // answers only when the client gives up
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, fakeUser, fakePassword, srv.Client())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err = c.Info(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	var down *UnreachableError
	assert.ErrorAs(t, err, &down)
}

func TestNewClientRefusesBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ci.example.com", "ftp://ci.example.com", "http://"} {
		_, err := NewClient(u, "a", "b", nil)
		var bad *InvalidSettingError
		assert.True(t, errors.As(err, &bad), u)
	}
}
