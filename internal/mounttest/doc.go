// Package mounttest holds the test fixtures that need root: a small tmpfs
// and a read-only bind mount, each unmounted when its test ends.
//
// They are built only without the `unit` build tag (mount.go carries
// `//go:build !unit`), so a test that needs root cannot slip into the fast
// tier (`make unit`, which builds with -tags unit): its file must carry the
// same constraint, or the fast tier does not compile. By custom such tests
// live in files named *_root_test.go.
package mounttest
