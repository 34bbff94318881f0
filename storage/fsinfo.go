package storage

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// FSInfo describes the filesystem holding the volume.
type FSInfo struct {
	Type       string   `json:"type"`  // "ext4", "nfs", "tmpfs", "overlayfs", ... or "unknown(0x...)"
	Magic      int64    `json:"magic"` // statfs f_type
	Fsid       [2]int32 `json:"fsid"`  // not comparable across NFS clients: prove sharing with the volume id
	FreeBytes  uint64   `json:"free_bytes"`
	TotalBytes uint64   `json:"total_bytes"`
	Network    bool     `json:"network"` // a filesystem other machines can mount too
}

// FSInfo statfs'es the volume's root.
func (v *Volume) FSInfo() (FSInfo, error) { return statFS(v.root) }

func statFS(path string) (FSInfo, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return FSInfo{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	block := uint64(st.Frsize)
	if block == 0 {
		block = uint64(st.Bsize)
	}
	name, network := fsTypeName(int64(st.Type))
	return FSInfo{
		Type:       name,
		Magic:      int64(st.Type),
		Fsid:       st.Fsid.Val,
		FreeBytes:  st.Bavail * block,
		TotalBytes: st.Blocks * block,
		Network:    network,
	}, nil
}

// Magic numbers missing from x/sys/unix.
const (
	zfsSuperMagic    = 0x2fc12fc1
	smb2SuperMagic   = 0xfe534d42
	gfs2SuperMagic   = 0x01161970
	lustreSuperMagic = 0x0bd00bd0
)

// fsTypeName names a statfs magic and says whether it is a network or
// cluster filesystem (one that can be shared between machines).
func fsTypeName(magic int64) (name string, network bool) {
	switch magic {
	case unix.EXT4_SUPER_MAGIC: // ext2, ext3 and ext4 share it
		return "ext4", false
	case unix.XFS_SUPER_MAGIC:
		return "xfs", false
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs", false
	case zfsSuperMagic:
		return "zfs", false
	case unix.F2FS_SUPER_MAGIC:
		return "f2fs", false
	case unix.TMPFS_MAGIC:
		return "tmpfs", false
	case unix.RAMFS_MAGIC:
		return "ramfs", false
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs", false
	case unix.SQUASHFS_MAGIC:
		return "squashfs", false
	case unix.ECRYPTFS_SUPER_MAGIC:
		return "ecryptfs", false
	case unix.FUSE_SUPER_MAGIC:
		return "fuse", true // sshfs, cephfs-fuse, virtiofs-like: assume shareable
	case unix.NFS_SUPER_MAGIC:
		return "nfs", true
	case unix.CEPH_SUPER_MAGIC:
		return "ceph", true
	case unix.CIFS_SUPER_MAGIC:
		return "cifs", true
	case smb2SuperMagic:
		return "smb2", true
	case unix.SMB_SUPER_MAGIC:
		return "smb", true
	case unix.V9FS_MAGIC:
		return "9p", true
	case unix.AFS_FS_MAGIC:
		return "afs", true
	case unix.OCFS2_SUPER_MAGIC:
		return "ocfs2", true
	case gfs2SuperMagic:
		return "gfs2", true
	case lustreSuperMagic:
		return "lustre", true
	}
	return fmt.Sprintf("unknown(%#x)", magic), false
}
