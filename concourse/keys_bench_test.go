package concourse

import (
	"path/filepath"
	"testing"
)

// What a unit pays when the set exists (every hook after the first) against
// what the one generating unit pays, at production key size.
func BenchmarkEnsureKeysReuse(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "keys")
	if _, err := EnsureKeys(heldLock{}, dir, KeyOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := EnsureKeys(heldLock{}, dir, KeyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateKeySet4096(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateKeySet(nil, DefaultKeyBits); err != nil {
			b.Fatal(err)
		}
	}
}
