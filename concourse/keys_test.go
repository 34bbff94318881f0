package concourse

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// testBits keeps generation fast; production uses DefaultKeyBits.
const testBits = 1024

var testOpts = KeyOptions{Bits: testBits}

// heldLock is a Locked that is always held: for tests of one caller.
type heldLock struct{}

func (heldLock) Held(fn func() error) error { return fn() }

// flockLock holds a real exclusive flock on its own open of path while
// Held runs, as the volume lock does.
type flockLock struct{ path string }

func (l flockLock) Held(fn func() error) error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN) //nolint:errcheck // closing unlocks too
	return fn()
}

func TestGenerateKeySetFormsConcourseReads(t *testing.T) {
	t.Parallel()
	ks, err := GenerateKeySet(nil, testBits)
	require.NoError(t, err)
	for name, priv := range map[string][]byte{"session": ks.SessionSigningKey, "tsa": ks.TSAHostKey, "worker": ks.WorkerKey} {
		block, _ := pem.Decode(priv)
		require.NotNil(t, block, name)
		assert.Equal(t, "RSA PRIVATE KEY", block.Type, name)
		_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		require.NoError(t, err, name)
		_, err = ssh.ParsePrivateKey(priv) // the TSA and worker hand these to x/crypto/ssh
		require.NoError(t, err, name)
	}
	for name, pair := range map[string][2][]byte{"tsa": {ks.TSAHostKey, ks.TSAHostPublicKey}, "worker": {ks.WorkerKey, ks.WorkerPublicKey}} {
		signer, err := ssh.ParsePrivateKey(pair[0])
		require.NoError(t, err)
		pub, _, _, rest, err := ssh.ParseAuthorizedKey(pair[1])
		require.NoError(t, err, name)
		assert.Empty(t, rest)
		assert.Equal(t, signer.PublicKey().Marshal(), pub.Marshal(), name)
		assert.True(t, strings.HasPrefix(string(pair[1]), "ssh-rsa "), name)
	}
	assert.NotEqual(t, ks.TSAHostKey, ks.WorkerKey)
	assert.NotEqual(t, ks.SessionSigningKey, ks.TSAHostKey)
}

// fileState is what a second run must not change.
type fileState struct {
	data  string
	mode  fs.FileMode
	inode uint64
	mtime int64
}

func dirState(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		st, err := os.Lstat(p)
		require.NoError(t, err)
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		sys := st.Sys().(*syscall.Stat_t)
		out[e.Name()] = fileState{string(data), st.Mode(), sys.Ino, st.ModTime().UnixNano()}
	}
	return out
}

func TestEnsureKeysGeneratesOnceThenReuses(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	res, err := EnsureKeys(heldLock{}, dir, testOpts)
	require.NoError(t, err)
	assert.True(t, res.Generated)
	assert.False(t, res.Adopted)
	assert.Equal(t, KeyFilesIn(dir), res.Files)

	st, err := os.Stat(dir)
	require.NoError(t, err)
	// The modes as numbers, not the package's constants: a constant that
	// drifts must fail here.
	assert.Equal(t, fs.FileMode(0o700), st.Mode().Perm())
	for _, f := range keyFiles() {
		st, err := os.Stat(filepath.Join(dir, f.name))
		require.NoError(t, err, f.name)
		want := fs.FileMode(0o644)
		if f.private {
			want = 0o600
		}
		assert.Equal(t, want, st.Mode().Perm(), f.name)
	}
	assert.NoFileExists(t, filepath.Join(dir, KeySetIntentName))
	assert.FileExists(t, filepath.Join(dir, KeySetRecordName))
	pub, err := os.ReadFile(res.Files.WorkerPublicKey)
	require.NoError(t, err)
	assert.Equal(t, string(pub), res.WorkerPublicKey)

	before := dirState(t, dir)
	again, err := EnsureKeys(heldLock{}, dir, testOpts)
	require.NoError(t, err)
	assert.False(t, again.Generated)
	assert.Empty(t, again.ModesFixed)
	assert.Equal(t, res.WorkerPublicKey, again.WorkerPublicKey)
	assert.Equal(t, res.TSAHostPublicKey, again.TSAHostPublicKey)
	assert.Equal(t, before, dirState(t, dir), "a second run changes nothing")
}

// Five callers race for the same directory under a real flock: exactly
// one generates, the others reuse its set.
func TestEnsureKeysRacingCallersGenerateOneSet(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "keys")
	lock := flockLock{path: filepath.Join(root, ".lock")}
	const callers = 5
	results := make([]KeysResult, callers)
	errs := make([]error, callers)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range callers {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			results[i], errs[i] = EnsureKeys(lock, dir, testOpts)
		}()
	}
	start.Done()
	done.Wait()
	generated := 0
	for i := range callers {
		require.NoError(t, errs[i], "caller %d", i)
		if results[i].Generated {
			generated++
		}
		assert.Equal(t, results[0].WorkerPublicKey, results[i].WorkerPublicKey, "caller %d", i)
		assert.Equal(t, results[0].TSAHostPublicKey, results[i].TSAHostPublicKey, "caller %d", i)
	}
	assert.Equal(t, 1, generated)

	before := dirState(t, dir)
	again, err := EnsureKeys(lock, dir, testOpts)
	require.NoError(t, err)
	assert.False(t, again.Generated)
	assert.Equal(t, before, dirState(t, dir))
}

