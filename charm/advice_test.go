package charm

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/fsm"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/concourse-ci-machine/concourse-ci-machine/services"
	"github.com/concourse-ci-machine/concourse-ci-machine/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Realistic values: a long application name, a high unit number, GitHub's
// and a corporate mirror's URLs, Juju's storage paths.
const (
	testApp       = "concourse-ci-machine"
	testUnit      = "concourse-ci-machine/12"
	githubURL     = "https://github.com/concourse/concourse/releases/download/v7.99.0/concourse-7.99.0-linux-amd64.tgz"
	mirrorURL     = "https://artifactory.corp.example.com/artifactory/generic-remote/concourse/v7.14.4/concourse-7.14.4-linux-amd64.tgz"
	jujuVolume    = "/var/lib/juju/storage/concourse-data/0"
	webUnitFile   = "concourse-web-concourse-ci-machine-12.service"
	workerUnit    = "concourse-worker-concourse-ci-machine-12.service"
	workerJournal = "concourse-worker-concourse-ci-machine-12"
)

var (
	t0    = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v7144 = version.MustParse("7.14.4")
)

// want is what a line must say: the whole line, or a fragment of it
// (usually the command to run, which must survive any shortening).
type want struct {
	text  string
	whole bool
}

func whole(s string) want { return want{s, true} }
func has(s string) want   { return want{s, false} }

type adviceCase struct {
	err   error
	kind  string
	state relation.StatusState
	line  want
}

// dialErr is what net/http returns when a dial fails with err.
func dialErr(op string, err error) error {
	return &url.Error{Op: "Get", URL: githubURL, Err: &net.OpError{Op: op, Net: "tcp", Err: err}}
}

func download(src string, attempts int, err error) error {
	return &storage.DownloadError{Source: src, Attempts: attempts, Err: err}
}

func stage(err error) error { return &StageError{Version: v7144, Err: err} }

func hostile(reason error, entry, detail string) error {
	return stage(&storage.HostileArchiveError{Entry: entry, Detail: detail, Reason: reason})
}

// lagerLine is a log line as Concourse writes it.
const lagerLine = `{"timestamp":"2026-12-01T10:00:00.123456789Z","level":"error","source":"worker","message":"worker.garden.failed-to-start","data":{"error":"containerd: failed to mount overlay: invalid argument","session":"1"}}`

func unitStatus(tail ...string) services.UnitStatus {
	return services.UnitStatus{ActiveState: "failed", SubState: "failed", Result: "exit-code", ExecMainCode: 1, ExecMainStatus: 1, LogTail: tail}
}

