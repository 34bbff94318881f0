package concourse

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/unitname"
)

// Proxy is the model's proxy settings, as Juju hands them to a charm.
type Proxy struct {
	HTTP    string
	HTTPS   string
	NoProxy string
}

// ProxyFromJuju reads JUJU_CHARM_HTTP_PROXY, JUJU_CHARM_HTTPS_PROXY and
// JUJU_CHARM_NO_PROXY through getenv (os.Getenv in production).
func ProxyFromJuju(getenv func(string) string) Proxy {
	return Proxy{
		HTTP:    getenv("JUJU_CHARM_HTTP_PROXY"),
		HTTPS:   getenv("JUJU_CHARM_HTTPS_PROXY"),
		NoProxy: getenv("JUJU_CHARM_NO_PROXY"),
	}
}

// InvalidSettingError: a value the charm was about to render is unusable.
// Reason says why without repeating the value.
type InvalidSettingError struct {
	Role   Role
	Key    string
	Reason string
}

func (e *InvalidSettingError) Error() string {
	return fmt.Sprintf("concourse %s: %s %s", e.Role, e.Key, e.Reason)
}

// ReleaseDefaultDir is where Concourse's containerd runtime looks for its
// init binary and CNI plugins unless told otherwise
// (worker/workercmd/worker_linux.go, ContainerdDefaults).
const ReleaseDefaultDir = "/usr/local/concourse"

// WebSettings is everything the charm decides for one `concourse web`.
type WebSettings struct {
	Ports       PortSet // web ports of this unit (PortsFor)
	ExternalURL string  // absolute http(s) URL users reach web at
	// PeerAddress is this unit's address other web units reach it at
	// (CONCOURSE_PEER_ADDRESS); needed as soon as there are two web units.
	PeerAddress string

	Postgres Postgres
	// PostgresCACertFile is where the charm wrote Postgres.CACert; required
	// when there is one (Concourse reads the CA from a file).
	PostgresCACertFile string

	SessionSigningKeyFile    string // KeyFiles.SessionSigningKey
	TSAHostKeyFile           string // KeyFiles.TSAHostKey
	AuthorizedWorkerKeysFile string // this unit's RenderAuthorizedWorkerKeys output

	AdminUser     string // local user, owner of the main team
	AdminPassword string

	ClusterName string // shown on the dashboard; optional
	LogLevel    LogLevel
	Proxy       Proxy
	Extra       map[string]string // ParseExtraEnv(RoleWeb, ...)
}

// WorkerSettings is everything the charm decides for one `concourse worker`.
type WorkerSettings struct {
	Name    string  // CONCOURSE_NAME, unique in the cluster (WorkerName)
	Ports   PortSet // worker ports of this unit (PortsFor)
	WorkDir string  // this unit's own, on a local filesystem unless the driver is naive

	TSAHosts             []string // host:port of every web unit's TSA
	TSAPublicKeyFile     string   // KeyFiles.TSAHostPublicKey (or a web app's key from the TSA relation)
	WorkerPrivateKeyFile string   // KeyFiles.WorkerKey

	Runtime            Runtime
	BaggageclaimDriver BaggageclaimDriver
	// ReleaseDir is the unpacked release's concourse/ directory (holding
	// bin/concourse). containerd's init binary and CNI plugins are pointed
	// into it unless it is ReleaseDefaultDir.
	ReleaseDir string
	Tags       []string

	LogLevel LogLevel
	Proxy    Proxy
	Extra    map[string]string // ParseExtraEnv(RoleWorker, ...)
}

// WorkerName is a worker name unique across models and applications:
// "<model>-<app>-<N>", or "<app>-<N>" without a model.
func WorkerName(model string, unit unitname.Name) string {
	if model == "" {
		return unit.Slug()
	}
	return model + "-" + unit.Slug()
}

var (
	localUser  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)
	workerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	workerTag  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
)

// renderer collects one role's variables and the first problem.
type renderer struct {
	role Role
	env  map[string]string
	err  error
}

func (r *renderer) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// set records a required value: empty is a MissingSettingError.
func (r *renderer) set(key, value string) {
	if value == "" {
		r.fail(&MissingSettingError{Role: r.role, Key: key})
		return
	}
	r.optional(key, value)
}

