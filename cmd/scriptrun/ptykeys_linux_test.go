//go:build linux

package main

import (
	"os"
	"syscall"
	"unsafe"
)

// ctrlCIsAKey reports whether the terminal on ptmx's other side passes
// Ctrl-C to the program as a key rather than turning it into SIGINT: liner
// clears ISIG once it shows its prompt. On Linux the master side reads the
// slave side's termios.
func ctrlCIsAKey(ptmx *os.File) (bool, error) {
	var tio syscall.Termios
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, ptmx.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); errno != 0 {
		return false, errno
	}
	return tio.Lflag&syscall.ISIG == 0, nil
}
