package fsutil

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

// An atomic write of a marker-sized file (~200 bytes), durable (fsync of the
// file and the directory), on both write paths.
func BenchmarkWriteFile(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 200)
	for name, w := range map[string]Writer{"tmpfile": {}, "plain-temp": {PlainTemp: true}, "no-sync": {NoSync: true}} {
		b.Run(fmt.Sprintf("%s/%dB", name, len(data)), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "marker")
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WriteFile(path, data, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