func adviceCases() []adviceCase {
	holder := &storage.Holder{Unit: "concourse-ci-machine/3", PID: 424242, Host: "juju-7f3a1c-3-lxd-0", Since: t0.Add(-25 * time.Minute)}
	progress := &storage.Progress{Unit: "concourse-ci-machine/3", PID: 424242, Version: v7144, Started: t0.Add(-25 * time.Minute)}
	releases := jujuVolume + "/releases"
	return []adviceCase{
		// The operator's requests.
		{&ConfigError{Option: "web-environment", Err: &concourse.ExtraEnvError{Role: concourse.RoleWeb, Line: 3, Key: "CONCOURSE_X", Reason: "is not a setting of concourse web"}},
			"ConfigError/pass-through", relation.Blocked, whole("Fix juju config concourse-ci-machine web-environment: line 3 (CONCOURSE_X) is not a setting of concourse web")},
		{errors.Join(&ConfigError{Option: "release-space", Value: "lots", Problem: "is not a size like 800M or 2GiB"}),
			"ConfigError", relation.Blocked, whole(`config release-space="lots" is not a size like 800M or 2GiB; fix it: juju config concourse-ci-machine release-space=...`)},
		{&ConfigError{Option: "release-url", Value: strings.Repeat("https://mirror.example.com/", 5), Problem: "must contain {version}, which the charm replaces with the release, e.g. " + DefaultReleaseURL},
			"ConfigError", relation.Blocked, has("; fix it: juju config concourse-ci-machine release-url=...")},
		{&NoStorageError{}, "NoStorageError", relation.Blocked, has("juju add-storage concourse-ci-machine/12 concourse-data")},
		{&fsm.DecodeError{Bag: "upgrade record", Key: "schema", Value: "3", Problem: "written by a newer charm", Kind: fsm.DecodeNewer},
			"DecodeError/newer", relation.Blocked, has("a newer charm wrote it: juju refresh concourse-ci-machine to that revision")},
		{&relation.BagError{Owner: "application " + testApp, Err: &fsm.DecodeError{Bag: "upgrade record", Key: "phase", Value: "LIMBO", Problem: "is not a phase"}},
			"DecodeError/malformed", relation.Blocked, has("put key phase back as the charm wrote it")},
		{&relation.BagError{Owner: testUnit, Err: errors.New(`key "ack-generation" holds "x"`)},
			"BagError", relation.Blocked, has("it is left alone until its owner writes it again")},
		{&NotLeaderError{Action: "upgrade"}, "NotLeaderError", relation.Blocked, has(": juju run concourse-ci-machine/leader upgrade")},
		{&fsm.InvalidEventError{Machine: "upgrade", State: "DOWNLOADING", Event: fsm.UpgradeRetry, Allowed: []string{fsm.UpgradeFinish}},
			"InvalidEventError", relation.Blocked, has("it moves on by itself: watch juju status concourse-ci-machine")},
		{&fsm.SameVersionError{Version: v7144}, "SameVersionError", relation.Active, whole("Concourse 7.14.4 is already the settled release: nothing to do")},
		{&fsm.NoReleaseError{}, "NoReleaseError", relation.Waiting, has("wait until juju status concourse-ci-machine shows it installed")},
		{&fsm.InvalidRequestError{Field: "prepare-timeout", Value: "-1s", Reason: "is negative"}, "InvalidRequestError", relation.Blocked, has("prepare-timeout")},
		{&ParamError{Param: "version", Value: "latest", Err: &version.Error{Input: "latest", Reason: "it is not a semantic version"}},
			"ParamError", relation.Blocked, whole(`version="latest" is not a Concourse release version: juju run concourse-ci-machine/leader upgrade version=7.14.3`)},
		{&ParamError{Param: "version", Value: "", Err: errors.New("is required")},
			"ParamError", relation.Blocked, whole(`version="": is required; e.g. juju run concourse-ci-machine/leader upgrade version=7.14.3`)},
		{&ReleaseNotReadyError{Version: v7144, Role: RoleWorker}, "ReleaseNotReadyError", relation.Waiting, has("downloaded on this unit's next hook")},
		{&NotReadyError{Reason: "web has not started yet"}, "NotReadyError", relation.Waiting, whole("web has not started yet")},

		// The volume lock: never taken from a live holder.
		{stage(&StillWaitingError{Locked: &storage.LockedError{Root: jujuVolume, Holder: holder, Progress: progress, Stuck: true, At: t0}}),
			"StillWaitingError/stuck", relation.Blocked, whole("Install of 7.14.4 by concourse-ci-machine/3 stuck 25m: pid 424242 on juju-7f3a1c-3-lxd-0 hung? Kill it; never rm .lock")},
		{&StillWaitingError{Locked: &storage.LockedError{Root: jujuVolume, Holder: holder, Progress: progress, At: t0.Add(-20 * time.Minute)}},
			"StillWaitingError", relation.Waiting, whole("Waiting for the volume lock: concourse-ci-machine/3 has been installing 7.14.4 for 5m; this unit goes on after it")},
		{fmt.Errorf("gave up waiting for the lock on %s: %w: %w", jujuVolume, context.Canceled, &storage.LockedError{Root: jujuVolume, Progress: progress, Stuck: true, At: t0.Add(2 * time.Hour)}),
			"LockedError/stuck", relation.Blocked, whole("Install of 7.14.4 by concourse-ci-machine/3 stuck 2h25m: pid 424242 hung? Kill it; never rm .lock")},
		{&storage.LockedError{Root: jujuVolume, Holder: holder, At: t0}, "LockedError", relation.Waiting,
			whole("Waiting for the volume lock: concourse-ci-machine/3 (pid 424242 on juju-7f3a1c-3-lxd-0) has held it for 25m")},

		// Downloads: proxy advice for the network only.
		{stage(download(githubURL, 1, &storage.HTTPStatusError{URL: githubURL, Status: 404})), "HTTPStatusError/404", relation.Blocked,
			whole("HTTP 404: no Concourse 7.99.0 at github.com. Check version, or juju config concourse-ci-machine release-url=...")},
		{download(mirrorURL, 1, &storage.HTTPStatusError{URL: mirrorURL, Status: 407}), "HTTPStatusError/proxy-auth", relation.Blocked,
			has("(HTTP 407) for artifactory.corp.example.com: juju model-config juju-https-proxy=http://U:P@HOST:PORT")},
		{download(mirrorURL, 1, &storage.HTTPStatusError{URL: mirrorURL, Status: 403}), "HTTPStatusError/denied", relation.Blocked,
			whole("HTTP 403 for Concourse 7.14.4 at artifactor...xample.com: use a mirror: juju config concourse-ci-machine release-url=...")},
		{download(mirrorURL, 5, &storage.HTTPStatusError{URL: mirrorURL, Status: 503}), "HTTPStatusError/server", relation.Waiting,
			whole("HTTP 503 for Concourse 7.14.4 at artifactory.corp.example.com, 5 tries; the next hook tries again")},
		{download(mirrorURL, 1, &storage.HTTPStatusError{URL: mirrorURL, Status: 400}), "HTTPStatusError", relation.Blocked,
			has("-linux-amd64.tgz: check juju config concourse-ci-machine release-url")},
		{download(githubURL, 3, &storage.ReadTimeoutError{After: time.Minute, Done: 12 << 20}), "ReadTimeoutError", relation.Waiting,
			whole("Concourse 7.99.0 stalled: no data for 1m0s after 12.0 MiB, 3 tries. Check juju model-config juju-https-proxy")},
		{stage(download(githubURL, 5, dialErr("dial", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}))), "DownloadError/network", relation.Blocked,
			whole("Cannot reach github.com (connection refused, 5 tries). Proxy? juju model-config juju-https-proxy=http://HOST:PORT")},
		{download(githubURL, 5, dialErr("dial", &net.DNSError{Err: "no such host", Name: "github.com", IsNotFound: true})), "DownloadError/network", relation.Blocked,
			has("Cannot reach github.com (no such host, 5 tries). Proxy? juju model-config juju-https-proxy=")},
		{download(githubURL, 5, dialErr("dial", os.ErrDeadlineExceeded)), "DownloadError/network", relation.Blocked, has("(timed out, 5 tries). Proxy? juju model-config")},
		{download(githubURL, 2, dialErr("proxyconnect", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED})), "DownloadError/network", relation.Blocked,
			whole("Cannot reach the proxy for github.com (connection refused, 2 tries): fix juju model-config juju-https-proxy")},
		{download(mirrorURL, 1, &url.Error{Op: "Get", URL: mirrorURL, Err: x509.UnknownAuthorityError{}}), "DownloadError", relation.Blocked,
			whole("Download of https://artifactory.corp.e...se-7.14.4-linux-amd64.tgz failed: x509: certificate signed by unknown authority")},
		{stage(&storage.NoChecksumError{Source: githubURL, Sidecar: githubURL + ".sha1", Err: errors.New("not published")}), "NoChecksumError", relation.Blocked,
			whole("No .sha1 for Concourse 7.99.0: wrong version? Else pin: juju config concourse-ci-machine release-sha256=...")},
		{&storage.NoChecksumError{Source: githubURL, Sidecar: githubURL + ".sha1", Err: errors.New("the sidecar is larger than 4.0 KiB")}, "NoChecksumError", relation.Blocked,
			whole("Concourse 7.99.0: bad .sha1 (the sidecar i... than 4.0 KiB); pin it: juju config concourse-ci-machine release-sha256=...")},
		{&storage.NoChecksumError{Source: "/var/lib/juju/agents/unit-concourse-ci-machine-12/resources/concourse-release/concourse-linux-amd64.tgz", Sidecar: "x.sha1", Err: errors.New("not published")},
			"NoChecksumError", relation.Blocked, has(": pin it: juju config concourse-ci-machine release-sha256=...")},
		{&storage.ChecksumMismatchError{Source: mirrorURL, Algorithm: "sha256", Want: strings.Repeat("ab", 32), Got: strings.Repeat("cd", 32)}, "ChecksumMismatchError/pin", relation.Blocked,
			whole("Concourse 7.14.4 fails release-sha256: fix the mirror, or juju config concourse-ci-machine release-sha256=...")},
		{stage(&storage.ChecksumMismatchError{Source: mirrorURL, Algorithm: "sha1", Want: strings.Repeat("ab", 20), Got: strings.Repeat("cd", 20)}), "ChecksumMismatchError", relation.Blocked,
			whole("Concourse 7.14.4 fails its .sha1 (other bytes): fix the mirror, or juju config concourse-ci-machine --reset release-url")},
		{fmt.Errorf("%w: %q: scheme %q is not supported; use https://, http://, file:// or a local path", storage.ErrBadSource, "ftp://mirror/x.tgz", "ftp"), "ErrBadSource", relation.Blocked,
			has(`Release source unusable: "ftp://mirror/x.tgz`)},
		{&storage.ValueError{Field: storage.FieldPin, Value: "abc", Reason: "is not 64 hex digits"}, "ValueError/pin", relation.Blocked,
			has(`SHA-256 pin "abc" is not 64 hex digits: juju config concourse-ci-machine release-sha256=<64 hex digits>`)},

		// Archives.
		{stage(&storage.CorruptArchiveError{Source: mirrorURL, Err: errors.New("gzip: invalid header")}), "CorruptArchiveError", relation.Blocked,
			whole("Concourse 7.14.4 is not a .tgz (gzip: invalid header): juju config concourse-ci-machine --reset release-url")},
		{&storage.TruncatedArchiveError{Source: githubURL, Received: 80 << 20, Attempts: 2}, "TruncatedArchiveError", relation.Waiting,
			whole("Concourse 7.99.0 cut off at 80.0 MiB (2 tries); retried next hook. Repeats? Check juju model-config juju-https-proxy")},
		{hostile(storage.ErrAbsolutePath, "/etc/cron.d/concourse", ""), "HostileArchiveError/absolute-path", relation.Blocked,
			whole(`Refused "/etc/cron.d/concourse": absolute path. Official tarball: juju config concourse-ci-machine --reset release-url`)},
		{hostile(storage.ErrPathTraversal, "concourse/bin/../../../../etc/sudoers.d/concourse", ""), "HostileArchiveError/path-traversal", relation.Blocked, has(`": ".." in path. Official tarball: juju config concourse-ci-machine --reset release-url`)},
		{hostile(storage.ErrBadEntryName, "concourse/bin/\x00", ""), "HostileArchiveError/bad-entry-name", relation.Blocked, has(": unusable name. Official tarball")},
		{hostile(storage.ErrLinkEscapes, "concourse/bin/gdn", "-> /usr/local/lib/../../../root/.ssh/authorized_keys"), "HostileArchiveError/link-escapes", relation.Blocked,
			has(": link leaves release. Official tarball")},
		{hostile(storage.ErrLinkTarget, "concourse/bin/runc", "hard link to concourse/bin/later"), "HostileArchiveError/link-target", relation.Blocked, has(": hard link, no target. Official")},
		{hostile(storage.ErrThroughSymlink, "concourse/lib/evil/passwd", ""), "HostileArchiveError/through-symlink", relation.Blocked, has(": through a symlink. Official")},
		{hostile(storage.ErrSpecialFile, "concourse/dev/sda", ""), "HostileArchiveError/special-file", relation.Blocked, has(`Refused "concourse/dev/sda": device or fifo. Official`)},
		{hostile(storage.ErrUnsupportedEntry, "concourse/GNU.sparse", "type 'S'"), "HostileArchiveError/unsupported-entry", relation.Blocked, has(": unsupported type. Official")},
		{hostile(storage.ErrSetuidBit, "concourse/bin/concourse", "mode 4755"), "HostileArchiveError/setuid", relation.Blocked, has(": setuid/setgid (mode 4755). Official")},
		{hostile(storage.ErrDuplicateEntry, "concourse/bin/concourse", ""), "HostileArchiveError/duplicate-entry", relation.Blocked, has(": appears twice. Official")},
		{hostile(storage.ErrArchiveTooLarge, "concourse/fs/blob", "limit 4.0 GiB"), "HostileArchiveError/too-large", relation.Blocked, has(": over the size limit. Official")},
		{hostile(storage.ErrTooManyEntries, "concourse/x/100001", "limit 100000"), "HostileArchiveError/too-many-entries", relation.Blocked, has(": too many entries. Official")},
		{hostile(errors.New("entry is from the future"), "concourse/x", ""), "HostileArchiveError", relation.Blocked, has(": entry is from the future. Official tarball")},
		{&storage.NoSpaceError{Path: jujuVolume, File: ".installed_version", Need: -1, Free: 4 << 10, Err: syscall.ENOSPC},
			"NoSpaceError/marker", relation.Blocked, whole("Volume full writing " + jujuVolume + "/.installed_version (4.0 KiB free): grow the volume")},
		{stage(&storage.NoSpaceError{Path: releases, Need: 1300 << 20, Basis: storage.SpaceGzipTrailer, Free: 120 << 20, Written: 310 << 20, Err: syscall.ENOSPC}),
			"NoSpaceError/filled", relation.Blocked, whole("Volume full after 310.0 MiB of Concourse 7.14.4 (needs ~1.3 GiB by gzip trailer, 120.0 MiB free): grow the volume")},
		{stage(&storage.NoSpaceError{Path: releases, Need: 2 << 30, Basis: storage.SpaceOverride, Free: 800 << 20}),
			"NoSpaceError/configured", relation.Blocked, whole("release-space=2.0 GiB but 800.0 MiB free: grow the volume or lower juju config concourse-ci-machine release-space=...")},
		{stage(&storage.NoSpaceError{Path: releases, Need: 1300 << 20, Basis: storage.SpacePreviousRelease, Free: 300 << 20}),
			"NoSpaceError", relation.Blocked, whole("Needs ~1.3 GiB by largest release, has 300.0 MiB: grow the volume or juju config concourse-ci-machine release-space=...")},
		{&storage.BadReleaseError{Binary: releases + "/7.14.4.partial-1a2b3c/concourse/bin/concourse", Version: v7144, Problem: "fork/exec: exec format error"},
			"BadReleaseError", relation.Blocked, whole("Concourse 7.14.4 won't run here: fork/exec: exec format error (architecture? libraries?); use the linux-amd64 tarball")},
		{&storage.BadReleaseError{Binary: releases + "/7.14.4.partial-1a2b3c/concourse/bin/concourse", Version: v7144, Problem: `--version printed "7.14.3"`, Other: version.MustParse("7.14.3")},
			"BadReleaseError", relation.Blocked, whole("Tarball is 7.14.3, not 7.14.4: juju attach-resource concourse-ci-machine concourse-release=FILE, or fix release-url")},

		// The volume.
		{&storage.VolumeError{Path: jujuVolume, Reason: storage.ErrVolumeMissing, Err: syscall.ENOENT}, "VolumeError/missing", relation.Blocked,
			has("juju add-storage concourse-ci-machine/12 concourse-data")},
		{&storage.VolumeError{Path: jujuVolume, Reason: storage.ErrVolumeReadOnly, Err: syscall.EROFS}, "VolumeError/read-only", relation.Blocked,
			has("is read-only: remount it read-write")},
		{fmt.Errorf("worker directory: %w", &storage.VolumeError{Path: jujuVolume, Reason: storage.ErrVolumeFull, Err: syscall.ENOSPC}), "VolumeError/full", relation.Blocked,
			has("is full: free space there or grow the volume")},
		{&storage.VolumeError{Path: jujuVolume, Reason: storage.ErrVolumeNotDirectory}, "VolumeError/not-a-directory", relation.Blocked, has("is not a directory: move it aside, mount the shared filesystem there")},
		{&storage.VolumeError{Path: "relative/path", Reason: storage.ErrVolumeInvalidPath, Err: errors.New("not absolute")}, "VolumeError/invalid-path", relation.Blocked,
			has("(not absolute): see juju storage --format yaml")},
		{&storage.VolumeError{Path: jujuVolume, Reason: storage.ErrVolumeLayoutConflict, Err: errors.New("releases is a file")}, "VolumeError/layout-conflict", relation.Blocked,
			has("(releases is a file): move it aside")},
		{&storage.VolumeError{Path: jujuVolume, Reason: storage.ErrVolumeUnusable, Err: syscall.EACCES}, "VolumeError", relation.Blocked, has("(permission denied): check its mount")},
		{&storage.CorruptMarkerError{Path: jujuVolume + "/.installed_version", Err: errors.New("unexpected EOF")}, "CorruptMarkerError", relation.Blocked,
			has("remove it; the next unit that takes the lock writes it again")},
		{fmt.Errorf("%w: %s points to %q", storage.ErrCurrentNotSymlink, jujuVolume+"/current", "/opt/concourse"), "ErrCurrentNotSymlink", relation.Blocked,
			has("move it aside; the next install points current at the release")},
		{fmt.Errorf("worker directory for %s: %w: %s resolves to %s", testUnit, storage.ErrOutsideVolume, jujuVolume+"/workers/concourse-ci-machine-12", "/srv/elsewhere"),
			"ErrOutsideVolume", relation.Blocked, has("a symlink on the shared volume leads out of it; move it aside")},
		{&storage.StaleSwitchError{Have: 9, Got: 7, Fenced: v7144}, "StaleSwitchError", relation.Waiting, has("this unit catches up on its next hook")},
		{fmt.Errorf("%w: %s lacks bin/concourse", storage.ErrReleaseNotStaged, releases+"/7.14.4"), "ErrReleaseNotStaged", relation.Waiting, has("the next hook gets it ready again")},
		{errors.Join(errors.New("write the progress marker"), storage.ErrLockReleased), "bug", relation.Blocked,
			has("Charm bug, please report it with juju debug-log --include concourse-ci-machine/12")},
		{&storage.SwitchConflictError{Revision: 7, Fenced: v7144, Asked: version.MustParse("7.14.5")}, "bug", relation.Blocked, has("Charm bug")},
		{&services.ValidationError{Field: "WorkerUnit.WorkDir", Problem: "is not absolute"}, "bug", relation.Blocked, has("Charm bug")},

		// systemd.
		{fmt.Errorf("run worker on 7.14.4: %w", &services.StartFailedError{Unit: workerUnit, Op: "start", ExitedAfterStart: true, Status: unitStatus("starting", lagerLine)}),
			"StartFailedError/exited", relation.Blocked, has(`Worker died at start (exit status 1): "containerd:...d argument". journalctl -u ` + workerJournal)},
		{&services.StartFailedError{Unit: webUnitFile, Op: "restart", Status: services.UnitStatus{ActiveState: "failed", Result: "signal", ExecMainCode: 2, ExecMainStatus: 9}},
			"StartFailedError", relation.Blocked, whole(`Web failed to start (signal 9): no log lines. journalctl -u concourse-web-concourse-ci-machine-12`)},
		{&services.DependencyFailedError{Unit: workerUnit, Op: "start", Status: unitStatus("containerd.service: failed")}, "DependencyFailedError", relation.Blocked,
			whole("Worker not started: a unit it needs failed; see systemctl --failed")},
		{&services.JobTimeoutError{Unit: workerUnit, Op: "stop", BySystemd: true}, "JobTimeoutError/systemd", relation.Blocked, whole("systemd timed out the stop of Worker: journalctl -u " + workerJournal)},
		{&services.JobTimeoutError{Unit: webUnitFile, Op: "start", Waited: 90 * time.Second}, "JobTimeoutError", relation.Waiting, has("Web start not done after 1m30s; the next hook looks again (journalctl -u concourse-web-")},
		{&services.CancelledError{Unit: workerUnit, Op: "stop", Err: context.DeadlineExceeded}, "CancelledError", relation.Waiting, has("Worker stop cut short (context deadline exceeded); systemd goes on")},
		{&services.JobError{Unit: workerUnit, Op: "stop", Result: "canceled"}, "JobError/canceled", relation.Waiting, has("the next hook tries again")},
		{&services.JobError{Unit: workerUnit, Op: "stop", Result: "failed", Status: unitStatus(lagerLine)}, "JobError", relation.Blocked, has(`Worker stop ended "failed": "containerd`)},
		{&services.DrainHelperError{Unit: workerUnit, Op: "stop", Problem: "no record in /var/lib/concourse-ci-machine/drain/" + workerJournal + "/result.json"}, "DrainHelperError", relation.Blocked,
			has("): see ExecStop in systemctl cat " + workerJournal)},
		{&services.OfflineRetireError{Unit: workerUnit, Argv: []string{"/var/lib/juju/storage/concourse-data/0/releases/7.14.4/concourse/bin/concourse", "retire-worker"}, Err: errors.New("exit status 1"), Output: "dial tcp 10.0.0.4:2222: connect: connection refused\n"},
			"OfflineRetireError", relation.Blocked, has("): prune it: fly -t TARGET prune-worker -w WORKER")},
		{&services.MountedError{Dir: jujuVolume + "/workers/concourse-ci-machine-12", Mounts: []string{"a", "b", "c"}, Err: errors.New("unmount " + jujuVolume + "/workers/concourse-ci-machine-12/overlays/x: device or resource busy")},
			"MountedError", relation.Blocked, has("nothing deleted: reboot the machine; the next hook removes it")},
		{&services.UnitNotFoundError{Unit: workerUnit, Op: "start"}, "UnitNotFoundError", relation.Waiting, has("the next hook writes it again")},
		{&services.BusError{Address: "/run/systemd/private", Op: "connect", Err: &net.OpError{Op: "dial", Net: "unix", Err: syscall.ENOENT}}, "BusError", relation.Blocked,
			has("): it must run as PID 1; see systemctl is-system-running")},

		// Wrappers and the Juju tools.
		{stage(errors.New("rename releases/7.14.4.partial: input/output error")), "StageError", relation.Blocked, has("Cannot get Concourse 7.14.4 ready: rename releases/7.14.4.partial")},
		{&relation.ToolError{Argv: []string{"status-set", "active"}, ExitCode: 1, Err: errors.New("exit status 1")}, "ToolError", relation.Blocked, has("A Juju hook tool failed")},
		{fmt.Errorf("download %s: %w", githubURL, context.DeadlineExceeded), "DeadlineExceeded", relation.Waiting, has("the next hook tries again")},

		// The wiring: database, TSA, keys, settings.
		{&PostgresMissingError{App: testApp}, "PostgresMissingError", relation.Blocked, whole("waiting for PostgreSQL: juju integrate concourse-ci-machine postgresql")},
		{&relation.PostgresPendingError{Remote: "postgresql", Missing: []string{"endpoints"}}, "PostgresPendingError", relation.Waiting, whole("Waiting for PostgreSQL (postgresql) to send endpoints")},
		{&relation.PostgresUnusableError{Remote: "pg", Err: &concourse.PostgresDataError{Field: "tls", Reason: `"maybe" is neither True nor False`}}, "PostgresUnusableError", relation.Blocked,
			whole(`Web stopped: PostgreSQL (pg) sent unusable tls: "maybe" is neither True nor False`)},
		{&relation.PostgresUnusableError{Remote: "pg", Err: &relation.SecretReadError{Key: "secret-user", URI: "secret:x", Err: errors.New("not found")}}, "PostgresUnusableError", relation.Blocked,
			whole("Web stopped: PostgreSQL (pg) secret-user secret secret:x unreadable: not found")},
		// As in production, where secret-get failing is a ToolError: the
		// entry that knows it was PostgreSQL's secret wins.
		{&relation.PostgresUnusableError{Remote: "pg", Err: &relation.SecretReadError{Key: "secret-user", URI: "secret:x",
			Err: &relation.ToolError{Argv: []string{"secret-get", "secret:x", "--refresh", "--format=json"}, ExitCode: 1, Stderr: "ERROR permission denied\n", Err: errors.New("exit status 1")}}},
			"PostgresUnusableError", relation.Blocked, whole("Web stopped: PostgreSQL (pg) secret-user secret secret:x unreadable: permission denied")},
		{&NoTSAError{App: testApp, Mode: ModeWorker}, "NoTSAError/worker", relation.Blocked, whole("waiting for web: juju integrate concourse-ci-machine:web-tsa <web application>:tsa")},
		{&NoTSAError{App: testApp, Mode: ModeWorker, Web: "ci-web"}, "NoTSAError", relation.Waiting, whole("Waiting for web: web application ci-web offers no TSA yet")},
		{&NoTSAError{App: testApp, Mode: ModeAuto}, "NoTSAError", relation.Waiting, whole("Waiting for web: no web unit of concourse-ci-machine has offered its TSA yet")},
		{&relation.TSADataError{From: "application ci-web", Key: "tsa-hosts", Reason: `has "x", which is not host:port`}, "TSADataError", relation.Blocked,
			whole(`Worker not started: tsa-hosts from application ci-web has "x", which is not host:port`)},
		{&concourse.InvalidPublicKeyError{Source: "the TSA offers", Index: 1, Reason: "is not an SSH public key in authorized_keys form"}, "InvalidPublicKeyError", relation.Blocked,
			whole("Worker not started: public key 1 from the TSA offers: is not an SSH public key in authorized_keys form")},
		{&NetworkWorkDirError{Filesystem: "nfs", Driver: "detect"}, "NetworkWorkDirError", relation.Blocked,
			whole("Worker dir on nfs: juju config concourse-ci-machine baggageclaim-driver=naive, or give workers a local volume")},
		{fmt.Errorf("the cluster's keys: %w", &concourse.PartialKeySetError{Dir: "/var/lib/concourse/keys", Missing: []string{"worker_key"}, Present: []string{"tsa_host_key"}}), "PartialKeySetError", relation.Blocked,
			whole("Keys in /var/lib/concourse/keys lack worker_key: restore them, or move the directory aside for new keys")},
		{&concourse.CorruptKeyError{Path: "/var/lib/concourse/keys/worker_key", Reason: "holds no PEM block"}, "CorruptKeyError", relation.Blocked,
			whole("Key file /var/lib/concourse/keys/worker_key holds no PEM block: restore it, or move its directory aside for new keys")},
		{&concourse.PortRangeError{Unit: 5000, WebPort: 8080, Setting: "CONCOURSE_BIND_PORT", Port: 73080}, "PortRangeError", relation.Blocked,
			whole("Unit number 5000 puts CONCOURSE_BIND_PORT at 73080: lower juju config concourse-ci-machine web-port")},
		{&concourse.RuntimeConflictError{Runtime: "houdini", Key: "CONCOURSE_GARDEN_DNS_SERVER"}, "RuntimeConflictError", relation.Blocked,
			whole("Fix juju config concourse-ci-machine worker-environment: runtime houdini refuses CONCOURSE_GARDEN_DNS_SERVER")},
		{errors.Join(&concourse.MissingSettingError{Role: concourse.RoleWeb, Key: "CONCOURSE_EXTERNAL_URL"}), "MissingSettingError/external-url", relation.Blocked,
			whole("Web has no address to be reached at: juju config concourse-ci-machine external-url=https://...")},
		{&concourse.InvalidSettingError{Role: concourse.RoleWorker, Key: "CONCOURSE_TAG", Reason: `has "a b", which is not a tag`}, "InvalidSettingError/tags", relation.Blocked,
			whole(`concourse worker: CONCOURSE_TAG has "a b", which is not a tag: juju config concourse-ci-machine worker-tags=...`)},
		{&concourse.ManagedSettingError{Role: concourse.RoleWorker, Key: "CONCOURSE_NAME"}, "ManagedSettingError", relation.Blocked,
			whole("Fix juju config concourse-ci-machine worker-environment: drop CONCOURSE_NAME, the charm sets it")},
		{&concourse.MissingSettingError{Role: concourse.RoleWeb, Key: "CONCOURSE_POSTGRES_HOST"}, "MissingSettingError", relation.Blocked, whole("concourse web needs CONCOURSE_POSTGRES_HOST, which is not set")},
		{&concourse.InvalidSettingError{Role: concourse.RoleWorker, Key: "CONCOURSE_WORK_DIR", Reason: "is not a clean absolute path"}, "InvalidSettingError", relation.Blocked,
			whole("concourse worker: CONCOURSE_WORK_DIR is not a clean absolute path")},
		{&concourse.InvalidChoiceError{Role: concourse.RoleWorker, Key: "CONCOURSE_RUNTIME", Choices: []string{"guardian"}}, "InvalidChoiceError", relation.Blocked,
			whole("concourse worker: CONCOURSE_RUNTIME is not one of guardian")},
		{&concourse.UnknownSettingError{Role: concourse.RoleWeb, Key: "CONCOURSE_X"}, "UnknownSettingError", relation.Blocked, whole("concourse web has no setting CONCOURSE_X")},

		// Ghost workers still to prune, and what keeps a worker off its
		// machine (prune.go, preconditions.go; more in preconditions_test.go).
		{&PruneError{Workers: []string{"prod-concourse-ci-machine-12"}, Err: &concourse.UnreachableError{Op: "list workers", URL: "http://127.0.0.1:8236/api/v1/workers", Err: errors.New("connection refused")}},
			"PruneError/unreachable", relation.Active, whole("pruning stalled worker prod-concourse-ci-machine-12: web's API did not answer; retried on update-status")},
		{&PruneError{Workers: []string{"w"}, Err: &concourse.LoginError{URL: "http://x/sky/issuer/token", User: "admin", Status: 401}}, "PruneError/login", relation.Active,
			whole("pruning stalled worker w: web refused the admin's login; prune it with fly")},
		{&PruneError{Workers: []string{"a", "b"}, Err: &concourse.APIError{Op: "list workers", URL: "http://x/api/v1/workers", Status: 500}}, "PruneError", relation.Active,
			whole("pruning stalled workers a, b: concourse API list workers: http://x/api/v1/workers answered 500 Internal Server Error")},
		{&PruneGaveUpError{Worker: "w", Unit: "concourse/2", State: "retiring", After: 70 * time.Minute}, "PruneGaveUpError", relation.Active,
			whole("gave up pruning worker w after 1h10m (retiring): prune it with fly once it stalls")},
		{&NoNestingError{Container: "juju-1a2b3c-1", Runtime: "containerd"}, "NoNestingError", relation.Blocked,
			whole("Worker needs LXD nesting: lxc config set juju-1a2b3c-1 security.nesting=true; restart it (or the charm's lxd-profile)")},
		{fmt.Errorf("worker: %w", &SharedContainerdError{Other: testApp + "/0"}), "SharedContainerdError", relation.Blocked,
			whole("containerd is taken here: juju config concourse-ci-machine worker-runtime=houdini (or guardian), or one unit per machine")},
	}
}

