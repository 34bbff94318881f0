package charm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
)

// Mode says which Concourse roles the application's units take.
type Mode string

// Modes (config `mode`).
const (
	// ModeAuto: the leader runs web, the other units run workers.
	ModeAuto   Mode = "auto"
	ModeWeb    Mode = "web"
	ModeWorker Mode = "worker"
	// ModeAll: web and a worker on every unit.
	ModeAll Mode = "all"
)

// SharedStorage is config `shared-storage`.
type SharedStorage string

// Sharing modes.
const (
	// SharedAuto proves sharing with the volume token and falls back to a
	// unit's own copy where the location is not shared.
	SharedAuto SharedStorage = "auto"
	// SharedNone gives every unit its own copy (a subdirectory of the
	// location per unit), whether the location is shared or not.
	SharedNone SharedStorage = "none"
)

// DefaultReleaseURL is where Concourse publishes its release tarballs.
const DefaultReleaseURL = "https://github.com/concourse/concourse/releases/download/v{version}/concourse-{version}-linux-amd64.tgz"

// Config is the charm's configuration, parsed and checked once per hook.
type Config struct {
	Mode                 Mode
	Version              version.Version
	SharedStorage        SharedStorage
	ReleaseURL           string // contains {version}
	ReleaseSHA256        string // lower-case hex, or ""
	ReleaseSpace         int64  // bytes an install needs free; 0: estimate
	KeepReleases         int
	PrepareTimeout       time.Duration
	DrainTimeout         time.Duration
	WebPort              int
	ExternalURL          string
	InitialAdminUsername string
	WorkerRuntime        string
	BaggageclaimDriver   string
	LogLevel             string
	ClusterName          string
	WorkerTags           []string
	// WebExtra and WorkerExtra are the operator's pass-through CONCOURSE_*
	// settings (web-environment, worker-environment), checked.
	WebExtra    map[string]string
	WorkerExtra map[string]string
}

// DefaultConfig is what config.yaml declares as defaults.
func DefaultConfig() map[string]any {
	return map[string]any{
		"mode":                   string(ModeAuto),
		"version":                "7.14.3",
		"shared-storage":         string(SharedAuto),
		"release-url":            DefaultReleaseURL,
		"release-sha256":         "",
		"release-space":          "",
		"keep-releases":          2,
		"prepare-timeout":        "10m",
		"drain-timeout":          "10m",
		"web-port":               8080,
		"external-url":           "",
		"initial-admin-username": "admin",
		"worker-runtime":         "containerd",
		"baggageclaim-driver":    "detect",
		"log-level":              "info",
		"cluster-name":           "",
		"worker-tags":            "",
		"web-environment":        "",
		"worker-environment":     "",
	}
}

// ConfigError names an option whose value the charm refuses. An option
// that may hold secrets (web-environment, worker-environment) carries the
// reason in Err and its value is never repeated.
type ConfigError struct {
	Option  string
	Value   string
	Problem string
	Err     error
}

func (e *ConfigError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("config %s: %v", e.Option, e.Err)
	}
	return fmt.Sprintf("config %s=%q %s", e.Option, e.Value, e.Problem)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// ParseConfig reads config-get's answer. Every refused option is reported
// (errors.Join of *ConfigError); nothing acts on a refused configuration.
func ParseConfig(raw map[string]any) (Config, error) {
	c, _, err := parseConfig(raw)
	return c, err
}

// parseConfig is ParseConfig, also saying which options it read.
func parseConfig(raw map[string]any) (Config, map[string]bool, error) {
	p := configParser{raw: raw}
	c := Config{
		Mode:                 Mode(p.oneOf("mode", string(ModeAuto), string(ModeWeb), string(ModeWorker), string(ModeAll))),
		SharedStorage:        SharedStorage(p.oneOf("shared-storage", string(SharedAuto), string(SharedNone))),
		ReleaseURL:           p.releaseURL("release-url"),
		ReleaseSHA256:        p.sha256("release-sha256"),
		ReleaseSpace:         p.size("release-space"),
		KeepReleases:         p.intIn("keep-releases", 1, 100),
		PrepareTimeout:       p.duration("prepare-timeout", time.Minute, "give the drain of a busy worker time; at least 1m"),
		DrainTimeout:         p.duration("drain-timeout", services.MinDrainTimeout, fmt.Sprintf("at least %s: an idle worker needs up to a minute to land, so a shorter drain kills workers and strands builds", services.MinDrainTimeout)),
		WebPort:              p.intIn("web-port", 1, 65535),
		ExternalURL:          p.externalURL("external-url"),
		InitialAdminUsername: p.username("initial-admin-username"),
		WorkerRuntime:        p.oneOf("worker-runtime", "containerd", "guardian", "houdini"),
		BaggageclaimDriver:   p.oneOf("baggageclaim-driver", "detect", "overlay", "btrfs", "naive"),
		LogLevel:             p.oneOf("log-level", "debug", "info", "error", "fatal"),
		ClusterName:          p.line("cluster-name"),
		WorkerTags:           p.tags("worker-tags"),
		WebExtra:             p.extraEnv("web-environment", concourse.RoleWeb),
		WorkerExtra:          p.extraEnv("worker-environment", concourse.RoleWorker),
	}
	if v := p.str("version"); v != "" {
		parsed, err := version.Parse(v)
		if err != nil {
			p.fail("version", v, "is not a Concourse release version: "+err.(*version.Error).Reason)
		}
		c.Version = parsed
	} else {
		p.fail("version", v, "is empty: name the Concourse release to run, e.g. 7.14.3")
	}
	if c.WebPort == 2222 {
		p.fail("web-port", "2222", "is the TSA's port: pick another")
	}
	if err := errors.Join(p.errs...); err != nil {
		return Config{}, p.read, err
	}
	return c, p.read, nil
}

