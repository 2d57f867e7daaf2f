// Package filelock holds advisory locks on files, as SQLite and Prometheus
// lock their data: an exclusive flock that the kernel releases when the
// process ends, however it ends, so a killed process never leaves a lock
// behind. The lock file records the holder's pid for the error a second
// process gets.
package filelock

import (
	"os"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// ErrLocked is returned (wrapped, naming the holder) by TryLock when
// another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock is a held lock; Unlock releases it.
type Lock struct {
	f *os.File
}

// TryLock takes the lock on path, creating the file, or returns an error
// wrapping ErrLocked at once when another process (or another Lock in this
// one) holds it.
func TryLock(path string) (*Lock, error) { return lock(path, false) }

// Wait takes the lock on path, creating the file, waiting as long as
// another holds it.
func Wait(path string) (*Lock, error) { return lock(path, true) }

func lock(path string, wait bool) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, errors.Wrap(err, "lock")
	}
	if err := flock(f, wait); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, errors.Wrapf(ErrLocked, "%s: held by pid %s", path, pid)
		}
		return nil, errors.Wrapf(err, "lock %s", path)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock. The file stays, so that waiting processes
// lock the same file.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := funlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