// Every error kind maps to its entry, its status level and a line that
// fits `juju status` whole (nothing cut by fit), saying what to run.
func TestAdviceTable(t *testing.T) {
	t.Parallel()
	h := &hook{app: testApp, self: testUnit}
	for _, tc := range adviceCases() {
		t.Run(tc.kind, func(t *testing.T) {
			a, ok := adviceFor(pick(tc.err))
			require.True(t, ok, "no entry for %v", tc.err)
			assert.Equal(t, tc.kind, a.kind, "%v", tc.err)
			assert.Equal(t, tc.state, adviceState(tc.err), "%v", tc.err)
			line := h.adviceLine(tc.err)
			if tc.line.whole {
				assert.Equal(t, tc.line.text, line)
			} else {
				assert.Contains(t, line, tc.line.text)
			}
			assert.LessOrEqual(t, len(line), relation.MaxStatusLen, line)
			raw, _ := scene{app: testApp, unit: testUnit, width: relation.MaxStatusLen}.line(tc.err)
			assert.Equal(t, line, raw, "the line fits without fit cutting it")
		})
	}
}

// No entry of the table is dead: some case reaches each, and the kinds
// are unique, so a case names the entry it means.
func TestAdviceTableHasNoDeadEntry(t *testing.T) {
	t.Parallel()
	hit := map[string]bool{}
	for _, tc := range adviceCases() {
		if a, ok := adviceFor(pick(tc.err)); ok {
			hit[a.kind] = true
		}
	}
	seen := map[string]int{}
	for i, a := range adviceTable() {
		assert.True(t, hit[a.kind], "no case reaches %s", a.kind)
		if j, dup := seen[a.kind]; dup {
			t.Errorf("entries %d and %d are both %s", j, i, a.kind)
		}
		seen[a.kind] = i
	}
}

