package storage

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withDurability replaces the volume's durability, for tests that check the
// order of syncs and renames.
func withDurability(d durability) Option { return func(c *config) { c.durable = d } }

// orderRecorder is a durability that records its calls (and then does the
// real renames, without syncing). watch, when set, sees each call before it
// is carried out.
type orderRecorder struct {
	mu    sync.Mutex
	calls []string
	watch func(op string)
}

func (r *orderRecorder) record(op string, paths ...string) {
	r.mu.Lock()
	r.calls = append(r.calls, op+" "+strings.Join(paths, " "))
	watch := r.watch
	r.mu.Unlock()
	if watch != nil {
		watch(op + " " + filepath.Base(paths[len(paths)-1]))
	}
}

func (r *orderRecorder) syncData(dir string) error { r.record("syncdata", dir); return nil }
func (r *orderRecorder) syncDir(dir string) error  { r.record("syncdir", dir); return nil }
func (r *orderRecorder) rename(from, to string) error {
	r.record("rename", from, to)
	return osDurability{noSync: true}.rename(from, to)
}

// ops returns the calls with paths relative to v's root and temporary names
// cut to their base, for comparison.
func (r *orderRecorder) ops(v *Volume) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		fields := strings.Fields(c)
		op, paths := fields[0], fields[1:]
		if op == "rename" {
			out = append(out, op+" "+rel(v, paths[1])) // the destination says what moved
			continue
		}
		out = append(out, op+" "+rel(v, paths[0]))
	}
	return out
}

func rel(v *Volume, path string) string {
	r, err := filepath.Rel(v.Root(), path)
	if err != nil {
		return path
	}
	return r
}

// WithoutSync turns every sync into a no-op, in the atomic writer as in the
// durability, and keeps a test's durability when applied on top.
func TestWithoutSync(t *testing.T) {
	t.Parallel()
	c := newConfig([]Option{WithoutSync()})
	assert.True(t, c.atomic.NoSync)
	assert.Equal(t, osDurability{noSync: true}, c.durable)
	missing := filepath.Join(t.TempDir(), "missing")
	assert.NoError(t, c.durable.syncData(missing), "no sync: nothing is opened")
	assert.NoError(t, c.durable.syncDir(missing))

	synced := newConfig(nil)
	assert.False(t, synced.atomic.NoSync, "production syncs")
	assert.Error(t, synced.durable.syncData(missing), "a real sync opens the directory")
	assert.Error(t, synced.durable.syncDir(missing))

	v := testVolume(t)
	quiet := v.WithOptions(WithoutSync())
	assert.True(t, quiet.cfg.noSync)
	assert.False(t, v.cfg.noSync, "the original handle is unchanged")
	rec := &orderRecorder{}
	recorded := testVolume(t, withDurability(rec)).WithOptions(WithoutSync())
	require.Same(t, rec, recorded.cfg.durable.(*orderRecorder), "a test's durability survives WithOptions")
}
