package storage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLockedErrorMessages(t *testing.T) {
	t.Parallel()
	holder := &Holder{Unit: "concourse/1", PID: 12, Host: "node-a", Since: testEpoch}
	progress := &Progress{Unit: "concourse/1", PID: 12, Version: ver("7.12.0"), Started: testEpoch}
	at := testEpoch.Add(12 * time.Minute)
	tests := []struct {
		name string
		err  LockedError
		want string
	}{
		{"holder", LockedError{Root: "/v", Holder: holder, At: at},
			"shared volume /v is locked by concourse/1 (pid 12 on host node-a) for 12m0s"},
		{"holder without a start time", LockedError{Root: "/v", Holder: &Holder{Unit: "a/0", PID: 1, Host: "h"}, At: at},
			"shared volume /v is locked by a/0 (pid 1 on host h)"},
		{"unnamed holder", LockedError{Root: "/v", Holder: &Holder{PID: 1, Host: "h", Since: at}, At: at},
			"shared volume /v is locked by an unnamed process (pid 1 on host h) for 0s"},
		{"unknown holder", LockedError{Root: "/v", At: at},
			"shared volume /v is locked by a holder that has not written .lock.holder (yet, or it could not)"},
		{"installing", LockedError{Root: "/v", Holder: holder, Progress: progress, At: testEpoch.Add(time.Minute)},
			"shared volume /v is locked by concourse/1 (pid 12 on host node-a) for 1m0s; concourse/1 has been installing 7.12.0 for 1m0s"},
		{"stuck", LockedError{Root: "/v", Holder: holder, Progress: progress, Stuck: true, At: at},
			"shared volume /v is locked by concourse/1 (pid 12 on host node-a) for 12m0s; stuck: the install of 7.12.0 by concourse/1 (pid 12) started 12m0s ago, more than 10m0s"},
		{"stuck, holder unknown", LockedError{Root: "/v", Progress: progress, Stuck: true, At: at},
			"has not written .lock.holder (yet, or it could not); stuck: the install of 7.12.0 by concourse/1 (pid 12)"},
		{"clock behind the holder's", LockedError{Root: "/v", Holder: holder, At: testEpoch.Add(-time.Hour)},
			"for 0s"},
	}
	for _, tc := range tests {
		err := tc.err
		assert.Contains(t, err.Error(), tc.want, tc.name)
		for _, advice := range []string{"juju", "kill", "check"} {
			assert.NotContains(t, err.Error(), advice, tc.name)
		}
	}
}
