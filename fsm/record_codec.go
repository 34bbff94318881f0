package fsm

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RecordSchema is the newest record layout this charm reads and the one it
// writes. Bump it when a key's meaning changes; older charms then refuse the
// record instead of misreading it.
const RecordSchema = 1

// KeyPrefix starts every key the upgrade machine owns in a relation bag.
// Keys without it belong to other parts of the charm and are left alone;
// keys with it that this charm does not know are refused.
const KeyPrefix = "upgrade-"

// Record keys (application bag).
const (
	KeySchema          = KeyPrefix + "schema"
	KeyPhase           = KeyPrefix + "phase"
	KeyGeneration      = KeyPrefix + "generation"
	KeyVersion         = KeyPrefix + "version"
	KeyTargetVersion   = KeyPrefix + "target-version"
	KeyPreviousVersion = KeyPrefix + "previous-version"
	KeyInitiatedBy     = KeyPrefix + "initiated-by"
	KeyInitiatedAt     = KeyPrefix + "initiated-at"
	KeyDeadline        = KeyPrefix + "deadline"
	KeyStaged          = KeyPrefix + "staged"
	KeyLastError       = KeyPrefix + "last-error"
)

// Ack keys (each unit's own bag). The generation key is shared in name only:
// the bags are different.
const (
	KeyAckGeneration       = KeyPrefix + "generation"
	KeyAckReadyForDownload = KeyPrefix + "ready-for-download"
	KeyAckRunningVersion   = KeyPrefix + "running-version"
	KeyAckError            = KeyPrefix + "error"
)

func recordKeys() []string {
	return []string{KeySchema, KeyPhase, KeyGeneration, KeyVersion, KeyTargetVersion, KeyPreviousVersion,
		KeyInitiatedBy, KeyInitiatedAt, KeyDeadline, KeyStaged, KeyLastError}
}

func ackKeys() []string {
	return []string{KeyAckGeneration, KeyAckReadyForDownload, KeyAckRunningVersion, KeyAckError}
}

// ErrDecode is matched (errors.Is) by every *DecodeError.
var ErrDecode = errors.New("undecodable upgrade relation data")

// DecodeError names the key and value that could not be read. Nothing was
// changed: the bag still holds what was there.
type DecodeError struct {
	// Bag is "upgrade record" or "upgrade ack".
	Bag    string
	Key    string
	Value  string
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s: key %q = %q: %s", e.Bag, e.Key, e.Value, e.Reason)
}

// Is lets errors.Is(err, ErrDecode) hold.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// Reasons that tell the operator what to do.
const (
	reasonEdited = "not what this charm writes; was the relation data edited by hand? Put the key back as it was (juju exec on the leader: relation-set --app), the charm refuses to guess"
	reasonNewer  = "written by a newer revision of the charm: refresh every unit to that revision (`juju refresh APP`)"
)

// EncodeRecord returns the application-bag keys for r. Every key the record
// owns is present; an empty value means "absent" and makes Juju delete the
// key, so writing the map replaces the whole record. A record that would not
// decode again is refused with the *DecodeError its encoding produces.
func EncodeRecord(r Record) (map[string]string, error) {
	bag := map[string]string{
		KeySchema:          strconv.Itoa(RecordSchema),
		KeyPhase:           r.Phase.String(),
		KeyGeneration:      strconv.FormatUint(r.Generation, 10),
		KeyVersion:         r.Version,
		KeyTargetVersion:   r.TargetVersion,
		KeyPreviousVersion: r.PreviousVersion,
		KeyInitiatedBy:     r.InitiatedBy,
		KeyInitiatedAt:     formatTime(r.InitiatedAt),
		KeyDeadline:        formatTime(r.Deadline),
		KeyStaged:          strconv.FormatBool(r.Staged),
		KeyLastError:       r.LastError,
	}
	if _, err := DecodeRecord(bag); err != nil {
		return nil, fmt.Errorf("encode upgrade record: %w", err)
	}
	return bag, nil
}