type configParser struct {
	raw  map[string]any
	errs []error
	// read records every option parsed, for the test that holds the
	// code and charmcraft.yaml to the same list.
	read map[string]bool
}

func (p *configParser) fail(option, value, problem string) {
	p.errs = append(p.errs, &ConfigError{Option: option, Value: value, Problem: problem})
}

// value returns the raw value, or the declared default when Juju left the
// option out.
func (p *configParser) value(option string) any {
	if p.read == nil {
		p.read = map[string]bool{}
	}
	p.read[option] = true
	if v, ok := p.raw[option]; ok && v != nil {
		return v
	}
	return DefaultConfig()[option]
}

func (p *configParser) str(option string) string {
	switch v := p.value(option).(type) {
	case string:
		return v
	default:
		p.fail(option, fmt.Sprint(v), "is not a string")
		return ""
	}
}

func (p *configParser) oneOf(option string, allowed ...string) string {
	v := p.str(option)
	if !slices.Contains(allowed, v) {
		p.fail(option, v, "is not one of "+strings.Join(allowed, ", "))
	}
	return v
}

func (p *configParser) intIn(option string, lo, hi int) int {
	var n int64
	var err error
	switch v := p.value(option).(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	case float64:
		if v != math.Trunc(v) {
			err = errors.New("not whole")
		}
		n = int64(v)
	case json.Number:
		n, err = v.Int64()
	case string:
		n, err = strconv.ParseInt(v, 10, 64)
	default:
		err = errors.New("not a number")
	}
	raw := fmt.Sprint(p.value(option))
	if err != nil {
		p.fail(option, raw, "is not a whole number")
		return 0
	}
	if n < int64(lo) || n > int64(hi) {
		p.fail(option, raw, fmt.Sprintf("is not between %d and %d", lo, hi))
		return 0
	}
	return int(n)
}

func (p *configParser) duration(option string, least time.Duration, why string) time.Duration {
	v := p.str(option)
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.fail(option, v, "is not a duration like 10m or 90s")
	case d < least:
		p.fail(option, v, "is too short: "+why)
	}
	return d
}

func (p *configParser) releaseURL(option string) string {
	v := p.str(option)
	u, err := url.Parse(strings.ReplaceAll(v, "{version}", "7.0.0"))
	switch {
	case !strings.Contains(v, "{version}"):
		p.fail(option, v, "must contain {version}, which the charm replaces with the release, e.g. "+DefaultReleaseURL)
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		p.fail(option, v, "is not an http(s) URL")
	}
	return v
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (p *configParser) sha256(option string) string {
	v := strings.ToLower(strings.TrimSpace(p.str(option)))
	if v != "" && !sha256Pattern.MatchString(v) {
		p.fail(option, v, "is not a SHA-256 digest (64 hex digits), as `sha256sum` prints it")
	}
	return v
}

func (p *configParser) size(option string) int64 {
	v := strings.TrimSpace(p.str(option))
	if v == "" {
		return 0
	}
	// The one parser of amounts (binary units, as Juju's constraints):
	// the CLI's --space-needed reads the same way.
	n, err := bytesize.Parse(v)
	if err != nil {
		reason := err.Error()
		if e, ok := errors.AsType[*bytesize.Error](err); ok {
			reason = e.Reason
		}
		p.fail(option, v, "is not a size like 800M or 2GiB: "+reason)
		return 0
	}
	return n
}

func (p *configParser) externalURL(option string) string {
	v := p.str(option)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		p.fail(option, v, "is not an http(s) URL like https://ci.example.com")
	}
	return strings.TrimRight(v, "/")
}

var usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

func (p *configParser) username(option string) string {
	v := p.str(option)
	if !usernamePattern.MatchString(v) {
		p.fail(option, v, "is not a user name (letters, digits, . _ -)")
	}
	return v
}

// line is a one-line text option.
func (p *configParser) line(option string) string {
	v := strings.TrimSpace(p.str(option))
	if strings.ContainsFunc(v, unicode.IsControl) {
		p.fail(option, v, "contains a control character")
	}
	return v
}

// tags is a comma-separated list of worker tags.
func (p *configParser) tags(option string) []string {
	var tags []string
	for _, t := range strings.Split(p.str(option), ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
		case strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
			p.fail(option, t, "is not a tag: tags are separated by commas and hold no spaces")
		case !slices.Contains(tags, t):
			tags = append(tags, t)
		}
	}
	return tags
}

// extraEnv is a pass-through of CONCOURSE_* settings for role; its value
// is never repeated in an error (it may hold secrets).
func (p *configParser) extraEnv(option string, role concourse.Role) map[string]string {
	env, err := concourse.ParseExtraEnv(role, p.str(option))
	if err != nil {
		p.errs = append(p.errs, &ConfigError{Option: option, Err: err})
	}
	return env
}
