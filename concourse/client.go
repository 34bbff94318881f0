package concourse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// fly's OAuth2 client: fly logs in with the resource-owner password grant
// against web's token endpoint as client "fly" with secret "Zmx5" (base64
// of "fly") and these scopes; later fly versions present the returned
// id_token as the bearer token (concourse/concourse fly/commands/login.go,
// passwordGrant; the same flow appears in tools written "by observing the
// traffic of fly login").
const (
	TokenPath         = "/sky/issuer/token"
	flyClientID       = "fly"
	flyClientSecret   = "Zmx5"
	flyScopes         = "openid profile email federated:id groups"
	maxErrorBodyBytes = 512
	maxBodyBytes      = 8 << 20
)

// Info is what GET /api/v1/info answers (atc/api/infoserver).
type Info struct {
	Version       string `json:"version"`
	WorkerVersion string `json:"worker_version"`
	ExternalURL   string `json:"external_url,omitempty"`
	ClusterName   string `json:"cluster_name,omitempty"`
}

// Worker is one entry of GET /api/v1/workers (atc.Worker), the fields the
// charm uses.
type Worker struct {
	Name             string   `json:"name"`
	State            string   `json:"state"` // running, stalled, landing, landed, retiring
	Version          string   `json:"version"`
	Platform         string   `json:"platform"`
	Team             string   `json:"team"`
	Tags             []string `json:"tags"`
	Ephemeral        bool     `json:"ephemeral"`
	ActiveContainers int      `json:"active_containers"`
	ActiveVolumes    int      `json:"active_volumes"`
	StartTime        int64    `json:"start_time"`
}

// Worker states Concourse reports.
const (
	WorkerRunning  = "running"
	WorkerStalled  = "stalled"
	WorkerLanding  = "landing"
	WorkerLanded   = "landed"
	WorkerRetiring = "retiring"
)

// Client talks to one Concourse web as a local user, the way fly does.
// It is safe for concurrent use.
type Client struct {
	base     *url.URL
	http     *http.Client
	user     string
	password string

	mu    sync.Mutex
	token string
}

// NewClient makes a client for the web at baseURL (its external URL or a
// unit's own address). httpClient may be nil for http.DefaultClient; its
// timeouts bound every request.
func NewClient(baseURL, user, password string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &InvalidSettingError{Role: RoleWeb, Key: "API URL", Reason: "is not an absolute http or https URL"}
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: u, http: httpClient, user: user, password: password}, nil
}