func TestEnsureKeysNeedsTheLock(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	released := errors.New("the volume lock was already released")
	_, err := EnsureKeys(refusingLock{released}, dir, testOpts)
	assert.ErrorIs(t, err, released)
	assert.NoDirExists(t, dir)
}

type refusingLock struct{ err error }

func (l refusingLock) Held(func() error) error { return l.err }

func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, mode))
	require.NoError(t, os.Chmod(path, mode))
}

func TestEnsureKeysRedoesAnInterruptedGeneration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ks, err := GenerateKeySet(nil, testBits)
	require.NoError(t, err)
	// A generator died after two keys (and a temporary file of the third).
	writeFile(t, filepath.Join(dir, KeySetIntentName), []byte("generating\n"), 0o600)
	writeFile(t, filepath.Join(dir, SessionSigningKeyName), ks.SessionSigningKey, 0o600)
	writeFile(t, filepath.Join(dir, TSAHostKeyName), ks.TSAHostKey, 0o600)
	writeFile(t, filepath.Join(dir, TSAHostPublicKeyName+".tmp-atomic-abcdef"), []byte("ssh-rsa AAAA"), 0o644)
	writeFile(t, filepath.Join(dir, "unrelated"), []byte("kept"), 0o600)

	res, err := EnsureKeys(heldLock{}, dir, testOpts)
	require.NoError(t, err)
	assert.True(t, res.Generated)
	assert.ElementsMatch(t, []string{SessionSigningKeyName, TSAHostKeyName, TSAHostPublicKeyName + ".tmp-atomic-abcdef", KeySetIntentName}, res.Recovered)
	tsa, err := os.ReadFile(res.Files.TSAHostKey)
	require.NoError(t, err)
	assert.NotEqual(t, ks.TSAHostKey, tsa, "the interrupted keys were never handed out and are replaced")
	assert.NoFileExists(t, filepath.Join(dir, TSAHostPublicKeyName+".tmp-atomic-abcdef"))
	assert.FileExists(t, filepath.Join(dir, "unrelated"))
}

func TestEnsureKeysAdoptsACompleteUnrecordedSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ks, err := GenerateKeySet(nil, testBits)
	require.NoError(t, err)
	// An operator's set, the session key in PKCS #8 (Concourse reads both).
	key, err := rsa.GenerateKey(rand.Reader, testBits)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	ks.SessionSigningKey = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, f := range keyFiles() {
		writeFile(t, filepath.Join(dir, f.name), *f.get(&ks), fs.FileMode(f.mode))
	}
	res, err := EnsureKeys(heldLock{}, dir, testOpts)
	require.NoError(t, err)
	assert.False(t, res.Generated)
	assert.True(t, res.Adopted)
	assert.Equal(t, string(ks.WorkerPublicKey), res.WorkerPublicKey)
	assert.FileExists(t, filepath.Join(dir, KeySetRecordName))
	got, err := os.ReadFile(res.Files.SessionSigningKey)
	require.NoError(t, err)
	assert.Equal(t, ks.SessionSigningKey, got)
}

func TestEnsureKeysFixesModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	res, err := EnsureKeys(heldLock{}, dir, testOpts)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(res.Files.WorkerKey, 0o644))
	require.NoError(t, os.Chmod(dir, 0o755))
	again, err := EnsureKeys(heldLock{}, dir, testOpts)
	require.NoError(t, err)
	assert.Equal(t, []string{dir, res.Files.WorkerKey}, again.ModesFixed)
	st, err := os.Stat(res.Files.WorkerKey)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
}

