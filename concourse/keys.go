package concourse

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// The key files of a cluster, named as Concourse's documentation names
// them (`concourse generate-key -t rsa -f session_signing_key`,
// `-t ssh -f tsa_host_key`, `-t ssh -f worker_key`).
const (
	SessionSigningKeyName = "session_signing_key"
	TSAHostKeyName        = "tsa_host_key"
	TSAHostPublicKeyName  = "tsa_host_key.pub"
	WorkerKeyName         = "worker_key"
	WorkerPublicKeyName   = "worker_key.pub"
)

// DefaultKeyBits is the RSA key size `concourse generate-key` uses.
const DefaultKeyBits = 4096

// Modes of the key directory and its files.
const (
	KeyDirMode     = 0o700
	PrivateKeyMode = 0o600
	PublicKeyMode  = 0o644
)

// KeySet is the cluster's keys in the forms Concourse reads: private keys
// as PEM RSA PRIVATE KEY (PKCS #1; Concourse parses them with
// jwt.ParseRSAPrivateKeyFromPEM and hands the TSA ones to x/crypto/ssh),
// public keys as one authorized_keys line each.
type KeySet struct {
	SessionSigningKey []byte // signs web's auth tokens
	TSAHostKey        []byte // the TSA's SSH host key
	TSAHostPublicKey  []byte // what workers expect the TSA to present
	WorkerKey         []byte // what workers authenticate to the TSA with
	WorkerPublicKey   []byte // a line of web's authorized_worker_keys
}

// keyFile is one file of a set: its name, mode and content in a KeySet.
type keyFile struct {
	name    string
	mode    uint32
	private bool
	get     func(*KeySet) *[]byte
}

// keyFiles lists a set's files in the order they are written.
func keyFiles() []keyFile {
	return []keyFile{
		{SessionSigningKeyName, PrivateKeyMode, true, func(k *KeySet) *[]byte { return &k.SessionSigningKey }},
		{TSAHostKeyName, PrivateKeyMode, true, func(k *KeySet) *[]byte { return &k.TSAHostKey }},
		{TSAHostPublicKeyName, PublicKeyMode, false, func(k *KeySet) *[]byte { return &k.TSAHostPublicKey }},
		{WorkerKeyName, PrivateKeyMode, true, func(k *KeySet) *[]byte { return &k.WorkerKey }},
		{WorkerPublicKeyName, PublicKeyMode, false, func(k *KeySet) *[]byte { return &k.WorkerPublicKey }},
	}
}

// KeyFileNames lists the names of a set's files.
func KeyFileNames() []string {
	var names []string
	for _, f := range keyFiles() {
		names = append(names, f.name)
	}
	return names
}

// GenerateKeySet makes a new set of three RSA keys of bits bits from
// random (crypto/rand.Reader when nil).
func GenerateKeySet(random io.Reader, bits int) (KeySet, error) {
	if random == nil {
		random = rand.Reader
	}
	var ks KeySet
	var err error
	if ks.SessionSigningKey, _, err = newRSAKey(random, bits); err != nil {
		return KeySet{}, err
	}
	if ks.TSAHostKey, ks.TSAHostPublicKey, err = newRSAKey(random, bits); err != nil {
		return KeySet{}, err
	}
	if ks.WorkerKey, ks.WorkerPublicKey, err = newRSAKey(random, bits); err != nil {
		return KeySet{}, err
	}
	return ks, nil
}

func newRSAKey(random io.Reader, bits int) (private, public []byte, err error) {
	key, err := rsa.GenerateKey(random, bits)
	if err != nil {
		return nil, nil, fmt.Errorf("generate a %d-bit RSA key: %w", bits, err)
	}
	private = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("convert an RSA public key to SSH: %w", err)
	}
	return private, ssh.MarshalAuthorizedKey(pub), nil
}

// parseRSAPrivateKey reads a PEM RSA key the way Concourse does: PKCS #1
// or PKCS #8, whatever the block's type says.
func parseRSAPrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("holds no PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("holds text after its PEM block")
	}
	if key, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return key, nil
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("is neither a PKCS #1 nor a PKCS #8 private key")
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("holds a %T, not an RSA key", key)
	}
	return rsaKey, nil
}

// InvalidPublicKeyError: a public key that is not one authorized_keys
// line. Index counts from 0 in the list it came in; Source says where
// (e.g. "worker_key.pub" or a relation's unit).
type InvalidPublicKeyError struct {
	Source string
	Index  int
	Reason string
}

func (e *InvalidPublicKeyError) Error() string {
	return fmt.Sprintf("public key %d from %s: %s", e.Index, e.Source, e.Reason)
}

// NormalizePublicKey reads one authorized_keys line (as workers publish
// their key) and returns it in the canonical form "type base64\n", without
// options or comment.
func NormalizePublicKey(line string) (string, error) {
	pub, err := parsePublicKey([]byte(line))
	if err != nil {
		return "", err
	}
	return string(ssh.MarshalAuthorizedKey(pub)), nil
}

func parsePublicKey(data []byte) (ssh.PublicKey, error) {
	pub, _, options, rest, err := ssh.ParseAuthorizedKey(data)
	switch {
	case err != nil:
		return nil, errors.New("is not an SSH public key in authorized_keys form")
	case len(options) != 0:
		return nil, errors.New("carries authorized_keys options")
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, errors.New("holds more than one key")
	}
	return pub, nil
}

// RenderAuthorizedWorkerKeys renders web's authorized_worker_keys file
// from the workers' public keys: canonical lines, duplicates dropped,
// sorted, so the file (and web's restart) changes only when the set of
// keys does. source names where the keys came from, for errors.
func RenderAuthorizedWorkerKeys(source string, keys []string) ([]byte, error) {
	var lines []string
	for i, k := range keys {
		line, err := NormalizePublicKey(k)
		if err != nil {
			return nil, &InvalidPublicKeyError{Source: source, Index: i, Reason: err.Error()}
		}
		if !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	slices.Sort(lines)
	return []byte(strings.Join(lines, "")), nil
}
