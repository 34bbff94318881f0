package fsm

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/concourse-ci-machine/concourse-ci-machine/internal/version"
)

// RecordSchema and AckSchema are the newest layouts this charm reads and the
// ones it writes. Bump one when a key's meaning changes; older charms then
// refuse the data instead of misreading it.
const (
	RecordSchema = 2
	AckSchema    = 1
)

// KeyPrefix starts every key the upgrade machine owns in a relation bag.
// Keys without it belong to other parts of the charm and are left alone;
// keys with it that this charm does not know are refused.
const KeyPrefix = "upgrade-"

// Record keys (application bag).
const (
	KeySchema          = KeyPrefix + "schema"
	KeyPhase           = KeyPrefix + "phase"
	KeyGeneration      = KeyPrefix + "generation"
	KeyRevision        = KeyPrefix + "revision"
	KeyVersion         = KeyPrefix + "version"
	KeyTargetVersion   = KeyPrefix + "target-version"
	KeyPreviousVersion = KeyPrefix + "previous-version"
	KeyInitiatedBy     = KeyPrefix + "initiated-by"
	KeyInitiatedAt     = KeyPrefix + "initiated-at"
	KeyPrepareTimeout  = KeyPrefix + "prepare-timeout"
	KeyMembers         = KeyPrefix + "members"
	KeyOutcome         = KeyPrefix + "outcome"
	KeyLastError       = KeyPrefix + "last-error"
)

// Ack keys (each unit's own bag).
const (
	KeyAckSchema        = KeyPrefix + "ack-schema"
	KeyAckGeneration    = KeyPrefix + "generation"
	KeyAckSeen          = KeyPrefix + "seen-revision"
	KeyAckWorkerStopped = KeyPrefix + "worker-stopped"
	KeyAckStaged        = KeyPrefix + "staged"
	KeyAckRunning       = KeyPrefix + "running-version"
	KeyAckError         = KeyPrefix + "error"
	KeyAckWroteGen      = KeyPrefix + "wrote-generation"
	KeyAckWroteRev      = KeyPrefix + "wrote-revision"
)

func recordKeys() []string {
	return []string{KeySchema, KeyPhase, KeyGeneration, KeyRevision, KeyVersion, KeyTargetVersion, KeyPreviousVersion,
		KeyInitiatedBy, KeyInitiatedAt, KeyPrepareTimeout, KeyMembers, KeyOutcome, KeyLastError}
}

func ackKeys() []string {
	return []string{KeyAckSchema, KeyAckGeneration, KeyAckSeen, KeyAckWorkerStopped, KeyAckStaged, KeyAckRunning, KeyAckError, KeyAckWroteGen, KeyAckWroteRev}
}

// ErrDecode is matched (errors.Is) by every *DecodeError.
var ErrDecode = errors.New("undecodable upgrade relation data")

// DecodeKind says why relation data could not be read.
type DecodeKind int

// Why a bag did not decode.
const (
	// DecodeMalformed: a value is not what this charm writes (edited by
	// hand, or corrupted).
	DecodeMalformed DecodeKind = iota
	// DecodeNewer: a newer charm revision wrote it (a newer schema, an
	// unknown key or phase).
	DecodeNewer
)

// DecodeError names the key and value that could not be read. Nothing was
// changed: the bag still holds what was there.
type DecodeError struct {
	// Bag is "upgrade record" or "upgrade ack".
	Bag     string
	Key     string
	Value   string
	Problem string
	Kind    DecodeKind
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s: key %q = %q: %s", e.Bag, e.Key, e.Value, e.Problem)
}

// Is lets errors.Is(err, ErrDecode) hold.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// EncodeRecord returns the application-bag keys for r. Every key the record
// owns is present; an empty value means "absent" and makes Juju delete the
// key, so writing the map replaces the whole record. A record that would not
// decode again is refused with the *DecodeError its encoding produces.
func EncodeRecord(r Record) (map[string]string, error) {
	bag := map[string]string{
		KeySchema:          strconv.Itoa(RecordSchema),
		KeyPhase:           r.Phase.String(),
		KeyGeneration:      strconv.FormatUint(r.Generation, 10),
		KeyRevision:        strconv.FormatUint(r.Revision, 10),
		KeyVersion:         r.Version.String(),
		KeyTargetVersion:   r.TargetVersion.String(),
		KeyPreviousVersion: r.PreviousVersion.String(),
		KeyInitiatedBy:     r.InitiatedBy,
		KeyInitiatedAt:     formatTime(r.InitiatedAt),
		KeyPrepareTimeout:  formatDuration(r.PrepareTimeout),
		KeyMembers:         strings.Join(r.Members, ","),
		KeyOutcome:         string(r.Outcome),
		KeyLastError:       r.LastError,
	}
	if _, err := DecodeRecord(bag); err != nil {
		return nil, fmt.Errorf("encode upgrade record: %w", err)
	}
	return bag, nil
}

