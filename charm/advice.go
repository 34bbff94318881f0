package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/bytesize"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
)

// This file is the one place where errors become advice for operators. The
// lower rooms return typed errors that say what happened; each kind has its
// line here, with the command to run where there is one. advice_test.go
// checks every kind against its line, and that every line fits `juju
// status` whole: values (URLs, paths, log lines) are shortened, never the
// command.

// advice is one kind of error and how to tell the operator about it.
type advice struct {
	// kind is the error kind's name, for the table test.
	kind string
	// match reports whether err is of this kind.
	match func(err error) bool
	state relation.StatusState
	// line says what happened and what to do.
	line func(err error, s scene) string
}

// scene is whom a line is for and what the failed work was about: the
// application and unit the commands name, and the release a *StageError
// was getting ready.
type scene struct {
	app string
	// unit is "" outside a hook (the CLI): lines then name APP/N.
	unit    string
	release version.Version
	// width is what a line must fit in: Juju's status width in a hook,
	// none (0) on a terminal.
	width int
}

// anyUnit names the unit for a command.
func (s scene) anyUnit() string {
	if s.unit != "" {
		return s.unit
	}
	return s.app + "/N"
}

// releaseName is "Concourse V", or "the release" when not known.
func (s scene) releaseName() string {
	if s.release.IsZero() {
		return "the release"
	}
	return "Concourse " + s.release.String()
}

// as builds a matcher for a typed error.
func as[T error]() func(error) bool {
	return func(err error) bool {
		var target T
		return errors.As(err, &target)
	}
}

// is builds a matcher for a sentinel.
func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// asWhere builds a matcher for a typed error that also satisfies cond.
func asWhere[T error](cond func(T) bool) func(error) bool {
	return func(err error) bool {
		var target T
		return errors.As(err, &target) && cond(target)
	}
}

// unwrapAs returns err's first error of type T.
func unwrapAs[T error](err error) T {
	var target T
	errors.As(err, &target)
	return target
}

// adviceTable lists every error kind the charm explains, most specific
// first: an error that wraps another (a *StageError its cause, a
// *DownloadError its HTTP status) meets the more specific entry first.
func adviceTable() []advice {
	var table []advice
	for _, part := range [][]advice{
		charmAdvice(), lockAdvice(), downloadAdvice(), archiveAdvice(), volumeAdvice(),
		servicesAdvice(), wrapperAdvice(), wiringAdvice(), opsAdvice(), toolAdvice(),
	} {
		table = append(table, part...)
	}
	return table
}

// charmAdvice explains the operator's own requests: configuration,
// actions, the upgrade record.
func charmAdvice() []advice {
	return []advice{
		{"ConfigError/pass-through", asWhere(func(e *ConfigError) bool { return e.Err != nil }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*ConfigError](err)
			return fmt.Sprintf("Fix juju config %s %s: %s", s.app, e.Option, passThroughProblem(e.Err))
		}},
		{"ConfigError", as[*ConfigError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*ConfigError](err)
			return s.squeeze("config %s=%s %s; fix it: juju config %s %s=...", keep(e.Option), fmt.Sprintf("%q", e.Value), e.Problem, keep(s.app), keep(e.Option))
		}},
		{"NoStorageError", as[*NoStorageError](), relation.Blocked, func(err error, s scene) string {
			return fmt.Sprintf("No %s storage: juju add-storage %s %s (mount the shared filesystem there)", StorageName, s.anyUnit(), StorageName)
		}},
		{"DecodeError/newer", asWhere(func(e *fsm.DecodeError) bool { return e.Kind == fsm.DecodeNewer }), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("%s; a newer charm wrote it: juju refresh %s to that revision", err.Error(), keep(s.app))
		}},
		{"DecodeError/malformed", as[*fsm.DecodeError](), relation.Blocked, func(err error, s scene) string {
			de := unwrapAs[*fsm.DecodeError](err)
			return s.squeeze("%s; put key %s back as the charm wrote it (juju exec on the owner: relation-set)", err.Error(), keep(de.Key))
		}},
		{"BagError", as[*relation.BagError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*relation.BagError](err)
			return s.squeeze("Peer data of %s unreadable (%s): it is left alone until its owner writes it again", e.Owner, fmt.Sprint(e.Err))
		}},
		{"NotLeaderError", as[*NotLeaderError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*NotLeaderError](err)
			return fmt.Sprintf("%s: juju run %s/leader %s", err, s.app, e.Action)
		}},
		{"InvalidEventError", as[*fsm.InvalidEventError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*fsm.InvalidEventError](err)
			actions := e.AllowedActions()
			if len(actions) == 0 {
				return fmt.Sprintf("%s is not possible in phase %s; it moves on by itself: watch juju status %s", eventAction(e.Event), e.State, s.app)
			}
			runs := make([]string, len(actions))
			for i, a := range actions {
				runs[i] = fmt.Sprintf("juju run %s/leader %s", s.app, a)
			}
			return fmt.Sprintf("%s is not possible in phase %s; possible now: %s", eventAction(e.Event), e.State, strings.Join(runs, " or "))
		}},
		{"SameVersionError", as[*fsm.SameVersionError](), relation.Active, func(err error, s scene) string {
			return err.Error() + ": nothing to do"
		}},
		{"NoReleaseError", as[*fsm.NoReleaseError](), relation.Waiting, func(err error, s scene) string {
			return fmt.Sprintf("No release is settled yet, so nothing to upgrade from: wait until juju status %s shows it installed", s.app)
		}},
		{"InvalidRequestError", as[*fsm.InvalidRequestError](), relation.Blocked, func(err error, s scene) string {
			return err.Error()
		}},
		{"ParamError", as[*ParamError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*ParamError](err)
			if v := unwrapAs[*version.Error](err); v != nil {
				const format = "%s=%s is not a Concourse release version%s: juju run %s/leader upgrade %s=7.14.3"
				value := fmt.Sprintf("%q", e.Value)
				return s.first(
					s.squeeze(format, keep(e.Param), value, " ("+v.Reason+")", keep(s.app), keep(e.Param)),
					s.squeeze(format, keep(e.Param), value, keep(""), keep(s.app), keep(e.Param)))
			}
			return s.squeeze("%s; e.g. juju run %s/leader upgrade %s=7.14.3", err.Error(), keep(s.app), keep(e.Param))
		}},
		{"ReleaseNotReadyError", as[*ReleaseNotReadyError](), relation.Waiting, func(err error, s scene) string {
			return err.Error() + "; it is downloaded on this unit's next hook"
		}},
		{"NotReadyError", as[*NotReadyError](), relation.Waiting, func(err error, s scene) string {
			return err.Error()
		}},
	}
}