// A set that is refused is left exactly as it was.
func TestEnsureKeysRefusesBrokenSets(t *testing.T) {
	t.Parallel()
	other, err := GenerateKeySet(nil, testBits)
	require.NoError(t, err)
	cases := []struct {
		name   string
		record bool // start from a generated (recorded) set; else from an empty dir
		break_ func(t *testing.T, f KeyFiles)
		check  func(t *testing.T, err error, f KeyFiles)
	}{
		{"recorded set lost a file", true,
			func(t *testing.T, f KeyFiles) { require.NoError(t, os.Remove(f.WorkerPublicKey)) },
			func(t *testing.T, err error, f KeyFiles) {
				var partial *PartialKeySetError
				require.ErrorAs(t, err, &partial)
				assert.Equal(t, []string{WorkerPublicKeyName}, partial.Missing)
				assert.Len(t, partial.Present, 4)
			}},
		{"someone else's partial set", false,
			func(t *testing.T, f KeyFiles) { writeFile(t, f.SessionSigningKey, other.SessionSigningKey, 0o600) },
			func(t *testing.T, err error, f KeyFiles) {
				var partial *PartialKeySetError
				require.ErrorAs(t, err, &partial)
				assert.Equal(t, []string{SessionSigningKeyName}, partial.Present)
			}},
		{"garbage private key", true,
			func(t *testing.T, f KeyFiles) { writeFile(t, f.TSAHostKey, []byte("not a key\n"), 0o600) },
			func(t *testing.T, err error, f KeyFiles) {
				var corrupt *CorruptKeyError
				require.ErrorAs(t, err, &corrupt)
				assert.Equal(t, f.TSAHostKey, corrupt.Path)
			}},
		{"public key of another private key", true,
			func(t *testing.T, f KeyFiles) { writeFile(t, f.WorkerPublicKey, other.WorkerPublicKey, 0o644) },
			func(t *testing.T, err error, f KeyFiles) {
				var corrupt *CorruptKeyError
				require.ErrorAs(t, err, &corrupt)
				assert.Equal(t, f.WorkerPublicKey, corrupt.Path)
				assert.Contains(t, corrupt.Reason, "does not belong")
			}},
		{"a consistent pair that is not the recorded one", true,
			func(t *testing.T, f KeyFiles) {
				writeFile(t, f.WorkerKey, other.WorkerKey, 0o600)
				writeFile(t, f.WorkerPublicKey, other.WorkerPublicKey, 0o644)
			},
			func(t *testing.T, err error, f KeyFiles) {
				var corrupt *CorruptKeyError
				require.ErrorAs(t, err, &corrupt)
				assert.Contains(t, []string{f.WorkerKey, f.WorkerPublicKey}, corrupt.Path)
				assert.Contains(t, corrupt.Reason, "recorded")
			}},
		{"a symlink instead of a key", true,
			func(t *testing.T, f KeyFiles) {
				require.NoError(t, os.Remove(f.WorkerKey))
				require.NoError(t, os.Symlink("/etc/hostname", f.WorkerKey))
			},
			func(t *testing.T, err error, f KeyFiles) {
				var corrupt *CorruptKeyError
				require.ErrorAs(t, err, &corrupt)
				assert.Equal(t, f.WorkerKey, corrupt.Path)
			}},
		{"a corrupt record", true,
			func(t *testing.T, f KeyFiles) {
				writeFile(t, filepath.Join(f.Dir, KeySetRecordName), []byte("{"), 0o600)
			},
			func(t *testing.T, err error, f KeyFiles) {
				var corrupt *CorruptKeyError
				require.ErrorAs(t, err, &corrupt)
				assert.Equal(t, filepath.Join(f.Dir, KeySetRecordName), corrupt.Path)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "keys")
			files := KeyFilesIn(dir)
			if c.record {
				_, err := EnsureKeys(heldLock{}, dir, testOpts)
				require.NoError(t, err)
			} else {
				require.NoError(t, os.Mkdir(dir, 0o700))
			}
			c.break_(t, files)
			before := dirState(t, dir)
			_, err := EnsureKeys(heldLock{}, dir, testOpts)
			require.Error(t, err)
			c.check(t, err, files)
			assert.NotContains(t, err.Error(), "PRIVATE KEY")
			assert.NotContains(t, err.Error(), "AAAA")
			assert.Equal(t, before, dirState(t, dir), "nothing changed")
		})
	}
}

func TestRenderAuthorizedWorkerKeys(t *testing.T) {
	t.Parallel()
	a, err := GenerateKeySet(nil, testBits)
	require.NoError(t, err)
	b, err := GenerateKeySet(nil, testBits)
	require.NoError(t, err)
	wa := strings.TrimSpace(string(a.WorkerPublicKey))
	wb := strings.TrimSpace(string(b.WorkerPublicKey))

	out, err := RenderAuthorizedWorkerKeys("peers", []string{wb + " worker@b", wa, wa + "\n", wb})
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	assert.Len(t, lines, 2, "duplicates dropped, comments dropped")
	assert.True(t, lines[0] < lines[1], "sorted")
	assert.ElementsMatch(t, []string{wa, wb}, lines)
	again, err := RenderAuthorizedWorkerKeys("peers", []string{wa, wb})
	require.NoError(t, err)
	assert.Equal(t, out, again, "the same keys in any order render the same file")

	empty, err := RenderAuthorizedWorkerKeys("peers", nil)
	require.NoError(t, err)
	assert.Empty(t, empty)

	_, err = RenderAuthorizedWorkerKeys("tsa relation", []string{wa, "ssh-rsa garbage"})
	var bad *InvalidPublicKeyError
	require.ErrorAs(t, err, &bad)
	assert.Equal(t, 1, bad.Index)
	assert.Equal(t, "tsa relation", bad.Source)

	_, err = NormalizePublicKey(`command="/bin/sh" ` + wa)
	assert.ErrorContains(t, err, "options")
	_, err = NormalizePublicKey(wa + "\n" + wb)
	assert.ErrorContains(t, err, "more than one")
}
