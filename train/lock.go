package train

import (
	"path/filepath"

	"github.com/gorgonia-zoo/resnet/internal/filelock"
	"github.com/pkg/errors"
)

// lock takes the run directory's lock (LockFile, internal/filelock): one
// process trains in a run directory at a time, and a killed one leaves it
// free.
func (t *Trainer) lock() error {
	l, err := filelock.TryLock(filepath.Join(t.dir, LockFile))
	if errors.Is(err, filelock.ErrLocked) {
		return errors.Wrapf(err, "run directory %s is in use by another process", t.dir)
	}
	if err != nil {
		return errors.Wrap(err, "lock the run directory")
	}
	t.unlock = func() { l.Unlock() }
	return nil
}