// lockAdvice explains a volume lock another unit holds. The lock is never
// taken from its holder: the kernel frees it when the holder's process
// ends, and the next holder cleans up after it.
func lockAdvice() []advice {
	stuck := func(l *storage.LockedError) bool { return l != nil && l.Stuck }
	return []advice{
		{"StillWaitingError/stuck", asWhere(func(e *StillWaitingError) bool { return stuck(e.Locked) }), relation.Blocked, func(err error, s scene) string {
			return lockLine(unwrapAs[*StillWaitingError](err).Locked, s)
		}},
		{"StillWaitingError", as[*StillWaitingError](), relation.Waiting, func(err error, s scene) string {
			return lockLine(unwrapAs[*StillWaitingError](err).Locked, s)
		}},
		{"LockedError/stuck", asWhere(stuck), relation.Blocked, func(err error, s scene) string {
			return lockLine(unwrapAs[*storage.LockedError](err), s)
		}},
		{"LockedError", as[*storage.LockedError](), relation.Waiting, func(err error, s scene) string {
			return lockLine(unwrapAs[*storage.LockedError](err), s)
		}},
	}
}

// lockLine says who holds the volume lock and, when its install is stuck,
// how to end it without taking the lock.
func lockLine(l *storage.LockedError, s scene) string {
	if l == nil {
		return "Waiting for the volume lock"
	}
	p := l.Progress
	switch {
	case p != nil && l.Stuck:
		pid, where := p.PID, ""
		if l.Holder != nil && l.Holder.Host != "" {
			pid, where = l.Holder.PID, " on "+l.Holder.Host
		}
		return s.squeeze("Install of %s by %s stuck %s: pid %d%s hung? Kill it; never rm .lock",
			keep(p.Version.String()), p.Unit, keep(age(l.At.Sub(p.Started))), pid, where)
	case p != nil:
		return s.squeeze("Waiting for the volume lock: %s has been installing %s for %s; this unit goes on after it",
			p.Unit, keep(p.Version.String()), keep(age(l.At.Sub(p.Started))))
	case l.Holder != nil && !l.Holder.Since.IsZero():
		h := l.Holder
		return s.squeeze("Waiting for the volume lock: %s (pid %d on %s) has held it for %s", h.Unit, h.PID, h.Host, keep(age(l.At.Sub(h.Since))))
	case l.Holder != nil:
		return s.squeeze("Waiting for the volume lock, held by %s (pid %d on %s)", l.Holder.Unit, l.Holder.PID, l.Holder.Host)
	}
	return "Waiting for the volume lock, held by a process that has not said who it is"
}

// downloadAdvice explains a release that could not be fetched or vouched
// for. Only a failure of the network itself gets proxy advice: a 404 is
// the version or the URL.
func downloadAdvice() []advice {
	status := func(match func(int) bool) func(error) bool {
		return asWhere(func(e *storage.HTTPStatusError) bool { return match(e.Status) })
	}
	return []advice{
		{"HTTPStatusError/404", status(func(c int) bool { return c == http.StatusNotFound || c == http.StatusGone }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.HTTPStatusError](err)
			return s.squeeze("HTTP %d: no %s at %s. Check version, or juju config %s release-url=...", e.Status, release(e.URL, s), hostOf(e.URL), keep(s.app))
		}},
		{"HTTPStatusError/proxy-auth", status(func(c int) bool { return c == http.StatusProxyAuthRequired }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.HTTPStatusError](err)
			return s.squeeze("Proxy auth failed (HTTP 407) for %s: juju model-config %s=http://U:P@HOST:PORT", hostOf(e.URL), keep(proxyKey(e.URL)))
		}},
		{"HTTPStatusError/denied", status(func(c int) bool { return c == http.StatusUnauthorized || c == http.StatusForbidden }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.HTTPStatusError](err)
			return s.squeeze("HTTP %d for %s at %s: use a mirror: juju config %s release-url=...", e.Status, release(e.URL, s), hostOf(e.URL), keep(s.app))
		}},
		{"HTTPStatusError/server", status(func(c int) bool { return c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout }), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*storage.HTTPStatusError](err)
			return s.squeeze("HTTP %d for %s at %s%s; the next hook tries again", e.Status, release(e.URL, s), hostOf(e.URL), keep(attempts(err)))
		}},
		{"HTTPStatusError", as[*storage.HTTPStatusError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.HTTPStatusError](err)
			return s.squeeze("HTTP %d for %s: check juju config %s release-url", e.Status, shortURL(e.URL), keep(s.app))
		}},
		{"ReadTimeoutError", as[*storage.ReadTimeoutError](), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*storage.ReadTimeoutError](err)
			src := sourceOf(err)
			return s.squeeze("%s stalled: no data for %s after %s%s. Check juju model-config %s",
				release(src, s), keep(e.After.String()), keep(bytesize.Format(e.Done)), keep(attempts(err)), keep(proxyKey(src)))
		}},
		{"DownloadError/network", func(err error) bool { return networkFailure(err) != "" }, relation.Blocked, func(err error, s scene) string {
			src := sourceOf(err)
			if proxyFailed(err) {
				return s.squeeze("Cannot reach the proxy for %s (%s%s): fix juju model-config %s", hostOf(src), keep(networkFailure(err)), keep(attempts(err)), keep(proxyKey(src)))
			}
			return s.squeeze("Cannot reach %s (%s%s). Proxy? juju model-config %s=http://HOST:PORT", hostOf(src), keep(networkFailure(err)), keep(attempts(err)), keep(proxyKey(src)))
		}},
		{"DownloadError", as[*storage.DownloadError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.DownloadError](err)
			return s.squeeze("Download of %s failed: %s", shortURL(e.Source), causeOf(e.Err))
		}},
		{"NoChecksumError", as[*storage.NoChecksumError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.NoChecksumError](err)
			if !strings.HasPrefix(e.Source, "http") {
				return s.squeeze("No .sha1 beside %s: pin it: juju config %s release-sha256=...", e.Source, keep(s.app))
			}
			if why := fmt.Sprint(e.Err); why != "not published" {
				return s.squeeze("%s: bad .sha1 (%s); pin it: juju config %s release-sha256=...", release(e.Source, s), why, keep(s.app))
			}
			return s.squeeze("No .sha1 for %s: wrong version? Else pin: juju config %s release-sha256=...", release(e.Source, s), keep(s.app))
		}},
		{"ChecksumMismatchError/pin", asWhere(func(e *storage.ChecksumMismatchError) bool { return e.Algorithm == "sha256" }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.ChecksumMismatchError](err)
			return s.squeeze("%s fails release-sha256: fix the mirror, or juju config %s release-sha256=...", release(e.Source, s), keep(s.app))
		}},
		{"ChecksumMismatchError", as[*storage.ChecksumMismatchError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.ChecksumMismatchError](err)
			return s.squeeze("%s fails its .%s (other bytes): fix the mirror, or juju config %s --reset release-url",
				release(e.Source, s), keep(e.Algorithm), keep(s.app))
		}},
		{"ErrBadSource", is(storage.ErrBadSource), relation.Blocked, func(err error, s scene) string {
			_, why, _ := strings.Cut(err.Error(), storage.ErrBadSource.Error()+": ")
			return s.squeeze("Release source unusable: %s. Fix juju config %s release-url=...", why, keep(s.app))
		}},
		{"ValueError/pin", asWhere(func(e *storage.ValueError) bool { return e.Field == storage.FieldPin }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.ValueError](err)
			return s.squeeze("SHA-256 pin %s %s: juju config %s release-sha256=<64 hex digits>", fmt.Sprintf("%q", e.Value), e.Reason, keep(s.app))
		}},
	}
}

