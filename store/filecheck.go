package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"syscall"
)

// bbolt maps the whole file into memory and reads pages up to the
// high-water mark its meta page records. A file cut short (a copy that
// stopped, a full disk in a backup tool, a truncate) makes those reads fault
// with SIGBUS, which kills the process with a goroutine dump instead of an
// error. checkFileSize reads the two meta pages the way bbolt does, takes
// the one bbolt would use, and refuses a file shorter than the pages it
// says it has, before bbolt maps it.

// Layout of a bbolt (format version 2) meta page: a 16-byte page header,
// then magic, version, page size, flags (4 bytes each), the root bucket (16),
// the freelist page id, the high-water page id, the transaction id, and an
// FNV-64a checksum of everything from magic to the transaction id.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16
	metaChecksumOff = 56
	metaSize        = metaChecksumOff + 8
)

type boltMeta struct {
	pageSize uint32
	highPage uint64
	txid     uint64
}

func parseBoltMeta(b []byte) (boltMeta, bool) {
	if len(b) < pageHeaderSize+metaSize {
		return boltMeta{}, false
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	le := binary.NativeEndian // bbolt writes the struct as it is in memory
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumOff])
	if h.Sum64() != le.Uint64(m[metaChecksumOff:]) {
		return boltMeta{}, false
	}
	ps := le.Uint32(m[8:])
	if ps < 512 || ps&(ps-1) != 0 {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: ps, highPage: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// fileStamp identifies a state of the file: while size, modification time
// and inode stay the same, a check that passed need not be repeated, so a
// read costs one stat as before.
type fileStamp struct {
	size  int64
	mtime int64 // Unix nanoseconds
	ino   uint64
}

func stampOf(info os.FileInfo) fileStamp {
	st := fileStamp{size: info.Size(), mtime: info.ModTime().UnixNano()}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}

// checkFile runs checkFileSize unless the file (as info shows it) is the
// one it last passed.
func (db *boltBackend) checkFile(info os.FileInfo) error {
	st := stampOf(info)
	if last := db.checked.Load(); last != nil && *last == st {
		return nil
	}
	if err := db.checkFileSize(info.Size()); err != nil {
		return err
	}
	db.checked.Store(&st)
	return nil
}

// checkFileSize returns an error wrapping ErrDamaged when the file at path
// (of size bytes) is shorter than its meta page says, or has no valid meta
// page. An empty or missing file passes: bbolt initializes it (or the open
// reports it).
func (db *boltBackend) checkFileSize(size int64) error {
	if size == 0 {
		return nil
	}
	f, err := os.Open(db.path)
	if err != nil {
		return nil // the open that follows reports it, with its own explanation
	}
	defer f.Close()
	readMeta := func(off int64) (boltMeta, bool) {
		buf := make([]byte, pageHeaderSize+metaSize)
		if n, err := f.ReadAt(buf, off); n < len(buf) && err != nil && err != io.EOF {
			return boltMeta{}, false
		} else if n < len(buf) {
			return boltMeta{}, false
		}
		return parseBoltMeta(buf)
	}
	m0, ok0 := readMeta(0)
	var m1 boltMeta
	ok1 := false
	if ok0 {
		m1, ok1 = readMeta(int64(m0.pageSize))
	} else {
		// Page 0 is unreadable: look for page 1 at each possible page
		// size, as bbolt does.
		for i := 0; i <= 14 && !ok1; i++ {
			if off := int64(1024) << i; off < size {
				m1, ok1 = readMeta(off)
			}
		}
	}
	var m boltMeta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return fmt.Errorf("%w: %s is not a readable scriptrun database (no valid bbolt meta page): move it aside and restore a backup, or remove it to start empty", ErrDamaged, db.path)
	}
	if pages := uint64(size) / uint64(m.pageSize); pages < m.highPage || pages < 2 {
		return fmt.Errorf("%w: %s is cut short (%d pages of %d bytes; its header says %d): it was truncated or copied incompletely: move it aside and restore a backup", ErrDamaged, db.path, pages, m.pageSize, max(m.highPage, 2))
	}
	return nil
}
