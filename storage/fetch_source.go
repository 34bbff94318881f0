package storage

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// DefaultReleaseBaseURL is where Concourse publishes its releases; the charm's
// release-url option replaces it (a mirror, or a loopback server in tests).
const DefaultReleaseBaseURL = "https://github.com/concourse/concourse/releases/download"

// SidecarSuffix names the file next to a tarball whose first token is the
// tarball's SHA-1, as Concourse publishes it.
const SidecarSuffix = ".sha1"

// ReleaseAsset is the tarball's file name for v.
func ReleaseAsset(v version.Version) string {
	return "concourse-" + v.String() + "-linux-amd64.tgz"
}

// ReleaseURL is v's tarball under baseURL (DefaultReleaseBaseURL when
// empty): <base>/v<version>/concourse-<version>-linux-amd64.tgz.
func ReleaseURL(baseURL string, v version.Version) string {
	if baseURL == "" {
		baseURL = DefaultReleaseBaseURL
	}
	return strings.TrimRight(baseURL, "/") + "/v" + v.String() + "/" + ReleaseAsset(v)
}

// Source is where a release tarball comes from: an http(s) or file:// URL, or
// a local file (a Juju resource is a file path).
type Source struct {
	URL  string
	File string
}

// URLSource is the tarball at rawURL.
func URLSource(rawURL string) Source { return Source{URL: rawURL} }

// FileSource is the tarball at a local path.
func FileSource(path string) Source { return Source{File: path} }

// DefaultSource is v's tarball under baseURL.
func DefaultSource(baseURL string, v version.Version) Source {
	return URLSource(ReleaseURL(baseURL, v))
}

func (s Source) String() string {
	if s.File != "" {
		return s.File
	}
	return s.URL
}

// resolved is a Source reduced to one of two kinds: a local path or an
// http(s) URL.
type resolved struct {
	path string
	url  string
}

func (s Source) resolve() (resolved, error) {
	switch {
	case s.File != "" && s.URL != "":
		return resolved{}, fmt.Errorf("%w: both a file (%s) and a URL (%s) were given; give one", ErrBadSource, s.File, s.URL)
	case s.File != "":
		return resolved{path: s.File}, nil
	case s.URL == "":
		return resolved{}, fmt.Errorf("%w: no URL or file given", ErrBadSource)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return resolved{}, fmt.Errorf("%w: %q is not a URL: %v", ErrBadSource, s.URL, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return resolved{}, fmt.Errorf("%w: %q has no host", ErrBadSource, s.URL)
		}
		return resolved{url: s.URL}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return resolved{}, fmt.Errorf("%w: %q names a remote host; file:// URLs must be local (file:///path)", ErrBadSource, s.URL)
		}
		if u.Path == "" {
			return resolved{}, fmt.Errorf("%w: %q has no path", ErrBadSource, s.URL)
		}
		return resolved{path: u.Path}, nil
	default:
		return resolved{}, fmt.Errorf("%w: %q: scheme %q is not supported; use https://, http://, file:// or a local path", ErrBadSource, s.URL, u.Scheme)
	}
}

func (r resolved) String() string {
	if r.path != "" {
		return r.path
	}
	return r.url
}
