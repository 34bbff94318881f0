package charm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/concourse"
	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"github.com/concourse-ci-machine/concourse-ci-machine/relation"
)

// clusterKeys is the key set on the unit's volume: one per cluster when
// the volume is shared, one per unit otherwise (then the public keys
// travel through the relations).
type clusterKeys struct {
	files concourse.KeyFiles
	// The public keys, one authorized_keys line each, without newline.
	tsaPublic    string
	workerPublic string
}

// volumeLock is concourse.Locked over the unit's volume lock.
type volumeLock struct {
	ctx  context.Context
	vol  Volume
	unit string
}

func (l volumeLock) Held(fn func() error) error { return l.vol.WithLock(l.ctx, l.unit, fn) }

// ensureKeys makes sure the volume holds the cluster's keys: the first
// unit to hold the volume lock generates them, every other unit reuses
// them. A complete set (its record written last, no generation under way)
// is read without the lock, so a unit never waits on a download for keys
// that exist.
func (h *hook) ensureKeys(ctx context.Context) (clusterKeys, error) {
	dir := h.vol.KeysDir()
	if k, ok := readCompleteKeys(dir); ok {
		return k, nil
	}
	res, err := concourse.EnsureKeys(volumeLock{ctx: ctx, vol: h.vol, unit: h.self}, dir, concourse.KeyOptions{Bits: h.d.KeyBits})
	if err != nil {
		return clusterKeys{}, err
	}
	switch {
	case res.Generated:
		_ = h.d.Juju.Log(ctx, relation.LogInfo, "generated the cluster's keys in "+dir)
	case res.Adopted:
		_ = h.d.Juju.Log(ctx, relation.LogInfo, "adopted the complete key set found in "+dir)
	}
	if len(res.Recovered) > 0 {
		_ = h.d.Juju.Log(ctx, relation.LogWarning, "removed an interrupted key generation: "+strings.Join(res.Recovered, ", "))
	}
	return clusterKeys{files: res.Files, tsaPublic: strings.TrimSpace(res.TSAHostPublicKey), workerPublic: strings.TrimSpace(res.WorkerPublicKey)}, nil
}

// readCompleteKeys reads the public keys of a set that EnsureKeys
// finished; ok is false when anything is missing, under way or unreadable
// (EnsureKeys, under the lock, then says what).
func readCompleteKeys(dir string) (clusterKeys, bool) {
	if _, err := os.Stat(filepath.Join(dir, concourse.KeySetRecordName)); err != nil {
		return clusterKeys{}, false
	}
	if _, err := os.Lstat(filepath.Join(dir, concourse.KeySetIntentName)); !errors.Is(err, fs.ErrNotExist) {
		return clusterKeys{}, false
	}
	k := clusterKeys{files: concourse.KeyFilesIn(dir)}
	for _, p := range []struct {
		path string
		into *string
	}{{k.files.TSAHostPublicKey, &k.tsaPublic}, {k.files.WorkerPublicKey, &k.workerPublic}} {
		data, err := os.ReadFile(p.path)
		if err != nil {
			return clusterKeys{}, false
		}
		line, err := concourse.NormalizePublicKey(string(data))
		if err != nil {
			return clusterKeys{}, false
		}
		*p.into = strings.TrimSpace(line)
	}
	for _, private := range []string{k.files.SessionSigningKey, k.files.TSAHostKey, k.files.WorkerKey} {
		if st, err := os.Stat(private); err != nil || !st.Mode().IsRegular() {
			return clusterKeys{}, false
		}
	}
	return k, true
}

// adminPassword is the initial admin's password, generated once per
// volume under the volume lock (before web first starts) and kept 0600
// in the keys directory, where get-admin-password reads it.
func (h *hook) adminPassword(ctx context.Context) (string, error) {
	password, err := readAdminPassword(h.vol)
	var notYet *NotReadyError
	if !errors.As(err, &notYet) {
		return password, err
	}
	err = h.vol.WithLock(ctx, h.self, func() error {
		password, err = readAdminPassword(h.vol)
		if !errors.As(err, &notYet) {
			return err
		}
		// Hex: Concourse's local users are "user:password" pairs separated
		// by commas, so the password holds neither.
		password = fsutil.RandomHex(16)
		return fsutil.WriteFile(filepath.Join(h.vol.KeysDir(), adminPasswordFile), []byte(password+"\n"), 0o600)
	})
	if err != nil {
		return "", fmt.Errorf("create the admin password: %w", err)
	}
	return password, nil
}

// authorizedWorkerKeys is web's authorized_worker_keys: the worker key of
// the unit's volume, of every peer, and of every unit of a workers-only
// application related over tsa. A key that is not one is left out, and
// the status says whose.
func (h *hook) authorizedWorkerKeys() []byte {
	keys := []string{h.wire.keys.workerPublic}
	add := func(owner, key string) {
		line, err := concourse.NormalizePublicKey(key)
		if err != nil {
			h.notes = append(h.notes, fmt.Sprintf("ignoring the worker key of %s: %v", owner, err))
			return
		}
		keys = append(keys, line)
	}
	for _, u := range h.activePeers() {
		if k := h.peers.Members[u].Facts.WorkerKey; k != "" {
			add(u, k)
		}
	}
	for _, k := range h.wire.remoteKeys {
		add(k.Unit, k.Key)
	}
	data, err := concourse.RenderAuthorizedWorkerKeys("the relations", slices.DeleteFunc(keys, func(k string) bool { return k == "" }))
	if err != nil {
		// Every key was normalized above: cannot happen.
		h.problems = append(h.problems, err)
	}
	return data
}