// networkFailure names what went wrong on the network for a download:
// refused, DNS, timeouts, unreachable networks. "" when it was not the
// network (a status, a bad URL, TLS).
func networkFailure(err error) string {
	if _, ok := errors.AsType[*storage.DownloadError](err); !ok {
		return ""
	}
	var dns *net.DNSError
	var netErr net.Error
	var op *net.OpError
	switch {
	case errors.As(err, &dns) && dns.IsTimeout:
		return "DNS timed out"
	case errors.As(err, &dns):
		return "no such host"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.As(err, &op):
		return "network error"
	}
	return ""
}

// causeOf is what a failed request says, without the request that
// net/http repeats in front of it.
func causeOf(err error) string {
	if u := unwrapAs[*url.Error](err); u != nil {
		return u.Err.Error()
	}
	return err.Error()
}

// proxyFailed says the connection to the proxy itself failed.
func proxyFailed(err error) bool {
	op := unwrapAs[*net.OpError](err)
	return op != nil && op.Op == "proxyconnect"
}

// sourceOf is the URL or file a download was about.
func sourceOf(err error) string {
	if e := unwrapAs[*storage.DownloadError](err); e != nil {
		return e.Source
	}
	if e := unwrapAs[*storage.HTTPStatusError](err); e != nil {
		return e.URL
	}
	return ""
}

// attempts is ", N tries" when a download was tried more than once.
func attempts(err error) string {
	if e := unwrapAs[*storage.DownloadError](err); e != nil && e.Attempts > 1 {
		return fmt.Sprintf(", %d tries", e.Attempts)
	}
	return ""
}

// proxyKey is the model-config key of the proxy a URL goes through.
func proxyKey(rawURL string) string {
	if strings.HasPrefix(rawURL, "http://") {
		return "juju-http-proxy"
	}
	return "juju-https-proxy"
}