// Proxy advice is for the network only: a 404, a checksum and a missing
// sidecar never mention a proxy.
func TestAdviceNoProxyAdviceOffTheNetwork(t *testing.T) {
	t.Parallel()
	h := &hook{app: testApp, self: testUnit}
	for _, tc := range adviceCases() {
		line := h.adviceLine(tc.err)
		network := strings.HasPrefix(tc.kind, "DownloadError/network") || tc.kind == "ReadTimeoutError" ||
			tc.kind == "TruncatedArchiveError" || tc.kind == "HTTPStatusError/proxy-auth"
		if !network {
			assert.NotContains(t, line, "proxy", "%s: %s", tc.kind, line)
		}
	}
}

// The hostile-archive reasons each keep their own entry and words.
func TestAdviceHostileReasonsStayApart(t *testing.T) {
	t.Parallel()
	h := &hook{app: testApp, self: testUnit}
	lines := map[string]string{}
	for _, tc := range adviceCases() {
		if !strings.HasPrefix(tc.kind, "HostileArchiveError/") {
			continue
		}
		e := unwrapAs[*storage.HostileArchiveError](tc.err)
		e2 := *e
		e2.Entry, e2.Detail = "concourse/x", ""
		line := h.adviceLine(&e2)
		for kind, other := range lines {
			assert.NotEqual(t, other, line, "%s and %s read the same", kind, tc.kind)
		}
		lines[tc.kind] = line
	}
	assert.Len(t, lines, 12)
}