// DecodeRecord reads the record from an application bag. Keys outside
// KeyPrefix are ignored; an empty or absent value counts as absent. A bag
// with none of the record's keys is a fresh relation (or a wiped one): the
// zero Record.
func DecodeRecord(bag map[string]string) (Record, error) {
	d := decoder{bag: "upgrade record", values: ownedValues(bag)}
	if len(d.values) == 0 {
		return Record{}, nil
	}
	if err := d.schema(KeySchema, RecordSchema); err != nil {
		return Record{}, err
	}
	if err := d.onlyKnown(recordKeys()); err != nil {
		return Record{}, err
	}
	var r Record
	var err error
	r.Phase, err = d.phase(KeyPhase)
	if err == nil {
		r.Generation, err = d.uint(KeyGeneration, true)
	}
	if err == nil {
		r.Revision, err = d.uint(KeyRevision, true)
	}
	if err == nil {
		r.Version, err = d.version(KeyVersion)
	}
	if err == nil {
		r.TargetVersion, err = d.version(KeyTargetVersion)
	}
	if err == nil {
		r.PreviousVersion, err = d.version(KeyPreviousVersion)
	}
	if err == nil {
		r.InitiatedAt, err = d.time(KeyInitiatedAt)
	}
	if err == nil {
		r.PrepareTimeout, err = d.duration(KeyPrepareTimeout)
	}
	if err == nil {
		r.Members, err = d.members(KeyMembers)
	}
	if err == nil {
		r.Outcome, err = d.outcome(KeyOutcome)
	}
	if err != nil {
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
		KeyAckSchema:        strconv.Itoa(AckSchema),
		KeyAckGeneration:    strconv.FormatUint(a.Generation, 10),
		KeyAckSeen:          strconv.FormatUint(a.Seen, 10),
		KeyAckWorkerStopped: strconv.FormatBool(a.WorkerStopped),
		KeyAckStaged:        strconv.FormatBool(a.Staged),
		KeyAckRunning:       a.Running.String(),
		KeyAckError:         a.Error,
		KeyAckWroteGen:      formatUint(a.WroteGeneration),
		KeyAckWroteRev:      formatUint(a.WroteRevision),
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
	if err := d.schema(KeyAckSchema, AckSchema); err != nil {
		return Ack{}, err
	}
	if err := d.onlyKnown(ackKeys()); err != nil {
		return Ack{}, err
	}
	var a Ack
	var err error
	a.Generation, err = d.uint(KeyAckGeneration, true)
	if err == nil {
		a.Seen, err = d.uint(KeyAckSeen, true)
	}
	if err == nil {
		a.WorkerStopped, err = d.bool(KeyAckWorkerStopped)
	}
	if err == nil {
		a.Staged, err = d.bool(KeyAckStaged)
	}
	if err == nil {
		a.Running, err = d.version(KeyAckRunning)
	}
	if err == nil {
		a.WroteGeneration, err = d.uint(KeyAckWroteGen, false)
	}
	if err == nil {
		a.WroteRevision, err = d.uint(KeyAckWroteRev, false)
	}
	if err != nil {
		return Ack{}, err
	}
	a.Error = d.values[KeyAckError]
	return a, nil
}

// ownedValues keeps the non-empty values of keys with the upgrade prefix.
func ownedValues(bag map[string]string) map[string]string {
	owned := map[string]string{}
	for k, v := range bag {
		if v != "" && strings.HasPrefix(k, KeyPrefix) {
			owned[k] = v
		}
	}
	return owned
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// formatUint writes n, or "" (absent) for zero.
func formatUint(n uint64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(n, 10)
}

func formatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// decoder reads typed values out of one bag and names the key on failure.
type decoder struct {
	bag    string
	values map[string]string
}

func (d decoder) fail(key string, kind DecodeKind, problem string) error {
	return &DecodeError{Bag: d.bag, Key: key, Value: d.values[key], Problem: problem, Kind: kind}
}

func (d decoder) schema(key string, newest int) error {
	raw, ok := d.values[key]
	if !ok {
		return d.fail(key, DecodeMalformed, "missing while other upgrade keys are set")
	}
	n, err := strconv.ParseUint(raw, 10, 32)
	switch {
	case err != nil || n == 0:
		return d.fail(key, DecodeMalformed, "not a schema number")
	case n > uint64(newest):
		return d.fail(key, DecodeNewer, fmt.Sprintf("schema %d is newer than this charm reads (%d)", n, newest))
	case n < uint64(newest):
		return d.fail(key, DecodeMalformed, fmt.Sprintf("schema %d was never released; this charm reads %d", n, newest))
	}
	return nil
}

// onlyKnown refuses keys with the prefix that this bag does not have (a
// newer charm's keys).
func (d decoder) onlyKnown(known []string) error {
	keys := make([]string, 0, len(d.values))
	for k := range d.values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return d.fail(k, DecodeNewer, "unknown key")
		}
	}
	return nil
}

