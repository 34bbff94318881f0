package concourse

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/fsutil"
	"golang.org/x/crypto/ssh"
)

// Bookkeeping files of the key directory. The intent is written before
// the first key and removed after the record: a directory holding it has
// an interrupted generation whose keys were never handed out. The record
// is written after the last key: a set with a record is complete and may be
// in use.
const (
	KeySetIntentName = ".keyset.generating"
	KeySetRecordName = ".keyset.json"
)

// Locked is the caller's proof that it holds the lock guarding the key
// directory (the shared volume's flock): Held runs fn while the lock is
// held and fails without running it otherwise.
type Locked interface {
	Held(fn func() error) error
}

// KeyFiles are the paths of a set's files in one directory.
type KeyFiles struct {
	Dir               string
	SessionSigningKey string
	TSAHostKey        string
	TSAHostPublicKey  string
	WorkerKey         string
	WorkerPublicKey   string
}

// KeyFilesIn names the files of the set in dir.
func KeyFilesIn(dir string) KeyFiles {
	return KeyFiles{
		Dir:               dir,
		SessionSigningKey: filepath.Join(dir, SessionSigningKeyName),
		TSAHostKey:        filepath.Join(dir, TSAHostKeyName),
		TSAHostPublicKey:  filepath.Join(dir, TSAHostPublicKeyName),
		WorkerKey:         filepath.Join(dir, WorkerKeyName),
		WorkerPublicKey:   filepath.Join(dir, WorkerPublicKeyName),
	}
}

// KeyOptions tune EnsureKeys; the zero value is production's.
type KeyOptions struct {
	Bits   int       // DefaultKeyBits when 0
	Random io.Reader // crypto/rand when nil
	Writer fsutil.Writer
}

// KeysResult says what EnsureKeys found and did.
type KeysResult struct {
	Files KeyFiles
	// Generated: a new set was written. Otherwise the existing one is
	// reused (Adopted: a complete set without our record, e.g. copied in
	// by an operator, now recorded).
	Generated bool
	Adopted   bool
	// Recovered lists files of an interrupted generation that were
	// removed before generating again.
	Recovered []string
	// ModesFixed lists paths whose mode was wrong and was set right.
	ModesFixed []string
	// The public keys, one authorized_keys line each, for the relations.
	TSAHostPublicKey string
	WorkerPublicKey  string
}

// PartialKeySetError: the directory holds some of a set's files but not
// all, and it is not an interrupted generation of ours (or it is a recorded
// set that lost files). Nothing was changed: a set that may be in use, or
// was put there by someone else, is never overwritten.
type PartialKeySetError struct {
	Dir     string
	Present []string
	Missing []string
}

func (e *PartialKeySetError) Error() string {
	return fmt.Sprintf("key directory %s holds an incomplete key set: missing %s (present: %s)",
		e.Dir, strings.Join(e.Missing, ", "), strings.Join(e.Present, ", "))
}

// CorruptKeyError: a key file (or the set's record) exists but cannot be
// used: it does not parse, is not a regular file, or does not match the
// rest of the set. Reason never contains key material.
type CorruptKeyError struct {
	Path   string
	Reason string
}

func (e *CorruptKeyError) Error() string {
	return fmt.Sprintf("key file %s %s", e.Path, e.Reason)
}

// keySetRecord is the content of KeySetRecordName.
type keySetRecord struct {
	Version      int               `json:"version"`
	Fingerprints map[string]string `json:"fingerprints"` // file name -> SHA256 fingerprint of its key
}

// EnsureKeys makes sure dir holds one complete key set, generating it once:
// the first caller (under lock) writes it, every later one reuses it and
// changes nothing. Files are written atomically, private keys 0600, public
// ones 0644, dir 0700. A recorded set that lost files or holds a corrupt
// file is refused (PartialKeySetError, CorruptKeyError), as is an
// unrecorded partial set; an interrupted generation of ours is removed and
// done again.
func EnsureKeys(lock Locked, dir string, opts KeyOptions) (KeysResult, error) {
	var res KeysResult
	err := lock.Held(func() error {
		var err error
		res, err = ensureKeysLocked(dir, opts)
		return err
	})
	return res, err
}

