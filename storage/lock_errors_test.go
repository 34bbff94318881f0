package storage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockedErrorMessages(t *testing.T) {
	t.Parallel()
	holder := &Holder{Unit: "concourse/1", PID: 12, Host: "node-a", Since: testEpoch}
	progress := &Progress{Unit: "concourse/1", PID: 12, Version: "7.12.0", Started: testEpoch}
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
			"shared volume /v is locked by a holder that has not identified itself yet (no .lock.holder: it is still cleaning up after a previous holder, or could not write it, e.g. on a full disk)"},
		{"installing", LockedError{Root: "/v", Holder: holder, Progress: progress, At: testEpoch.Add(time.Minute)},
			"shared volume /v is locked by concourse/1 (pid 12 on host node-a) for 1m0s; concourse/1 has been installing 7.12.0 for 1m0s"},
		{"stuck", LockedError{Root: "/v", Holder: holder, Progress: progress, Stuck: true, At: at},
			"shared volume /v is locked by concourse/1 (pid 12 on host node-a) for 12m0s; STUCK: the install of 7.12.0 by concourse/1 (pid 12) started 12m0s ago, more than 10m0s: " +
				"check whether pid 12 on node-a is still working (juju debug-log --include concourse/1); the lock is never taken from a live holder, " +
				"so if it hangs, kill that process: the kernel then frees the lock and the next unit cleans up and retries"},
		{"stuck, holder unknown", LockedError{Root: "/v", Progress: progress, Stuck: true, At: at},
			"check whether pid 12 on its host is still working (juju debug-log --include concourse/1)"},
		{"clock behind the holder's", LockedError{Root: "/v", Holder: holder, At: testEpoch.Add(-time.Hour)},
			"for 0s"},
	}
	for _, tc := range tests {
		err := tc.err
		assert.Contains(t, err.Error(), tc.want, tc.name)
		require.ErrorIs(t, &err, ErrLocked, tc.name)
	}
}