// optional records a value only when it is not empty.
func (r *renderer) optional(key, value string) {
	if value == "" {
		return
	}
	if strings.ContainsFunc(value, isControl) {
		r.fail(&InvalidSettingError{Role: r.role, Key: key, Reason: "contains a control character"})
		return
	}
	r.env[key] = value
}

// path records an absolute file or directory path.
func (r *renderer) path(key, p string) {
	if p != "" && (!filepath.IsAbs(p) || filepath.Clean(p) != p) {
		r.fail(&InvalidSettingError{Role: r.role, Key: key, Reason: "is not a clean absolute path"})
		return
	}
	r.set(key, p)
}

// choice records value as key when parse (ParseRuntime, ParseLogLevel,
// ...) accepts it. A generic function, as methods cannot be.
func choice[T ~string](r *renderer, key string, value T, parse func(field, s string) (T, error)) {
	if _, err := parse(key, string(value)); err != nil {
		r.fail(err)
		return
	}
	r.set(key, string(value))
}

// extra merges the operator's pass-through, which may not touch what the
// charm sets, then checks the whole environment as Concourse would.
func (r *renderer) finish(extra map[string]string) (map[string]string, error) {
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v := extra[k]
		if _, taken := r.env[k]; taken || isManaged(r.role, k) {
			r.fail(&ManagedSettingError{Role: r.role, Key: k})
			continue
		}
		r.optional(k, v)
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := CheckEnv(r.role, r.env); err != nil {
		return nil, err
	}
	return r.env, nil
}

func (p Proxy) render(r *renderer, httpKey, httpsKey, noKey string) {
	r.optional(httpKey, p.HTTP)
	r.optional(httpsKey, p.HTTPS)
	r.optional(noKey, p.NoProxy)
}