// The CLI gets the same line, naming the application as given, and
// nothing for an error the charm has no advice for.
func TestAdviceForTheCLI(t *testing.T) {
	t.Parallel()
	err := download(githubURL, 1, &storage.HTTPStatusError{URL: githubURL, Status: 404})
	assert.Contains(t, Advice(err, "<app>"), "juju config <app> release-url=...")
	assert.Contains(t, Advice(&storage.VolumeError{Path: jujuVolume, Reason: storage.ErrVolumeMissing}, "<app>"), "juju add-storage <app>/N concourse-data")
	assert.Empty(t, Advice(errors.New("something else"), "<app>"))
	// A terminal is wider than juju status: nothing is shortened there.
	long := &storage.VolumeError{Path: strings.Repeat("/very/long/path", 10), Reason: storage.ErrVolumeMissing}
	assert.Contains(t, Advice(long, "<app>"), long.Path)
}

// A busy lock seen while staging reads the same in a waiting line.
func TestDescribeStillWaiting(t *testing.T) {
	t.Parallel()
	progress := &storage.Progress{Unit: "ci/3", PID: 77, Version: v7144, Started: t0.Add(-time.Hour)}
	err := &StillWaitingError{Locked: &storage.LockedError{Root: jujuVolume, Progress: progress, Stuck: true, At: t0}}
	assert.Equal(t, "Install of 7.14.4 by ci/3 stuck 1h0m: pid 77 hung? Kill it; never rm .lock", describe(err))
	assert.Equal(t, "plain", describe(errors.New("plain")))
}

