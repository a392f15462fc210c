package ocibuild

import (
	"fmt"
	"io/fs"
	"path"
)

// EntryType says what an Entry is.
type EntryType int

// The entry types a layer holds.
const (
	TypeFile EntryType = iota + 1
	TypeDir
	TypeSymlink
)

// Entry is one path of a layer.
type Entry struct {
	// Path is absolute and clean, e.g. /etc/passwd.
	Path string
	Type EntryType
	// Mode holds the permission bits plus, optionally, fs.ModeSetuid,
	// fs.ModeSetgid and fs.ModeSticky. Ignored for symlinks (0777).
	Mode fs.FileMode
	// UID and GID own the entry; 0 (root) unless set.
	UID, GID int
	// Data is a file's content.
	Data []byte
	// Target is a symlink's target, as written (relative or absolute).
	Target string
}

// File returns a root-owned regular file.
func File(p string, mode fs.FileMode, data []byte) Entry {
	return Entry{Path: p, Type: TypeFile, Mode: mode, Data: data}
}

// Dir returns a root-owned directory.
func Dir(p string, mode fs.FileMode) Entry {
	return Entry{Path: p, Type: TypeDir, Mode: mode}
}

// Symlink returns a root-owned symbolic link from p to target.
func Symlink(p, target string) Entry {
	return Entry{Path: p, Type: TypeSymlink, Mode: 0o777, Target: target}
}

// Owned returns e owned by uid:gid.
func (e Entry) Owned(uid, gid int) Entry {
	e.UID, e.GID = uid, gid
	return e
}

const allowedModeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func (e Entry) validate() error {
	if e.Path == "" || e.Path == "/" || !path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path {
		return fmt.Errorf("%w: path %q must be absolute and clean, and not /", ErrBadEntry, e.Path)
	}
	if e.Mode&^allowedModeBits != 0 {
		return fmt.Errorf("%w: %s: mode %v has bits beyond permission, setuid, setgid and sticky", ErrBadEntry, e.Path, e.Mode)
	}
	if e.UID < 0 || e.GID < 0 {
		return fmt.Errorf("%w: %s: owner %d:%d is negative", ErrBadEntry, e.Path, e.UID, e.GID)
	}
	if e.Type != TypeFile && len(e.Data) > 0 {
		return fmt.Errorf("%w: %s: only a file has content", ErrBadEntry, e.Path)
	}
	if e.Type != TypeSymlink && e.Target != "" {
		return fmt.Errorf("%w: %s: only a symlink has a target", ErrBadEntry, e.Path)
	}
	switch e.Type {
	case TypeFile, TypeDir:
	case TypeSymlink:
		if e.Target == "" {
			return fmt.Errorf("%w: %s: symlink without a target", ErrBadEntry, e.Path)
		}
	default:
		return fmt.Errorf("%w: %s: unknown type %d", ErrBadEntry, e.Path, e.Type)
	}
	return nil
}
