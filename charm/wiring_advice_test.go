package charm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
	"github.com/stretchr/testify/assert"
)

// Every error kind of the wiring has its status level and one line that
// fits `juju status` whole, with the command to run where there is one.
func TestWiringAdvice(t *testing.T) {
	t.Parallel()
	const app = "concourse-ci-machine"
	tests := []struct {
		err   error
		state relation.StatusState
		line  string
	}{
		{&PostgresMissingError{App: app}, relation.Blocked, "waiting for PostgreSQL: juju integrate concourse-ci-machine postgresql"},
		{&relation.PostgresPendingError{Remote: "postgresql", Missing: []string{"endpoints"}}, relation.Waiting, "Waiting for PostgreSQL (postgresql) to send endpoints"},
		{&relation.PostgresUnusableError{Remote: "pg", Err: &concourse.PostgresDataError{Field: "tls", Reason: `"maybe" is neither True nor False`}}, relation.Blocked,
			`Web stopped: PostgreSQL (pg) sent unusable tls: "maybe" is neither True nor False`},
		{&relation.PostgresUnusableError{Remote: "pg", Err: &relation.SecretReadError{Key: "secret-user", URI: "secret:x", Err: errors.New("not found")}}, relation.Blocked,
			"Web stopped: PostgreSQL (pg) sent unusable secret-user: cannot read secret secret:x: not found"},
		{&NoTSAError{App: app, Mode: ModeWorker}, relation.Blocked, "waiting for web: juju integrate concourse-ci-machine:web-tsa <web application>:tsa"},
		{&NoTSAError{App: app, Mode: ModeWorker, Web: "ci-web"}, relation.Waiting, "Waiting for web: web application ci-web offers no TSA yet"},
		{&NoTSAError{App: app, Mode: ModeAuto}, relation.Waiting, "Waiting for web: no web unit of concourse-ci-machine has offered its TSA yet"},
		{&relation.TSADataError{From: "application ci-web", Key: "tsa-hosts", Reason: `has "x", which is not host:port`}, relation.Blocked,
			`Worker not started: tsa-hosts from application ci-web has "x", which is not host:port`},
		{&NetworkWorkDirError{Filesystem: "nfs", Driver: "detect"}, relation.Blocked,
			"Worker dir on nfs: juju config concourse-ci-machine baggageclaim-driver=naive, or give workers a local volume"},
		{fmt.Errorf("the cluster's keys: %w", &concourse.PartialKeySetError{Dir: "/var/lib/concourse/keys", Missing: []string{"worker_key"}, Present: []string{"tsa_host_key"}}), relation.Blocked,
			"Keys in /var/lib/concourse/keys lack worker_key: restore them, or move the directory aside for new keys"},
		{&concourse.CorruptKeyError{Path: "/var/lib/concourse/keys/worker_key", Reason: "holds no PEM block"}, relation.Blocked,
			"Key file /var/lib/concourse/keys/worker_key holds no PEM block: restore it, or move its directory aside for new keys"},
		{&concourse.PortRangeError{Unit: 5000, WebPort: 8080, Setting: "CONCOURSE_BIND_PORT", Port: 73080}, relation.Blocked,
			"Unit number 5000 puts CONCOURSE_BIND_PORT at 73080: lower juju config concourse-ci-machine web-port"},
		{&concourse.RuntimeConflictError{Runtime: "houdini", Key: "CONCOURSE_GARDEN_DNS_SERVER"}, relation.Blocked,
			"Fix juju config concourse-ci-machine worker-environment: runtime houdini refuses CONCOURSE_GARDEN_DNS_SERVER"},
		{errors.Join(&concourse.MissingSettingError{Role: concourse.RoleWeb, Key: "CONCOURSE_EXTERNAL_URL"}), relation.Blocked,
			"Web has no address to be reached at: juju config concourse-ci-machine external-url=https://..."},
		{&concourse.InvalidSettingError{Role: concourse.RoleWorker, Key: "CONCOURSE_TAG", Reason: `has "a b", which is not a tag`}, relation.Blocked,
			`concourse worker: CONCOURSE_TAG has "a b", which is not a tag: juju config concourse-ci-machine worker-tags=...`},
		{&concourse.ManagedSettingError{Role: concourse.RoleWorker, Key: "CONCOURSE_NAME"}, relation.Blocked,
			"Fix juju config concourse-ci-machine worker-environment: drop CONCOURSE_NAME, the charm sets it"},
		{&concourse.MissingSettingError{Role: concourse.RoleWeb, Key: "CONCOURSE_POSTGRES_HOST"}, relation.Blocked, "concourse web needs CONCOURSE_POSTGRES_HOST, which is not set"},
		{&concourse.InvalidSettingError{Role: concourse.RoleWorker, Key: "CONCOURSE_WORK_DIR", Reason: "is not a clean absolute path"}, relation.Blocked,
			"concourse worker: CONCOURSE_WORK_DIR is not a clean absolute path"},
		{&concourse.InvalidChoiceError{Role: concourse.RoleWorker, Key: "CONCOURSE_RUNTIME", Choices: []string{"guardian"}}, relation.Blocked,
			"concourse worker: CONCOURSE_RUNTIME is not one of guardian"},
		{&concourse.UnknownSettingError{Role: concourse.RoleWeb, Key: "CONCOURSE_X"}, relation.Blocked, "concourse web has no setting CONCOURSE_X"},
	}
	h := &hook{app: app}
	covered := map[string]bool{}
	for _, tc := range tests {
		if a, ok := adviceFor(tc.err); ok {
			covered[a.kind] = true
		}
		assert.Equal(t, tc.state, adviceState(tc.err), "%v", tc.err)
		line := h.adviceLine(tc.err)
		assert.Equal(t, tc.line, line)
		assert.LessOrEqual(t, len(line), relation.MaxStatusLen)
	}
	for _, a := range wiringAdvice() {
		assert.True(t, covered[a.kind], "no case for %s", a.kind)
	}
}