func ensureKeysLocked(dir string, opts KeyOptions) (KeysResult, error) {
	res := KeysResult{Files: KeyFilesIn(dir)}
	if err := ensureMode(dir, KeyDirMode, true, &res); err != nil {
		return res, err
	}
	intent := filepath.Join(dir, KeySetIntentName)
	if _, err := os.Lstat(intent); err == nil {
		removed, err := removeInterrupted(dir)
		res.Recovered = removed
		if err != nil {
			return res, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("look for %s: %w", intent, err)
	}

	record, err := readRecord(dir)
	if err != nil {
		return res, err
	}
	ks, present, missing, err := readKeySet(dir)
	if err != nil {
		return res, err
	}
	switch {
	case len(present) == 0 && record == nil:
		return generateKeys(dir, opts, res)
	case len(missing) > 0:
		return res, &PartialKeySetError{Dir: dir, Present: present, Missing: missing}
	}
	fingerprints, err := checkKeySet(dir, ks)
	if err != nil {
		return res, err
	}
	if record == nil {
		if err := writeRecord(dir, opts.Writer, fingerprints); err != nil {
			return res, err
		}
		res.Adopted = true
	} else {
		for name, fp := range fingerprints {
			if record.Fingerprints[name] != fp {
				return res, &CorruptKeyError{Path: filepath.Join(dir, name), Reason: "does not hold the key recorded in " + KeySetRecordName}
			}
		}
	}
	for _, f := range keyFiles() {
		if err := ensureMode(filepath.Join(dir, f.name), os.FileMode(f.mode), false, &res); err != nil {
			return res, err
		}
	}
	res.TSAHostPublicKey, res.WorkerPublicKey = string(ks.TSAHostPublicKey), string(ks.WorkerPublicKey)
	return res, nil
}

// ensureMode creates dir (when isDir and missing) and sets path's mode.
func ensureMode(path string, mode os.FileMode, isDir bool, res *KeysResult) error {
	if isDir {
		if err := os.MkdirAll(path, mode); err != nil {
			return fmt.Errorf("create key directory: %w", err)
		}
	}
	st, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if isDir && !st.IsDir() {
		return &CorruptKeyError{Path: path, Reason: "is not a directory"}
	}
	if st.Mode().Perm() == mode {
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	res.ModesFixed = append(res.ModesFixed, path)
	return nil
}

// removeInterrupted removes what a generation that never finished left:
// the key files, the record, stray temporary files and, last, the intent.
func removeInterrupted(dir string) ([]string, error) {
	var removed []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read key directory: %w", err)
	}
	ours := append(KeyFileNames(), KeySetRecordName)
	for _, e := range entries {
		name := e.Name()
		isOurs := false
		for _, o := range ours {
			if name == o || strings.HasPrefix(name, o+fsutil.TempInfix) {
				isOurs = true
			}
		}
		if !isOurs {
			continue
		}
		if err := fsutil.RemoveIfExists(filepath.Join(dir, name)); err != nil {
			return removed, fmt.Errorf("remove interrupted key file: %w", err)
		}
		removed = append(removed, name)
	}
	intent := filepath.Join(dir, KeySetIntentName)
	if err := fsutil.RemoveIfExists(intent); err != nil {
		return removed, fmt.Errorf("remove %s: %w", intent, err)
	}
	return append(removed, KeySetIntentName), fsutil.SyncDir(dir)
}

func readRecord(dir string) (*keySetRecord, error) {
	path := filepath.Join(dir, KeySetRecordName)
	data, err := readRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r keySetRecord
	if err := json.Unmarshal(data, &r); err != nil || r.Version != 1 || len(r.Fingerprints) != len(keyFiles()) {
		return nil, &CorruptKeyError{Path: path, Reason: "is not a key set record"}
	}
	return &r, nil
}

// readRegular reads a regular file; anything else is a CorruptKeyError.
func readRegular(path string) ([]byte, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &CorruptKeyError{Path: path, Reason: "is not a regular file"}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// readKeySet reads whichever of the set's files exist.
func readKeySet(dir string) (ks KeySet, present, missing []string, err error) {
	for _, f := range keyFiles() {
		data, err := readRegular(filepath.Join(dir, f.name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, f.name)
			continue
		case err != nil:
			return KeySet{}, nil, nil, err
		}
		*f.get(&ks) = data
		present = append(present, f.name)
	}
	return ks, present, missing, nil
}

// checkKeySet parses every file of a complete set, checks each public key
// belongs to its private key, and returns each file's fingerprint.
func checkKeySet(dir string, ks KeySet) (map[string]string, error) {
	fps := map[string]string{}
	privates := map[string]*rsa.PrivateKey{}
	for _, f := range keyFiles() {
		path := filepath.Join(dir, f.name)
		data := *f.get(&ks)
		if f.private {
			key, err := parseRSAPrivateKey(data)
			if err != nil {
				return nil, &CorruptKeyError{Path: path, Reason: err.Error()}
			}
			pub, err := ssh.NewPublicKey(&key.PublicKey)
			if err != nil {
				return nil, &CorruptKeyError{Path: path, Reason: "holds a key SSH cannot use"}
			}
			privates[f.name] = key
			fps[f.name] = ssh.FingerprintSHA256(pub)
			continue
		}
		pub, err := parsePublicKey(data)
		if err != nil {
			return nil, &CorruptKeyError{Path: path, Reason: err.Error()}
		}
		priv := privates[strings.TrimSuffix(f.name, ".pub")]
		own, _ := ssh.NewPublicKey(&priv.PublicKey)
		if !bytes.Equal(pub.Marshal(), own.Marshal()) {
			return nil, &CorruptKeyError{Path: path, Reason: "does not belong to " + strings.TrimSuffix(f.name, ".pub")}
		}
		fps[f.name] = ssh.FingerprintSHA256(pub)
	}
	return fps, nil
}

// generateKeys writes a new set: intent, keys, record, then the intent
// goes. A crash anywhere leaves either no intent (nothing or a complete,
// recorded set) or an intent (removed and redone by the next holder).
func generateKeys(dir string, opts KeyOptions, res KeysResult) (KeysResult, error) {
	bits := opts.Bits
	if bits == 0 {
		bits = DefaultKeyBits
	}
	ks, err := GenerateKeySet(opts.Random, bits)
	if err != nil {
		return res, err
	}
	w := opts.Writer
	if err := w.WriteFile(filepath.Join(dir, KeySetIntentName), []byte("generating\n"), 0o600); err != nil {
		return res, err
	}
	for _, f := range keyFiles() {
		if err := w.WriteFile(filepath.Join(dir, f.name), *f.get(&ks), os.FileMode(f.mode)); err != nil {
			return res, err
		}
	}
	fps, err := checkKeySet(dir, ks)
	if err != nil {
		return res, err // cannot happen for keys we just made
	}
	if err := writeRecord(dir, w, fps); err != nil {
		return res, err
	}
	if err := fsutil.RemoveIfExists(filepath.Join(dir, KeySetIntentName)); err != nil {
		return res, fmt.Errorf("remove %s: %w", KeySetIntentName, err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return res, err
	}
	res.Generated = true
	res.TSAHostPublicKey, res.WorkerPublicKey = string(ks.TSAHostPublicKey), string(ks.WorkerPublicKey)
	return res, nil
}

func writeRecord(dir string, w fsutil.Writer, fps map[string]string) error {
	data, err := json.MarshalIndent(keySetRecord{Version: 1, Fingerprints: fps}, "", "  ")
	if err != nil {
		return err
	}
	return w.WriteFile(filepath.Join(dir, KeySetRecordName), append(data, '\n'), 0o600)
}