func TestSqueezeCutsValuesNotCommands(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("v", 200)
	status := scene{width: relation.MaxStatusLen}
	line := status.squeeze("A %s and %s: run %s now", long, "short value here", keep(strings.Repeat("c", 40)))
	assert.Len(t, line, relation.MaxStatusLen)
	assert.Contains(t, line, strings.Repeat("c", 40)+" now")
	assert.Contains(t, line, "short value here")
	assert.Contains(t, line, "...")
	// Nothing to cut: the line stays as it is.
	assert.Equal(t, "ok", status.squeeze("ok"))
	assert.Equal(t, "A "+long, scene{}.squeeze("A %s", long), "no width: nothing is cut")
	assert.Equal(t, "ab...yz", elide("abcdefghijklmnopqrstuvwxyz", 7))
	assert.Equal(t, "é...é", elide("ééééé", 7), "never a broken rune")
	assert.Equal(t, "...", elide("ééééé", 5), "never a broken rune")
}

// Every problem inspect reports has its advice, here and not in the CLI.
func TestInspectAdvice(t *testing.T) {
	t.Parallel()
	root := jujuVolume
	free := storage.Report{Root: root, Lock: storage.LockReport{State: storage.LockFree}}
	held := storage.Report{Root: root, Lock: storage.LockReport{State: storage.LockHeld, Holder: &storage.Holder{Unit: "ci/3", PID: 77, Host: "juju-7f3a1c-3"}}}
	tests := []struct {
		kind storage.ProblemKind
		path string
		r    storage.Report
		want string
	}{
		{storage.ProblemVolatileFS, root, free, "Mount a persistent filesystem"},
		{storage.ProblemUnreadable, root + "/releases", free, "Check the filesystem"},
		{storage.ProblemLockUnprobed, root + "/.lock", free, "flock support"},
		{storage.ProblemNotADirectory, root + "/workers", free, "Move it away"},
		{storage.ProblemMode, root + "/keys", free, "chmod 700 " + root + "/keys"},
		{storage.ProblemMode, root + "/workers/ci-3", free, "chmod 700 " + root + "/workers/ci-3"},
		{storage.ProblemCorruptMarker, root + "/.installed_version", free, "the next unit that takes the lock writes it again"},
		{storage.ProblemInstalledMissing, root + "/.installed_version", free, "Remove " + root + "/.installed_version"},
		{storage.ProblemCurrentNotSymlink, root + "/current", free, "Remove it"},
		{storage.ProblemCurrentOutside, root + "/current", free, "Remove it"},
		{storage.ProblemCurrentMissing, root + "/current", free, "points it at a staged release"},
		{storage.ProblemStuckInstall, root + "/.download_in_progress", held, "Check whether pid 77 on juju-7f3a1c-3 still works (juju debug-log --include ci/3)"},
		{storage.ProblemStuckInstall, root + "/.download_in_progress", free, "the lock is never taken from a live holder"},
		{storage.ProblemInterruptedInstall, root + "/.download_in_progress", free, "Nothing to do unless it stays"},
		{storage.ProblemPartialRelease, root + "/releases/7.14.4.partial-1", free, "Nothing to do unless it stays"},
		{storage.ProblemLowSpace, root, free, "rm -rf " + root + "/releases/*" + storage.PartialInfix + "*"},
		{storage.ProblemLowSpace, root, held, "delete them only once the lock is free"},
	}
	for _, tc := range tests {
		assert.Contains(t, InspectAdvice(storage.Problem{Kind: tc.kind, Path: tc.path}, tc.r), tc.want, tc.kind)
	}
	assert.Empty(t, InspectAdvice(storage.Problem{Kind: "unheard-of"}, free))
}

// A detail that fits stays; one that does not is left out before any
// command is cut.
func TestAdviceKeepsDetailsWhenThereIsRoom(t *testing.T) {
	t.Parallel()
	short := &hook{app: "ci", self: "ci/0"}
	long := &hook{app: testApp, self: testUnit}
	param := &ParamError{Param: "version", Value: "7.14", Err: &version.Error{Input: "7.14", Reason: "it has no patch number"}}
	assert.Equal(t, `version="7.14" is not a Concourse release version (it has no patch number): juju run ci/leader upgrade version=7.14.3`, short.adviceLine(param))
	assert.NotContains(t, long.adviceLine(param), "patch number")
	link := &storage.HostileArchiveError{Entry: "concourse/bin/gdn", Detail: "-> /etc/shadow", Reason: storage.ErrLinkEscapes}
	assert.Equal(t, `Refused "concourse/bin/gdn": link leaves release (-> /etc/shadow). Official tarball: juju config ci --reset release-url`, short.adviceLine(link))
	assert.Equal(t, `Refused "concourse/bin/gdn": link leaves release. Official tarball: juju config concourse-ci-machine --reset release-url`, long.adviceLine(link))
}
