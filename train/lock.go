//go:build unix

package train

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pkg/errors"
)

// lock takes the run directory's advisory lock, as SQLite and Prometheus
// lock their data: an exclusive flock on LockFile, which the kernel
// releases when the process ends however it ends, so a killed run never
// leaves the directory locked. The file records the holder's pid for the
// error a second process gets.
func (t *Trainer) lock() error {
	path := filepath.Join(t.dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return errors.Wrap(err, "lock the run directory")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if err == syscall.EWOULDBLOCK {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return errors.Errorf("run directory %s is in use by another process (pid %s): one process trains in a run directory at a time", t.dir, pid)
		}
		return errors.Wrap(err, "lock the run directory")
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	t.unlock = func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	return nil
}
