package storage

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestFSTypeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		magic   int64
		name    string
		network bool
	}{
		{unix.EXT4_SUPER_MAGIC, "ext4", false},
		{unix.XFS_SUPER_MAGIC, "xfs", false},
		{unix.TMPFS_MAGIC, "tmpfs", false},
		{unix.OVERLAYFS_SUPER_MAGIC, "overlayfs", false},
		{unix.NFS_SUPER_MAGIC, "nfs", true},
		{unix.CEPH_SUPER_MAGIC, "ceph", true},
		{unix.FUSE_SUPER_MAGIC, "fuse", true},
		{unix.CIFS_SUPER_MAGIC, "cifs", true},
		{zfsSuperMagic, "zfs", false},
		{0x12345678, "unknown(0x12345678)", false},
	}
	for _, tc := range tests {
		name, network := fsTypeName(tc.magic)
		assert.Equal(t, tc.name, name)
		assert.Equal(t, tc.network, network, tc.name)
	}
}

func TestFSInfo(t *testing.T) {
	t.Parallel()
	v := testVolume(t)
	info, err := v.FSInfo()
	require.NoError(t, err)
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(v.Root(), &st))
	assert.Equal(t, int64(st.Type), info.Magic)
	assert.Equal(t, st.Fsid.Val, info.Fsid)
	wantName, _ := fsTypeName(int64(st.Type))
	assert.Equal(t, wantName, info.Type)
	assert.NotZero(t, info.TotalBytes)
	assert.LessOrEqual(t, info.FreeBytes, info.TotalBytes)
}