// archiveAdvice explains a release that arrived but cannot be used: not an
// archive, cut short, hostile, too big for the volume, or not a binary
// that runs here.
func archiveAdvice() []advice {
	table := []advice{
		{"CorruptArchiveError", as[*storage.CorruptArchiveError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.CorruptArchiveError](err)
			return s.squeeze("%s is not a .tgz (%s): juju config %s --reset release-url", release(e.Source, s), fmt.Sprint(e.Err), keep(s.app))
		}},
		{"TruncatedArchiveError", as[*storage.TruncatedArchiveError](), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*storage.TruncatedArchiveError](err)
			return s.squeeze("%s cut off at %s (%d tries); retried next hook. Repeats? Check juju model-config %s",
				release(e.Source, s), keep(bytesize.Format(e.Received)), e.Attempts, keep(proxyKey(e.Source)))
		}},
	}
	for _, h := range []struct {
		kind   string
		reason error
		what   string
	}{
		{"absolute-path", storage.ErrAbsolutePath, "absolute path"},
		{"path-traversal", storage.ErrPathTraversal, `".." in path`},
		{"bad-entry-name", storage.ErrBadEntryName, "unusable name"},
		{"link-escapes", storage.ErrLinkEscapes, "link leaves release"},
		{"link-target", storage.ErrLinkTarget, "hard link, no target"},
		{"through-symlink", storage.ErrThroughSymlink, "through a symlink"},
		{"special-file", storage.ErrSpecialFile, "device or fifo"},
		{"unsupported-entry", storage.ErrUnsupportedEntry, "unsupported type"},
		{"setuid", storage.ErrSetuidBit, "setuid/setgid"},
		{"duplicate-entry", storage.ErrDuplicateEntry, "appears twice"},
		{"too-large", storage.ErrArchiveTooLarge, "over the size limit"},
		{"too-many-entries", storage.ErrTooManyEntries, "too many entries"},
	} {
		table = append(table, advice{"HostileArchiveError/" + h.kind, asWhere(func(e *storage.HostileArchiveError) bool { return errors.Is(e.Reason, h.reason) }), relation.Blocked,
			func(err error, s scene) string {
				return hostileLine(unwrapAs[*storage.HostileArchiveError](err), h.what, s)
			}})
	}
	return append(table,
		advice{"HostileArchiveError", as[*storage.HostileArchiveError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.HostileArchiveError](err)
			return hostileLine(e, fmt.Sprint(e.Reason), s)
		}},
		advice{"NoSpaceError/marker", asWhere(func(e *storage.NoSpaceError) bool { return e.File != "" }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.NoSpaceError](err)
			return s.squeeze("Volume full writing %s (%s free): grow the volume", filepath.Join(e.Path, e.File), keep(freeSpace(e.Free)))
		}},
		advice{"NoSpaceError/filled", asWhere(func(e *storage.NoSpaceError) bool { return e.Err != nil }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.NoSpaceError](err)
			return s.squeeze("Volume full after %s of %s (needs %s, %s free): grow the volume",
				keep(bytesize.Format(e.Written)), keep(s.releaseName()), keep(need(e)), keep(freeSpace(e.Free)))
		}},
		advice{"NoSpaceError/configured", asWhere(func(e *storage.NoSpaceError) bool { return e.Basis == storage.SpaceOverride }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.NoSpaceError](err)
			return s.squeeze("release-space=%s but %s free: grow the volume or lower juju config %s release-space=...",
				keep(bytesize.Format(e.Need)), keep(freeSpace(e.Free)), keep(s.app))
		}},
		advice{"NoSpaceError", as[*storage.NoSpaceError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.NoSpaceError](err)
			return s.squeeze("Needs %s, has %s: grow the volume or juju config %s release-space=...",
				keep(need(e)), keep(freeSpace(e.Free)), keep(s.app))
		}},
		advice{"BadReleaseError", as[*storage.BadReleaseError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.BadReleaseError](err)
			if !e.Other.IsZero() {
				// It runs: the tarball is another release's (the attached
				// resource, or a mirror's misnamed file).
				return s.squeeze("Tarball is %s, not %s: juju attach-resource %s %s=FILE, or fix release-url",
					keep(e.Other.String()), keep(e.Version.String()), keep(s.app), keep(ReleaseResource))
			}
			return s.squeeze("Concourse %s won't run here: %s (architecture? libraries?); use the linux-amd64 tarball",
				keep(e.Version.String()), e.Problem)
		}},
	)
}

// hostileLine names the refused entry and why (with the detail when it
// fits), and sends the operator to the official tarball.
func hostileLine(e *storage.HostileArchiveError, what string, s scene) string {
	const format = "Refused %s: %s%s. Official tarball: juju config %s --reset release-url"
	entry := fmt.Sprintf("%q", e.Entry)
	if e.Detail == "" {
		return s.squeeze(format, entry, keep(what), keep(""), keep(s.app))
	}
	return s.first(
		s.squeeze(format, entry, keep(what), " ("+e.Detail+")", keep(s.app)),
		s.squeeze(format, entry, keep(what), keep(""), keep(s.app)))
}

// need is how much a release needs and where the figure came from.
func need(e *storage.NoSpaceError) string {
	if e.Need < 0 {
		return "unknown"
	}
	basis := map[storage.SpaceBasis]string{
		storage.SpaceOverride: "release-space", storage.SpaceGzipTrailer: "gzip trailer",
		storage.SpacePreviousRelease: "largest release", storage.SpaceDownloadSize: "download size",
	}[e.Basis]
	return fmt.Sprintf("~%s by %s", bytesize.Format(e.Need), basis)
}

func freeSpace(free int64) string {
	if free < 0 {
		return "unknown"
	}
	return bytesize.Format(free)
}

// volumeAdvice explains a shared volume that cannot be used, and the
// files on it the charm does not overwrite by itself.
func volumeAdvice() []advice {
	volume := func(reason error) func(error) bool {
		return asWhere(func(e *storage.VolumeError) bool { return errors.Is(e.Reason, reason) })
	}
	path := func(err error) string { return unwrapAs[*storage.VolumeError](err).Path }
	cause := func(err error) string {
		if e := unwrapAs[*storage.VolumeError](err); e.Err != nil {
			return e.Err.Error()
		}
		return "no detail"
	}
	return []advice{
		{"VolumeError/missing", volume(storage.ErrVolumeMissing), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("No volume at %s: mount it, or juju add-storage %s %s", path(err), keep(s.anyUnit()), keep(StorageName))
		}},
		{"VolumeError/read-only", volume(storage.ErrVolumeReadOnly), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("Volume %s is read-only: remount it read-write (every unit writes there)", path(err))
		}},
		{"VolumeError/full", volume(storage.ErrVolumeFull), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("Volume %s is full: free space there or grow the volume", path(err))
		}},
		{"VolumeError/not-a-directory", volume(storage.ErrVolumeNotDirectory), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("Volume %s is not a directory: move it aside, mount the shared filesystem there", path(err))
		}},
		{"VolumeError/invalid-path", volume(storage.ErrVolumeInvalidPath), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("Storage location %s unusable (%s): see juju storage --format yaml", path(err), cause(err))
		}},
		{"VolumeError/layout-conflict", volume(storage.ErrVolumeLayoutConflict), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("Volume %s has a file where a directory belongs (%s): move it aside", path(err), cause(err))
		}},
		{"VolumeError", as[*storage.VolumeError](), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("Volume %s unusable (%s): check its mount and root's access", path(err), cause(err))
		}},
		{"CorruptMarkerError", as[*storage.CorruptMarkerError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*storage.CorruptMarkerError](err)
			return s.squeeze("Marker %s is corrupt (%s): remove it; the next unit that takes the lock writes it again", e.Path, fmt.Sprint(e.Err))
		}},
		{"ErrCurrentNotSymlink", is(storage.ErrCurrentNotSymlink), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("%s: move it aside; the next install points current at the release", err.Error())
		}},
		{"ErrOutsideVolume", is(storage.ErrOutsideVolume), relation.Blocked, func(err error, s scene) string {
			return s.squeeze("%s: a symlink on the shared volume leads out of it; move it aside", err.Error())
		}},
		{"StaleSwitchError", as[*storage.StaleSwitchError](), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*storage.StaleSwitchError](err)
			return fmt.Sprintf("A newer upgrade record (revision %d, %s) already moved current: this unit catches up on its next hook", e.Have, e.Fenced)
		}},
		{"ErrReleaseNotStaged", is(storage.ErrReleaseNotStaged), relation.Waiting, func(err error, s scene) string {
			return s.squeeze("%s; the next hook gets it ready again", err.Error())
		}},
		// What only a bug in the charm makes happen.
		{"bug", func(err error) bool {
			return errors.Is(err, storage.ErrLockReleased) || errors.Is(err, storage.ErrNoVolumeID) ||
				as[*storage.SwitchConflictError]()(err) || as[*services.ValidationError]()(err) || as[*relation.ActionKeyError]()(err)
		}, relation.Blocked, func(err error, s scene) string {
			return s.squeeze("Charm bug, please report it with juju debug-log --include %s: %s", keep(s.anyUnit()), err.Error())
		}},
	}
}