// DecodeRecord reads the record from an application bag. Keys outside
// KeyPrefix are ignored; an empty or absent value counts as absent. A bag
// with none of the record's keys is a fresh relation: the zero Record (idle,
// generation 0).
func DecodeRecord(bag map[string]string) (Record, error) {
	d := decoder{bag: "upgrade record", values: ownedValues(bag)}
	if len(d.values) == 0 {
		return Record{}, nil
	}
	if err := d.schema(); err != nil {
		return Record{}, err
	}
	if err := d.onlyKnown(recordKeys()); err != nil {
		return Record{}, err
	}
	var r Record
	var err error
	if r.Phase, err = d.phase(KeyPhase); err != nil {
		return Record{}, err
	}
	if r.Generation, err = d.generation(KeyGeneration); err != nil {
		return Record{}, err
	}
	if r.Version, err = d.version(KeyVersion); err != nil {
		return Record{}, err
	}
	if r.TargetVersion, err = d.version(KeyTargetVersion); err != nil {
		return Record{}, err
	}
	if r.PreviousVersion, err = d.version(KeyPreviousVersion); err != nil {
		return Record{}, err
	}
	if r.InitiatedAt, err = d.time(KeyInitiatedAt); err != nil {
		return Record{}, err
	}
	if r.Deadline, err = d.time(KeyDeadline); err != nil {
		return Record{}, err
	}
	if r.Staged, err = d.bool(KeyStaged); err != nil {
		return Record{}, err
	}
	r.InitiatedBy = d.values[KeyInitiatedBy]
	r.LastError = d.values[KeyLastError]
	if err := d.checkRecord(r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// EncodeAck returns the unit-bag keys for a, with the same conventions as
// EncodeRecord.
func EncodeAck(a Ack) (map[string]string, error) {
	bag := map[string]string{
		KeyAckGeneration:       strconv.FormatUint(a.Generation, 10),
		KeyAckReadyForDownload: strconv.FormatBool(a.ReadyForDownload),
		KeyAckRunningVersion:   a.RunningVersion,
		KeyAckError:            a.Error,
	}
	if _, err := DecodeAck(bag); err != nil {
		return nil, fmt.Errorf("encode upgrade ack: %w", err)
	}
	return bag, nil
}

// DecodeAck reads a unit's ack from its unit bag. A bag with none of the
// ack's keys is a unit that has not acted yet: the zero Ack.
func DecodeAck(bag map[string]string) (Ack, error) {
	d := decoder{bag: "upgrade ack", values: ownedValues(bag)}
	if len(d.values) == 0 {
		return Ack{}, nil
	}
	if err := d.onlyKnown(ackKeys()); err != nil {
		return Ack{}, err
	}
	var a Ack
	var err error
	if a.Generation, err = d.generation(KeyAckGeneration); err != nil {
		return Ack{}, err
	}
	if a.ReadyForDownload, err = d.bool(KeyAckReadyForDownload); err != nil {
		return Ack{}, err
	}
	if a.RunningVersion, err = d.version(KeyAckRunningVersion); err != nil {
		return Ack{}, err
	}
	a.Error = d.values[KeyAckError]
	switch {
	case a.ReadyForDownload && a.RunningVersion != "":
		return Ack{}, d.fail(KeyAckRunningVersion, "a unit ready for download has its worker stopped, so it runs no version; "+reasonEdited)
	case a.ReadyForDownload && a.Generation == 0:
		return Ack{}, d.fail(KeyAckGeneration, "a ready-for-download ack must name the generation it answers; "+reasonEdited)
	}
	return a, nil
}

// ownedValues keeps the non-empty values of the upgrade's own keys.
func ownedValues(bag map[string]string) map[string]string {
	owned := map[string]string{}
	for k, v := range bag {
		if strings.HasPrefix(k, KeyPrefix) && v != "" {
			owned[k] = v
		}
	}
	return owned
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// decoder reads typed values out of one bag and names the key on failure.
type decoder struct {
	bag    string
	values map[string]string
}

func (d decoder) fail(key, reason string) error {
	return &DecodeError{Bag: d.bag, Key: key, Value: d.values[key], Reason: reason}
}

func (d decoder) schema() error {
	raw, ok := d.values[KeySchema]
	if !ok {
		return d.fail(KeySchema, "missing while other upgrade keys are set; "+reasonEdited)
	}
	n, err := strconv.ParseUint(raw, 10, 32)
	switch {
	case err != nil || n == 0:
		return d.fail(KeySchema, "not a schema number; "+reasonEdited)
	case n > RecordSchema:
		return d.fail(KeySchema, fmt.Sprintf("schema %d is newer than this charm reads (%d); %s", n, RecordSchema, reasonNewer))
	}
	return nil
}

func (d decoder) onlyKnown(known []string) error {
	isKnown := map[string]bool{}
	for _, k := range known {
		isKnown[k] = true
	}
	keys := make([]string, 0, len(d.values))
	for k := range d.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !isKnown[k] {
			return d.fail(k, "unknown key, probably "+reasonNewer)
		}
	}
	return nil
}

func (d decoder) phase(key string) (Phase, error) {
	raw, ok := d.values[key]
	if !ok {
		return 0, d.fail(key, "missing; "+reasonEdited)
	}
	p, ok := ParsePhase(raw)
	if !ok {
		return 0, d.fail(key, fmt.Sprintf("unknown phase (this charm knows %s); %s", strings.Join(phaseNames(), ", "), reasonNewer))
	}
	return p, nil
}

func (d decoder) generation(key string) (uint64, error) {
	raw, ok := d.values[key]
	if !ok {
		return 0, d.fail(key, "missing; "+reasonEdited)
	}
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, d.fail(key, "not a non-negative whole number; "+reasonEdited)
	}
	return n, nil
}

func (d decoder) version(key string) (string, error) {
	raw, ok := d.values[key]
	if !ok {
		return "", nil
	}
	if err := ValidateVersion(raw); err != nil {
		return "", d.fail(key, "not a release version like 7.14.3; "+reasonEdited)
	}
	return raw, nil
}

func (d decoder) time(key string) (time.Time, error) {
	raw, ok := d.values[key]
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil || t.IsZero() {
		return time.Time{}, d.fail(key, "not an RFC 3339 time like 2025-01-02T15:04:05Z; "+reasonEdited)
	}
	return t.UTC(), nil
}

func (d decoder) bool(key string) (bool, error) {
	switch d.values[key] {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, d.fail(key, `neither "true" nor "false"; `+reasonEdited)
}

// checkRecord refuses records whose fields contradict each other, rather
// than guessing which release should run.
func (d decoder) checkRecord(r Record) error {
	if r.Phase == PhaseIdle {
		if r.Generation > 0 && r.Version == "" {
			return d.fail(KeyVersion, "an idle record after an upgrade must name the settled version; "+reasonEdited)
		}
		return nil
	}
	switch {
	case r.Generation == 0:
		return d.fail(KeyGeneration, fmt.Sprintf("phase %s needs a generation of at least 1; %s", r.Phase, reasonEdited))
	case r.TargetVersion == "":
		return d.fail(KeyTargetVersion, fmt.Sprintf("phase %s needs a target version; %s", r.Phase, reasonEdited))
	case r.PreviousVersion == "":
		return d.fail(KeyPreviousVersion, fmt.Sprintf("phase %s needs the previous version; %s", r.Phase, reasonEdited))
	case r.TargetVersion == r.PreviousVersion:
		return d.fail(KeyTargetVersion, "target and previous version are the same; "+reasonEdited)
	case r.Phase == PhasePrepare && r.Deadline.IsZero():
		return d.fail(KeyDeadline, "phase prepare needs a deadline; "+reasonEdited)
	}
	return nil
}
