package releasetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path/filepath"
)

// Hostile is a kind of malicious release tarball.
type Hostile string

// The hostile variants. Each starts like a real release so that the refusal
// happens mid-archive, after some files were already unpacked.
const (
	AbsolutePath        Hostile = "absolute-path"         // a file named by an absolute path outside
	DotDotPath          Hostile = "dotdot-path"           // concourse/../../escaped
	SymlinkAbsolute     Hostile = "symlink-absolute"      // a symlink to an absolute path outside
	SymlinkEscape       Hostile = "symlink-escape"        // a symlink whose relative target climbs out
	SymlinkChain        Hostile = "symlink-chain"         // links that each look inside but resolve outside together
	WriteThroughSymlink Hostile = "write-through-symlink" // a file written under a directory symlink
	HardlinkOutside     Hostile = "hardlink-outside"      // a hard link to a file outside
	CharDevice          Hostile = "char-device"
	BlockDevice         Hostile = "block-device"
	Fifo                Hostile = "fifo"
	Setuid              Hostile = "setuid"
	Setgid              Hostile = "setgid"
	TarBomb             Hostile = "tar-bomb"         // BombBytes of zeros: tiny compressed, huge unpacked
	TooManyEntries      Hostile = "too-many-entries" // ManyEntries empty files
	DuplicateEntry      Hostile = "duplicate-entry"  // the binary twice: the second would replace the first
)

// Sizes of the resource-exhaustion variants; tests set their extractor's
// limits below these.
const (
	BombBytes   = 64 << 20
	ManyEntries = 3000
)

// HostileKinds lists every variant.
func HostileKinds() []Hostile {
	return []Hostile{
		AbsolutePath, DotDotPath, SymlinkAbsolute, SymlinkEscape, SymlinkChain,
		WriteThroughSymlink, HardlinkOutside, CharDevice, BlockDevice, Fifo,
		Setuid, Setgid, TarBomb, TooManyEntries, DuplicateEntry,
	}
}

// BuildHostile builds the variant kind of a release of version. outside is
// an absolute directory the archive tries to reach (tests check that nothing
// appears there); relative escapes climb far enough to leave any extraction
// directory.
func BuildHostile(kind Hostile, version, outside string) ([]byte, error) {
	a := newArchive()
	a.dir("concourse/")
	a.dir("concourse/bin/")
	a.file(BinaryPath, 0o755, []byte(Script(version)))
	climb := "../../../../../../../../../../../../../../../.." + outside
	switch kind {
	case AbsolutePath:
		a.file(filepath.Join(outside, "escaped"), 0o644, []byte("pwned\n"))
	case DotDotPath:
		a.file("concourse/"+climb+"/escaped", 0o644, []byte("pwned\n"))
	case SymlinkAbsolute:
		a.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: "concourse/escape", Linkname: outside})
	case SymlinkEscape:
		a.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: "concourse/escape", Linkname: climb})
	case SymlinkChain:
		// concourse/up -> .. is the release root; concourse/esc -> up/..
		// reads as concourse/ but, following up, is the root's parent.
		a.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: "concourse/up", Linkname: ".."})
		a.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: "concourse/esc", Linkname: "up/.."})
	case WriteThroughSymlink:
		a.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: "concourse/lib", Linkname: "bin"})
		a.file("concourse/lib/escaped", 0o644, []byte("pwned\n"))
	case HardlinkOutside:
		a.header(&tar.Header{Typeflag: tar.TypeLink, Name: "concourse/escape", Linkname: filepath.Join(outside, "target")})
	case CharDevice:
		a.header(&tar.Header{Typeflag: tar.TypeChar, Name: "concourse/null", Mode: 0o666, Devmajor: 1, Devminor: 3})
	case BlockDevice:
		a.header(&tar.Header{Typeflag: tar.TypeBlock, Name: "concourse/disk", Mode: 0o660, Devmajor: 8, Devminor: 0})
	case Fifo:
		a.header(&tar.Header{Typeflag: tar.TypeFifo, Name: "concourse/pipe", Mode: 0o644})
	case Setuid:
		a.file("concourse/bin/suid", 0o4755, []byte("#!/bin/sh\n"))
	case Setgid:
		a.file("concourse/bin/sgid", 0o2755, []byte("#!/bin/sh\n"))
	case TarBomb:
		a.stream("concourse/lib/bomb", 0o644, BombBytes, bytes.NewReader(make([]byte, BombBytes)))
	case TooManyEntries:
		a.dir("concourse/many/")
		for i := range ManyEntries {
			a.file(fmt.Sprintf("concourse/many/%05d", i), 0o644, nil)
		}
	case DuplicateEntry:
		a.file(BinaryPath, 0o755, []byte("#!/bin/sh\necho replaced\n"))
	default:
		return nil, fmt.Errorf("releasetest: unknown hostile kind %q", kind)
	}
	return a.close()
}