// servicesAdvice explains what systemd said about the unit's services,
// with the unit's last log line and where to read more.
func servicesAdvice() []advice {
	return []advice{
		{"StartFailedError/exited", asWhere(func(e *services.StartFailedError) bool { return e.ExitedAfterStart }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.StartFailedError](err)
			return s.squeeze("%s died at start (%s): %s. journalctl -u %s", keep(roleOf(e.Unit)), keep(exitOf(e.Status)), lastLog(e.Status), keep(journalName(e.Unit)))
		}},
		{"StartFailedError", as[*services.StartFailedError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.StartFailedError](err)
			return s.squeeze("%s failed to start (%s): %s. journalctl -u %s", keep(roleOf(e.Unit)), keep(exitOf(e.Status)), lastLog(e.Status), keep(journalName(e.Unit)))
		}},
		{"DependencyFailedError", as[*services.DependencyFailedError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.DependencyFailedError](err)
			return fmt.Sprintf("%s not started: a unit it needs failed; see systemctl --failed", roleOf(e.Unit))
		}},
		{"JobTimeoutError/systemd", asWhere(func(e *services.JobTimeoutError) bool { return e.BySystemd }), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.JobTimeoutError](err)
			return fmt.Sprintf("systemd timed out the %s of %s: journalctl -u %s", e.Op, roleOf(e.Unit), journalName(e.Unit))
		}},
		{"JobTimeoutError", as[*services.JobTimeoutError](), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*services.JobTimeoutError](err)
			return fmt.Sprintf("%s %s not done after %s; the next hook looks again (journalctl -u %s)", roleOf(e.Unit), e.Op, e.Waited.Round(time.Second), journalName(e.Unit))
		}},
		{"CancelledError", as[*services.CancelledError](), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*services.CancelledError](err)
			return fmt.Sprintf("%s %s cut short (%v); systemd goes on, the next hook looks again", roleOf(e.Unit), e.Op, e.Err)
		}},
		{"JobError/canceled", asWhere(func(e *services.JobError) bool { return e.Result == "canceled" }), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*services.JobError](err)
			return fmt.Sprintf("Another systemd job replaced the %s of %s; the next hook tries again", e.Op, roleOf(e.Unit))
		}},
		{"JobError", as[*services.JobError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.JobError](err)
			return s.squeeze("%s %s ended %s: %s. journalctl -u %s", keep(roleOf(e.Unit)), keep(e.Op), keep(fmt.Sprintf("%q", e.Result)), lastLog(e.Status), keep(journalName(e.Unit)))
		}},
		{"DrainHelperError", as[*services.DrainHelperError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.DrainHelperError](err)
			return s.squeeze("Worker stopped undrained (%s): see ExecStop in systemctl cat %s", e.Problem, keep(journalName(e.Unit)))
		}},
		{"OfflineRetireError", as[*services.OfflineRetireError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.OfflineRetireError](err)
			return s.squeeze("Retiring the stopped worker failed (%s: %s): prune it: fly -t TARGET prune-worker -w WORKER",
				fmt.Sprint(e.Err), lastOf(e.Output))
		}},
		{"MountedError", as[*services.MountedError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.MountedError](err)
			return s.squeeze("%d mounts left under %s (%s), nothing deleted: reboot the machine; the next hook removes it",
				len(e.Mounts), e.Dir, fmt.Sprint(e.Err))
		}},
		{"UnitNotFoundError", as[*services.UnitNotFoundError](), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*services.UnitNotFoundError](err)
			return fmt.Sprintf("systemd has no unit %s (file removed?): the next hook writes it again", journalName(e.Unit))
		}},
		{"BusError", as[*services.BusError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*services.BusError](err)
			return s.squeeze("No systemd at %s (%s): it must run as PID 1; see systemctl is-system-running", e.Address, fmt.Sprint(e.Err))
		}},
	}
}

// roleOf says which of the charm's services a systemd unit is.
func roleOf(unit string) string {
	for _, r := range []Role{RoleWorker, RoleWeb} {
		if strings.HasPrefix(unit, "concourse-"+string(r)+"-") {
			return strings.ToUpper(string(r)[:1]) + string(r)[1:]
		}
	}
	return journalName(unit)
}

// journalName is a unit's name as journalctl -u takes it.
func journalName(unit string) string { return strings.TrimSuffix(unit, ".service") }

// exitOf says how a service's main process ended.
func exitOf(st services.UnitStatus) string {
	switch st.ExecMainCode {
	case 1:
		return fmt.Sprintf("exit status %d", st.ExecMainStatus)
	case 2:
		return fmt.Sprintf("signal %d", st.ExecMainStatus)
	case 3:
		return fmt.Sprintf("core dump, signal %d", st.ExecMainStatus)
	}
	if st.Result != "" {
		return st.Result
	}
	return st.ActiveState
}

