package train

import (
	"os"
	"path/filepath"

	"github.com/gorgonia-zoo/resnet/internal/filelock"
	"github.com/pkg/errors"
)

// lockRun takes the lock of the run directory dir (LockFile,
// internal/filelock): one process trains in a run directory at a time, and
// a killed one leaves it free.
func lockRun(dir string) (*filelock.Lock, error) {
	l, err := filelock.TryLock(filepath.Join(dir, LockFile))
	if errors.Is(err, filelock.ErrLocked) {
		return nil, errors.WithMessagef(err, "run directory %s is in use by another process", dir)
	}
	return l, errors.Wrap(err, "lock the run directory")
}

// lock holds t's run directory until Close.
func (t *Trainer) lock() error {
	l, err := lockRun(t.dir)
	if err != nil {
		return err
	}
	t.unlock = func() { l.Unlock() }
	return nil
}

// checkpointOf returns the path of dir's checkpoint, or an error when it
// has none.
func checkpointOf(dir string) (string, error) {
	path := filepath.Join(dir, CheckpointFile)
	if _, err := os.Stat(path); err != nil {
		return "", errors.Wrapf(err, "run directory %s has no checkpoint to resume from", dir)
	}
	return path, nil
}

// Resumable reports, in milliseconds and before any data is loaded, what
// would make Resume of dir fail at once: dir is not a run directory, has
// no checkpoint, or another process trains in it. Resume checks again.
func Resumable(dir string) error {
	if _, err := ReadRunInfo(dir); err != nil {
		return err
	}
	if _, err := checkpointOf(dir); err != nil {
		return err
	}
	l, err := lockRun(dir)
	if err != nil {
		return err
	}
	return l.Unlock()
}