// APIError: web answered with an unexpected HTTP status. Body is the start
// of its answer, for the operator.
type APIError struct {
	Op     string // e.g. "list workers"
	URL    string
	Status int
	Body   string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("concourse API %s: %s answered %d %s", e.Op, e.URL, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// LoginError: web refused the local user's password grant (wrong user or
// password, or local users disabled). Status is the token endpoint's
// answer.
type LoginError struct {
	URL    string
	User   string
	Status int
	Reason string // the OAuth2 error code, e.g. "invalid_grant", when given
}

func (e *LoginError) Error() string {
	msg := fmt.Sprintf("concourse refused the login of user %q at %s (%d %s)", e.User, e.URL, e.Status, http.StatusText(e.Status))
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// UnreachableError: the request did not get an HTTP answer (connection
// refused, DNS, timeout, ctx cancelled).
type UnreachableError struct {
	Op  string
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("concourse API %s: %s: %v", e.Op, e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// BadResponseError: web answered 2xx with a body that is not what its API
// returns.
type BadResponseError struct {
	Op  string
	URL string
	Err error
}

func (e *BadResponseError) Error() string {
	return fmt.Sprintf("concourse API %s: %s answered something unexpected: %v", e.Op, e.URL, e.Err)
}

func (e *BadResponseError) Unwrap() error { return e.Err }

// WorkerNotFoundError: no worker of that name is registered.
type WorkerNotFoundError struct{ Name string }

func (e *WorkerNotFoundError) Error() string {
	return fmt.Sprintf("concourse has no worker named %q", e.Name)
}

// WorkerNotStalledError: web refuses to prune a worker that is not
// stalled ("cannot prune running worker").
type WorkerNotStalledError struct {
	Name   string
	Stderr string // web's own words
}

func (e *WorkerNotStalledError) Error() string {
	return fmt.Sprintf("concourse refuses to prune worker %q: %s", e.Name, e.Stderr)
}

// Info asks web who it is (no login needed).
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	err := c.do(ctx, "get info", http.MethodGet, "/api/v1/info", false, func(resp *http.Response) error {
		if resp.StatusCode != http.StatusOK {
			return c.statusError("get info", resp)
		}
		if err := decode(resp.Body, &info); err != nil {
			return err
		}
		if info.Version == "" {
			return errors.New("no version in the answer")
		}
		return nil
	})
	return info, err
}

// Workers lists the registered workers (all of them for a main-team
// owner, which the charm's admin user is).
func (c *Client) Workers(ctx context.Context) ([]Worker, error) {
	var workers []Worker
	err := c.do(ctx, "list workers", http.MethodGet, "/api/v1/workers", true, func(resp *http.Response) error {
		if resp.StatusCode != http.StatusOK {
			return c.statusError("list workers", resp)
		}
		return decode(resp.Body, &workers)
	})
	return workers, err
}

// PruneWorker removes a stalled worker's registration, as
// `fly prune-worker -w NAME` does (PUT /api/v1/workers/NAME/prune).
func (c *Client) PruneWorker(ctx context.Context, name string) error {
	path := "/api/v1/workers/" + url.PathEscape(name) + "/prune"
	return c.do(ctx, "prune worker", http.MethodPut, path, true, func(resp *http.Response) error {
		switch resp.StatusCode {
		case http.StatusOK:
			return nil
		case http.StatusNotFound:
			return &WorkerNotFoundError{Name: name}
		case http.StatusBadRequest:
			var body struct {
				Stderr string `json:"stderr"`
			}
			if decode(resp.Body, &body) == nil && body.Stderr != "" {
				return &WorkerNotStalledError{Name: name, Stderr: body.Stderr}
			}
		}
		return c.statusError("prune worker", resp)
	})
}

// do sends one request; with auth it logs in first when there is no token
// and once more when web answers 401 (the token expired).
func (c *Client) do(ctx context.Context, op, method, path string, auth bool, handle func(*http.Response) error) error {
	for attempt := 0; ; attempt++ {
		token := ""
		if auth {
			var err error
			if token, err = c.ensureToken(ctx, attempt > 0); err != nil {
				return err
			}
		}
		resp, err := c.send(ctx, op, method, path, token)
		if err != nil {
			return err
		}
		if auth && resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			drain(resp)
			continue
		}
		err = handle(resp)
		drain(resp)
		if err == nil || isTyped(err) {
			return err
		}
		return &BadResponseError{Op: op, URL: c.url(path), Err: err}
	}
}

// isTyped reports errors that already say what happened.
func isTyped(err error) bool {
	var (
		api        *APIError
		notFound   *WorkerNotFoundError
		notStalled *WorkerNotStalledError
	)
	return errors.As(err, &api) || errors.As(err, &notFound) || errors.As(err, &notStalled)
}

func (c *Client) url(path string) string { return c.base.String() + path }

func (c *Client) send(ctx context.Context, op, method, path, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), nil)
	if err != nil {
		return nil, fmt.Errorf("concourse API %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &UnreachableError{Op: op, URL: c.url(path), Err: err}
	}
	return resp, nil
}

func (c *Client) ensureToken(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && !renew {
		return c.token, nil
	}
	token, err := c.login(ctx)
	if err != nil {
		return "", err
	}
	c.token = token
	return token, nil
}

// login is fly's password grant (see TokenPath).
func (c *Client) login(ctx context.Context) (string, error) {
	form := url.Values{
		"grant_type": {"password"},
		"username":   {c.user},
		"password":   {c.password},
		"scope":      {flyScopes},
	}
	target := c.url(TokenPath)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("concourse login: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(flyClientID, flyClientSecret)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", &UnreachableError{Op: "login", URL: target, Err: err}
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		var oauthErr struct {
			Error string `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		_ = json.Unmarshal(body, &oauthErr)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusForbidden {
			return "", &LoginError{URL: target, User: c.user, Status: resp.StatusCode, Reason: oauthErr.Error}
		}
		return "", &APIError{Op: "login", URL: target, Status: resp.StatusCode, Body: sanitizeBody(body)}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
		TokenType   string `json:"token_type"`
	}
	if err := decode(resp.Body, &tok); err != nil {
		return "", &BadResponseError{Op: "login", URL: target, Err: err}
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return "", &BadResponseError{Op: "login", URL: target, Err: fmt.Errorf("token type %q is not bearer", tok.TokenType)}
	}
	if tok.IDToken != "" {
		return tok.IDToken, nil
	}
	if tok.AccessToken != "" {
		return tok.AccessToken, nil
	}
	return "", &BadResponseError{Op: "login", URL: target, Err: errors.New("no token in the answer")}
}

func (c *Client) statusError(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	return &APIError{Op: op, URL: resp.Request.URL.String(), Status: resp.StatusCode, Body: sanitizeBody(body)}
}

// sanitizeBody keeps the start of an error body on one line.
func sanitizeBody(body []byte) string {
	s := strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, string(body))
	return strings.TrimSpace(s)
}

func decode(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, maxBodyBytes))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}

// drain reads what is left so the connection can be reused, then closes.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
	resp.Body.Close()
}