// lastLog is the unit's last log line, as short as it says it: Concourse
// logs JSON, whose message and error are what matter.
func lastLog(st services.UnitStatus) string {
	for i := len(st.LogTail) - 1; i >= 0; i-- {
		if line := strings.TrimSpace(st.LogTail[i]); line != "" {
			return fmt.Sprintf("%q", logMessage(line))
		}
	}
	return "no log lines"
}

// logMessage reduces a lager JSON line to its error, or its message.
func logMessage(line string) string {
	var l struct {
		Message string `json:"message"`
		Data    struct {
			Error string `json:"error"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(line), &l) != nil || l.Message == "" {
		return line
	}
	if l.Data.Error != "" {
		return l.Data.Error
	}
	return l.Message
}

// lastOf is the last non-empty line of a command's output.
func lastOf(output string) string {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// wrapperAdvice explains errors that wrap a cause no entry above knew.
func wrapperAdvice() []advice {
	return []advice{
		{"StageError", as[*StageError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*StageError](err)
			return s.squeeze("Cannot get Concourse %s ready: %s", keep(e.Version.String()), fmt.Sprint(e.Err))
		}},
		{"DeadlineExceeded", is(context.DeadlineExceeded), relation.Waiting, func(err error, s scene) string {
			return s.squeeze("Gave up waiting (%s); the next hook tries again", err.Error())
		}},
	}
}

// wiringAdvice explains what keeps web or a worker from running: the
// database, the TSA, the keys, the settings Concourse is given.
func wiringAdvice() []advice {
	return []advice{
		{"PostgresMissingError", as[*PostgresMissingError](), relation.Blocked, func(err error, s scene) string {
			return fmt.Sprintf("waiting for PostgreSQL: juju integrate %s postgresql", s.app)
		}},
		{"PostgresPendingError", as[*relation.PostgresPendingError](), relation.Waiting, func(err error, s scene) string {
			e := unwrapAs[*relation.PostgresPendingError](err)
			return fmt.Sprintf("Waiting for PostgreSQL (%s) to send %s", e.Remote, strings.Join(e.Missing, ", "))
		}},
		{"PostgresUnusableError", as[*relation.PostgresUnusableError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*relation.PostgresUnusableError](err)
			if r := unwrapAs[*relation.SecretReadError](err); r != nil {
				return s.squeeze("Web stopped: PostgreSQL (%s) %s secret %s unreadable: %s", keep(e.Remote), keep(r.Key), r.URI, toolWords(r.Err))
			}
			what := e.Err.Error()
			if d := unwrapAs[*concourse.PostgresDataError](err); d != nil {
				what = d.Field + ": " + d.Reason
			}
			return fmt.Sprintf("Web stopped: PostgreSQL (%s) sent unusable %s", e.Remote, what)
		}},
		{"NoTSAError/worker", asWhere(func(e *NoTSAError) bool { return e.Mode == ModeWorker && e.Web == "" }), relation.Blocked, func(err error, s scene) string {
			return fmt.Sprintf("waiting for web: juju integrate %s:web-tsa <web application>:tsa", s.app)
		}},
		{"NoTSAError", as[*NoTSAError](), relation.Waiting, func(err error, s scene) string {
			return "Waiting for web: " + err.Error()
		}},
		{"TSADataError", as[*relation.TSADataError](), relation.Blocked, func(err error, s scene) string {
			return "Worker not started: " + unwrapAs[*relation.TSADataError](err).Error()
		}},
		{"InvalidPublicKeyError", as[*concourse.InvalidPublicKeyError](), relation.Blocked, func(err error, s scene) string {
			return "Worker not started: " + unwrapAs[*concourse.InvalidPublicKeyError](err).Error()
		}},
		{"NetworkWorkDirError", as[*NetworkWorkDirError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*NetworkWorkDirError](err)
			return fmt.Sprintf("Worker dir on %s: juju config %s baggageclaim-driver=naive, or give workers a local volume", e.Filesystem, s.app)
		}},
		{"PartialKeySetError", as[*concourse.PartialKeySetError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*concourse.PartialKeySetError](err)
			return fmt.Sprintf("Keys in %s lack %s: restore them, or move the directory aside for new keys", e.Dir, strings.Join(e.Missing, ", "))
		}},
		{"CorruptKeyError", as[*concourse.CorruptKeyError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*concourse.CorruptKeyError](err)
			return fmt.Sprintf("Key file %s %s: restore it, or move its directory aside for new keys", e.Path, e.Reason)
		}},
		{"PortRangeError", as[*concourse.PortRangeError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*concourse.PortRangeError](err)
			return fmt.Sprintf("Unit number %d puts %s at %d: lower juju config %s web-port", e.Unit, e.Setting, e.Port, s.app)
		}},
		{"RuntimeConflictError", as[*concourse.RuntimeConflictError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*concourse.RuntimeConflictError](err)
			return fmt.Sprintf("Fix juju config %s worker-environment: runtime %s refuses %s", s.app, e.Runtime, e.Key)
		}},
		{"ManagedSettingError", as[*concourse.ManagedSettingError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*concourse.ManagedSettingError](err)
			return fmt.Sprintf("Fix juju config %s %s-environment: %s", s.app, e.Role, passThroughProblem(e))
		}},
		{"MissingSettingError/external-url", asWhere(func(e *concourse.MissingSettingError) bool { return e.Key == "CONCOURSE_EXTERNAL_URL" }), relation.Blocked, func(err error, s scene) string {
			return fmt.Sprintf("Web has no address to be reached at: juju config %s external-url=https://...", s.app)
		}},
		{"InvalidSettingError/tags", asWhere(func(e *concourse.InvalidSettingError) bool { return e.Key == "CONCOURSE_TAG" }), relation.Blocked, func(err error, s scene) string {
			return fmt.Sprintf("%s: juju config %s worker-tags=...", unwrapAs[*concourse.InvalidSettingError](err), s.app)
		}},
		// The charm fills every other setting itself: one it cannot fill,
		// or fills wrong, is the charm's fault, and the message says which.
		{"MissingSettingError", as[*concourse.MissingSettingError](), relation.Blocked, func(err error, s scene) string {
			return err.Error()
		}},
		{"InvalidSettingError", as[*concourse.InvalidSettingError](), relation.Blocked, func(err error, s scene) string {
			return err.Error()
		}},
		{"InvalidChoiceError", as[*concourse.InvalidChoiceError](), relation.Blocked, func(err error, s scene) string {
			return err.Error()
		}},
		{"UnknownSettingError", as[*concourse.UnknownSettingError](), relation.Blocked, func(err error, s scene) string {
			return err.Error()
		}},
	}
}

// passThroughProblem says briefly what is wrong with a web-environment or
// worker-environment line; never its value.
func passThroughProblem(err error) string {
	if e := unwrapAs[*concourse.ManagedSettingError](err); e != nil {
		return "drop " + e.Key + ", the charm sets it"
	}
	if e := unwrapAs[*concourse.ExtraEnvError](err); e != nil {
		if e.Key == "" {
			return fmt.Sprintf("line %d %s", e.Line, e.Reason)
		}
		return fmt.Sprintf("line %d (%s) %s", e.Line, e.Key, e.Reason)
	}
	return err.Error()
}

// eventAction names the operator's request behind an event.
func eventAction(event string) string {
	for _, tr := range fsm.UpgradeTable().Transitions {
		if tr.Event == event && tr.Action != "" {
			return tr.Action
		}
	}
	return event
}

// keep marks a value squeeze never shortens: a name in a command, a figure.
type keep string

// minValue is the shortest squeeze cuts a value to.
const minValue = 12

// squeeze formats a line (verbs %s and %d) and, while it is wider than
// the scene's width, shortens its string values in the middle, the
// longest first and never below the next longest, so that short names
// outlast long details. The words around them and the command to run
// (keep) are never cut.
func (s scene) squeeze(format string, args ...any) string {
	args = append([]any(nil), args...)
	for {
		line := fmt.Sprintf(format, args...)
		excess := len(line) - s.width
		if s.width <= 0 || excess <= 0 {
			return line
		}
		longest, next := -1, minValue
		for i, a := range args {
			v, ok := a.(string)
			switch {
			case !ok || len(v) <= minValue:
			case longest < 0 || len(v) > len(args[longest].(string)):
				if longest >= 0 {
					next = max(next, len(args[longest].(string)))
				}
				longest = i
			default:
				next = max(next, len(v))
			}
		}
		if longest < 0 {
			return line
		}
		v := args[longest].(string)
		target := max(len(v)-excess, next)
		if target >= len(v) {
			target = len(v) - 1 // a tie: shorten one, then the other
		}
		args[longest] = elide(v, target)
	}
}

// first is the first of lines that fits the scene's width, or the last.
func (s scene) first(lines ...string) string {
	for _, l := range lines[:len(lines)-1] {
		if s.width <= 0 || len(l) <= s.width {
			return l
		}
	}
	return lines[len(lines)-1]
}

// elide shortens s to at most n bytes, keeping its start and end.
func elide(s string, n int) string {
	const dots = "..."
	if len(s) <= n {
		return s
	}
	if n <= len(dots) {
		return dots[:n]
	}
	head := (n - len(dots) + 1) / 2
	tail := len(s) - (n - len(dots) - head)
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + dots + s[tail:]
}

// shortURL keeps a URL's host and file name: the rest is in release-url.
func shortURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || len(raw) <= 60 {
		return raw
	}
	return u.Scheme + "://" + u.Host + "/.../" + path.Base(u.Path)
}

// hostOf is a URL's host, or the source itself when it has none.
func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// asset is the file a URL or path names.
func asset(src string) string {
	if u, err := url.Parse(src); err == nil && u.Path != "" {
		return path.Base(u.Path)
	}
	return filepath.Base(src)
}

// releaseAsset matches a release tarball's name.
var releaseAsset = regexp.MustCompile(`^concourse-(\d[^/]*)-linux-[a-z0-9]+\.tgz$`)

// release names what src holds, as short as it can: "Concourse V" for a
// release tarball or a known release, else the file's name.
func release(src string, s scene) string {
	name := asset(src)
	if m := releaseAsset.FindStringSubmatch(name); m != nil {
		return "Concourse " + m[1]
	}
	if !s.release.IsZero() {
		return s.releaseName()
	}
	if name == "." || name == "" || name == "/" {
		return "the release archive"
	}
	return name
}

// age writes a duration for people: 40s, 25m, 2h25m.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute).Minutes()))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
}

// adviceFor finds err's kind.
func adviceFor(err error) (advice, bool) {
	for _, a := range adviceTable() {
		if a.match(err) {
			return a, true
		}
	}
	return advice{}, false
}

// pick chooses the error a line is about: of several joined ones, the
// first (a failure followed by the failure to clean up after it).
func pick(err error) error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		if errs := joined.Unwrap(); len(errs) > 0 && len(errs) < 10 {
			if _, ok := adviceFor(err); !ok || errors.Is(errs[0], err) {
				return errs[0]
			}
		}
	}
	return err
}

// line is the operator line for err, and whether an entry knew it.
func (s scene) line(err error) (string, bool) {
	err = pick(err)
	if st := unwrapAs[*StageError](err); st != nil {
		s.release = st.Version
	}
	a, ok := adviceFor(err)
	if !ok {
		return err.Error(), false
	}
	return a.line(err, s), true
}

// adviceLine is the one operator line for err, for this hook's unit, cut
// to fit `juju status`.
func (h *hook) adviceLine(err error) string {
	l, _ := scene{app: h.app, unit: h.self, width: relation.MaxStatusLen}.line(err)
	return fit(l)
}

// adviceState is the status level for err.
func adviceState(err error) relation.StatusState {
	if a, ok := adviceFor(pick(err)); ok {
		return a.state
	}
	return relation.Blocked
}

// Advice is the operator line for err outside a hook (the CLI), naming the
// application app in its commands; "" when the charm has no advice for
// it. A terminal is wider than `juju status`: values are not shortened.
func Advice(err error, app string) string {
	if l, ok := (scene{app: app}).line(err); ok {
		return l
	}
	return ""
}

// describe is a short form of err for waiting lines and notes: a busy
// volume lock says who holds it and, when stuck, what to do.
func describe(err error) string {
	if w := unwrapAs[*StillWaitingError](err); w != nil {
		return lockLine(w.Locked, scene{width: relation.MaxStatusLen})
	}
	return err.Error()
}

// InspectAdvice says what an operator can do about a problem `inspect`
// found on the volume r reports on; "" when nothing needs doing.
func InspectAdvice(p storage.Problem, r storage.Report) string {
	switch p.Kind {
	case storage.ProblemVolatileFS:
		return "Mount a persistent filesystem that every unit shares there."
	case storage.ProblemUnreadable, storage.ProblemLockUnprobed:
		return "Check the filesystem (mount options, permissions for root, flock support)."
	case storage.ProblemNotADirectory:
		return "Move it away; the charm makes the directory it needs."
	case storage.ProblemMode:
		if strings.HasPrefix(p.Path, filepath.Join(r.Root, storage.KeysDir)) {
			return fmt.Sprintf("chmod %o %s", storage.KeysMode, p.Path)
		}
		return fmt.Sprintf("chmod %o %s", storage.WorkerDirMode, p.Path)
	case storage.ProblemCorruptMarker:
		return "Remove it: the next unit that takes the lock writes it again (a corrupt .volume_id makes the units prove sharing again)."
	case storage.ProblemInstalledMissing:
		return fmt.Sprintf("Remove %s; the next install redoes the release.", filepath.Join(r.Root, storage.InstalledVersionFile))
	case storage.ProblemCurrentNotSymlink, storage.ProblemCurrentOutside:
		return "Remove it; the next install points it at the installed release."
	case storage.ProblemCurrentMissing:
		return "The next install or upgrade points it at a staged release."
	case storage.ProblemStuckInstall:
		if h := r.Lock.Holder; h != nil {
			return fmt.Sprintf("Check whether pid %d on %s still works (juju debug-log --include %s); the lock is never taken from a live holder: if it hangs, kill it and the next unit cleans up and retries.", h.PID, h.Host, h.Unit)
		}
		return "Check whether the holder's process still works; the lock is never taken from a live holder: if it hangs, kill it and the next unit cleans up and retries."
	case storage.ProblemInterruptedInstall, storage.ProblemPartialRelease:
		return "Nothing to do unless it stays."
	case storage.ProblemLowSpace:
		pattern := filepath.Join(r.Root, storage.ReleasesDir, "*"+storage.PartialInfix+"*")
		if r.Lock.State == storage.LockFree {
			return "Free space or grow the filesystem; partial releases can be deleted while the lock is free (rm -rf " + pattern + ")."
		}
		return "Free space or grow the filesystem; partial releases may belong to the install in progress: delete them only once the lock is free."
	}
	return ""
}

// opsAdvice explains ghost workers still to prune and what keeps a worker
// off its machine (prune.go, preconditions.go). Pruning is best effort:
// its lines are notes on an active status. PruneError does not unwrap, so
// no entry above takes it for its cause.
func opsAdvice() []advice {
	return []advice{
		{"PruneError/unreachable", pruneErrorOf[*concourse.UnreachableError](), relation.Active, func(err error, s scene) string {
			return pruning(err) + ": web's API did not answer; retried on update-status"
		}},
		{"PruneError/login", pruneErrorOf[*concourse.LoginError](), relation.Active, func(err error, s scene) string {
			return pruning(err) + ": web refused the admin's login; prune it with fly"
		}},
		{"PruneError", as[*PruneError](), relation.Active, func(err error, s scene) string {
			return s.squeeze("%s: %s", keep(pruning(err)), unwrapAs[*PruneError](err).Err.Error())
		}},
		{"PruneGaveUpError", as[*PruneGaveUpError](), relation.Active, func(err error, s scene) string {
			e := unwrapAs[*PruneGaveUpError](err)
			return fmt.Sprintf("gave up pruning worker %s after %s (%s): prune it with fly once it stalls", e.Worker, age(e.After), e.lastState())
		}},
		{"NoNestingError", as[*NoNestingError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*NoNestingError](err)
			name := e.Container
			if name == "" {
				name = "CONTAINER"
			}
			fix := fmt.Sprintf("Worker needs LXD nesting: lxc config set %s security.nesting=true; restart it", name)
			return s.first(fix+" (or the charm's lxd-profile)", fix)
		}},
		{"SharedContainerdError", as[*SharedContainerdError](), relation.Blocked, func(err error, s scene) string {
			e := unwrapAs[*SharedContainerdError](err)
			fix := fmt.Sprintf("juju config %s worker-runtime=houdini (or guardian), or one unit per machine", s.app)
			return s.first(fmt.Sprintf("containerd is taken by %s: %s", e.Other, fix), "containerd is taken here: "+fix)
		}},
	}
}

// pruneErrorOf matches a *PruneError whose cause is a T.
func pruneErrorOf[T error]() func(error) bool {
	return asWhere(func(e *PruneError) bool {
		var target T
		return errors.As(e.Err, &target)
	})
}

// pruning starts a PruneError's line: which workers are pending.
func pruning(err error) string {
	workers := unwrapAs[*PruneError](err).Workers
	if len(workers) == 1 {
		return "pruning stalled worker " + workers[0]
	}
	return "pruning stalled workers " + strings.Join(workers, ", ")
}

// toolWords is what a failed hook tool said (Juju's "ERROR " dropped), or
// the error itself when it is no tool's.
func toolWords(err error) string {
	if te := unwrapAs[*relation.ToolError](err); te != nil && strings.TrimSpace(te.Stderr) != "" {
		return strings.TrimPrefix(lastOf(te.Stderr), "ERROR ")
	}
	return err.Error()
}

// toolAdvice explains a Juju hook tool that failed, last: an entry that
// knows what the tool was asked for (a secret PostgreSQL named, say)
// says more than the tool's own words.
func toolAdvice() []advice {
	return []advice{
		{"ToolError", as[*relation.ToolError](), relation.Blocked, func(err error, s scene) string {
			return "A Juju hook tool failed: " + err.Error()
		}},
	}
}