func (d decoder) phase(key string) (Phase, error) {
	raw, ok := d.values[key]
	if !ok {
		return 0, d.fail(key, DecodeMalformed, "missing")
	}
	p, ok := ParsePhase(raw)
	if !ok {
		return 0, d.fail(key, DecodeNewer, fmt.Sprintf("unknown phase (this charm knows %s)", strings.Join(phaseNames(), ", ")))
	}
	return p, nil
}

func (d decoder) uint(key string, required bool) (uint64, error) {
	raw, ok := d.values[key]
	if !ok {
		if required {
			return 0, d.fail(key, DecodeMalformed, "missing")
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, d.fail(key, DecodeMalformed, "not a non-negative whole number")
	}
	return n, nil
}

func (d decoder) version(key string) (version.Version, error) {
	raw, ok := d.values[key]
	if !ok {
		return version.Version{}, nil
	}
	v, err := version.Parse(raw)
	if err != nil || v.String() != raw {
		return version.Version{}, d.fail(key, DecodeMalformed, "not a release version like 7.14.3")
	}
	return v, nil
}

func (d decoder) time(key string) (time.Time, error) {
	raw, ok := d.values[key]
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil || t.IsZero() {
		return time.Time{}, d.fail(key, DecodeMalformed, "not an RFC 3339 time like 2025-01-02T15:04:05Z")
	}
	return t.UTC(), nil
}

func (d decoder) duration(key string) (time.Duration, error) {
	raw, ok := d.values[key]
	if !ok {
		return 0, nil
	}
	t, err := time.ParseDuration(raw)
	if err != nil || t <= 0 {
		return 0, d.fail(key, DecodeMalformed, "not a positive duration like 10m0s")
	}
	return t, nil
}

func (d decoder) bool(key string) (bool, error) {
	switch d.values[key] {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, d.fail(key, DecodeMalformed, `neither "true" nor "false"`)
}

func (d decoder) members(key string) ([]string, error) {
	raw, ok := d.values[key]
	if !ok {
		return nil, nil
	}
	members := strings.Split(raw, ",")
	for i, m := range members {
		if m == "" || strings.ContainsFunc(m, func(r rune) bool { return r <= ' ' || r == ',' }) {
			return nil, d.fail(key, DecodeMalformed, "not a comma-separated list of unit names")
		}
		if i > 0 && members[i-1] >= m {
			return nil, d.fail(key, DecodeMalformed, "unit names not sorted or listed twice")
		}
	}
	return members, nil
}

func (d decoder) outcome(key string) (Outcome, error) {
	o := Outcome(d.values[key])
	if !slices.Contains(outcomes(), o) {
		return "", d.fail(key, DecodeNewer, "unknown outcome")
	}
	return o, nil
}

// checkRecord refuses records whose fields contradict each other, rather
// than guessing which release should run.
func (d decoder) checkRecord(r Record) error {
	if r.Phase == PhaseIdle {
		switch {
		case r.Generation > 0 && r.Version.IsZero():
			return d.fail(KeyVersion, DecodeMalformed, "an idle record after an upgrade must name the settled version")
		case r.Outcome != OutcomeNone && r.Generation == 0:
			return d.fail(KeyOutcome, DecodeMalformed, "an outcome without a generation")
		}
		return nil
	}
	switch {
	case r.Generation == 0:
		return d.fail(KeyGeneration, DecodeMalformed, fmt.Sprintf("phase %s needs a generation of at least 1", r.Phase))
	case r.Revision == 0:
		return d.fail(KeyRevision, DecodeMalformed, fmt.Sprintf("phase %s needs a revision of at least 1", r.Phase))
	case r.TargetVersion.IsZero():
		return d.fail(KeyTargetVersion, DecodeMalformed, fmt.Sprintf("phase %s needs a target version", r.Phase))
	case r.PreviousVersion.IsZero():
		return d.fail(KeyPreviousVersion, DecodeMalformed, fmt.Sprintf("phase %s needs the previous version", r.Phase))
	case r.TargetVersion == r.PreviousVersion:
		return d.fail(KeyTargetVersion, DecodeMalformed, "target and previous version are the same")
	case r.Phase == PhasePrepare && r.PrepareTimeout == 0:
		return d.fail(KeyPrepareTimeout, DecodeMalformed, "phase prepare needs a prepare timeout")
	case r.Outcome != OutcomeNone:
		return d.fail(KeyOutcome, DecodeMalformed, fmt.Sprintf("phase %s has no outcome yet", r.Phase))
	}
	return nil
}