// Env renders the web settings as `concourse web` reads them. It refuses
// missing or malformed values with a typed error and never returns an
// environment CheckEnv would refuse.
func (s WebSettings) Env() (map[string]string, error) {
	r := &renderer{role: RoleWeb, env: map[string]string{}}
	for k, v := range s.Ports.Env(RoleWeb) {
		r.set(k, v)
	}
	r.set("CONCOURSE_EXTERNAL_URL", s.externalURL(r))
	r.optional("CONCOURSE_PEER_ADDRESS", s.PeerAddress)

	if err := s.Postgres.Validate(); err != nil {
		r.fail(err)
	}
	host, port, _ := s.Postgres.Primary()
	r.set("CONCOURSE_POSTGRES_HOST", host)
	r.set("CONCOURSE_POSTGRES_PORT", strconv.Itoa(port))
	r.set("CONCOURSE_POSTGRES_USER", s.Postgres.User)
	r.set("CONCOURSE_POSTGRES_PASSWORD", s.Postgres.Password)
	r.set("CONCOURSE_POSTGRES_DATABASE", s.Postgres.Database)
	r.set("CONCOURSE_POSTGRES_SSLMODE", s.Postgres.SSLMode())
	if s.Postgres.CACert != "" {
		r.path("CONCOURSE_POSTGRES_CA_CERT", s.PostgresCACertFile)
	}

	r.path("CONCOURSE_SESSION_SIGNING_KEY", s.SessionSigningKeyFile)
	r.path("CONCOURSE_TSA_HOST_KEY", s.TSAHostKeyFile)
	r.path("CONCOURSE_TSA_AUTHORIZED_KEYS", s.AuthorizedWorkerKeysFile)

	switch {
	case !localUser.MatchString(s.AdminUser):
		r.fail(&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_MAIN_TEAM_LOCAL_USER", Reason: "is not a user name (letters, digits, . _ @ -)"})
	case s.AdminPassword == "":
		r.fail(&MissingSettingError{Role: RoleWeb, Key: "CONCOURSE_ADD_LOCAL_USER"})
	case strings.ContainsAny(s.AdminPassword, ",:"):
		// The variable is a comma-separated list of user:password.
		r.fail(&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_ADD_LOCAL_USER", Reason: `has a password containing "," or ":"`})
	}
	r.set("CONCOURSE_ADD_LOCAL_USER", s.AdminUser+":"+s.AdminPassword)
	r.set("CONCOURSE_MAIN_TEAM_LOCAL_USER", s.AdminUser)

	r.optional("CONCOURSE_CLUSTER_NAME", s.ClusterName)
	choice(r, "CONCOURSE_LOG_LEVEL", s.LogLevel, ParseLogLevel)
	choice(r, "CONCOURSE_TSA_LOG_LEVEL", s.LogLevel, ParseLogLevel)
	// Go's HTTP clients in web (auth providers, credential managers,
	// resource-type checks through the API) read the upper-case names.
	s.Proxy.render(r, "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
	return r.finish(s.Extra)
}

func (s WebSettings) externalURL(r *renderer) string {
	if s.ExternalURL == "" {
		return ""
	}
	u, err := url.Parse(s.ExternalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		r.fail(&InvalidSettingError{Role: RoleWeb, Key: "CONCOURSE_EXTERNAL_URL", Reason: "is not an absolute http or https URL without user, query or fragment"})
		return ""
	}
	return strings.TrimRight(s.ExternalURL, "/")
}

// Env renders the worker settings as `concourse worker` reads them, with
// the same guarantees as WebSettings.Env.
func (s WorkerSettings) Env() (map[string]string, error) {
	r := &renderer{role: RoleWorker, env: map[string]string{}}
	if s.Name != "" && !workerName.MatchString(s.Name) {
		r.fail(&InvalidSettingError{Role: RoleWorker, Key: "CONCOURSE_NAME", Reason: "is not a worker name (letters, digits, . _ -)"})
	}
	r.set("CONCOURSE_NAME", s.Name)
	for k, v := range s.Ports.Env(RoleWorker) {
		r.set(k, v)
	}
	r.path("CONCOURSE_WORK_DIR", s.WorkDir)

	for _, h := range s.TSAHosts {
		if _, port, err := splitHostPort(h); err != nil || port == 0 {
			r.fail(&InvalidSettingError{Role: RoleWorker, Key: "CONCOURSE_TSA_HOST", Reason: fmt.Sprintf("has %q, which is not host:port", h)})
		}
	}
	r.set("CONCOURSE_TSA_HOST", strings.Join(s.TSAHosts, ","))
	r.path("CONCOURSE_TSA_PUBLIC_KEY", s.TSAPublicKeyFile)
	r.path("CONCOURSE_TSA_WORKER_PRIVATE_KEY", s.WorkerPrivateKeyFile)

	choice(r, "CONCOURSE_RUNTIME", s.Runtime, ParseRuntime)
	choice(r, "CONCOURSE_BAGGAGECLAIM_DRIVER", s.BaggageclaimDriver, ParseBaggageclaimDriver)
	if s.Runtime == RuntimeContainerd {
		// Concourse looks for these under ReleaseDefaultDir; the charm's
		// releases live elsewhere on the volume.
		switch {
		case s.ReleaseDir == "":
			r.fail(&MissingSettingError{Role: RoleWorker, Key: "CONCOURSE_CONTAINERD_INIT_BIN"})
		case s.ReleaseDir != ReleaseDefaultDir:
			r.path("CONCOURSE_CONTAINERD_INIT_BIN", filepath.Join(s.ReleaseDir, "bin", "init"))
			r.path("CONCOURSE_CONTAINERD_CNI_PLUGINS_DIR", filepath.Join(s.ReleaseDir, "bin"))
		}
	}
	for _, t := range s.Tags {
		if !workerTag.MatchString(t) {
			r.fail(&InvalidSettingError{Role: RoleWorker, Key: "CONCOURSE_TAG", Reason: fmt.Sprintf("has %q, which is not a tag (letters, digits, . _ / -)", t)})
		}
	}
	r.optional("CONCOURSE_TAG", strings.Join(s.Tags, ","))
	choice(r, "CONCOURSE_LOG_LEVEL", s.LogLevel, ParseLogLevel)
	choice(r, "CONCOURSE_BAGGAGECLAIM_LOG_LEVEL", s.LogLevel, ParseLogLevel)
	// The worker's proxy flags (env http_proxy, https_proxy, no_proxy) are
	// handed to the containers of its steps; Go's own HTTP in the worker
	// reads the same lower-case names.
	s.Proxy.render(r, "http_proxy", "https_proxy", "no_proxy")
	return r.finish(s.Extra)
}

func splitHostPort(h string) (string, int, error) {
	u, err := url.Parse("tcp://" + h)
	if err != nil || u.Hostname() == "" || u.Port() == "" || u.Path != "" || u.User != nil {
		return "", 0, fmt.Errorf("not host:port")
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("not host:port")
	}
	return u.Hostname(), port, nil
}
