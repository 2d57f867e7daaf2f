// Package atomicfile replaces files so that a reader, a crash or a kill at
// any moment sees either the old content or the new, never a part of it.
//
// A write goes to a temporary file in the target's directory, named
// ".NAME.*.tmp", which is synced, renamed over the target, and the
// directory synced. A process killed mid-write leaves such a temporary
// behind; RemoveStale deletes them once no writer can be using them.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pkg/errors"
)

// tempSuffix ends every temporary file's name.
const tempSuffix = ".tmp"

// beforeRename, when set by tests, runs after the temporary file is
// complete and before it replaces the target; an error aborts the write.
var beforeRename func(tempPath string) error

// WriteFile atomically replaces path with data (see Write).
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write atomically replaces path with what write writes. On any error the
// temporary file is removed and an existing file at path is left as it
// was. A new file gets mode 0644; a replaced file keeps its permissions.
// Errors name the path.
func Write(path string, write func(io.Writer) error) error {
	if err := replace(path, write); err != nil {
		return errors.WithMessagef(err, "write %s", path)
	}
	return nil
}

func replace(path string, write func(io.Writer) error) (err error) {
	perm := os.FileMode(0o644)
	if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
		perm = info.Mode().Perm()
	}
	dir := filepath.Dir(path)
	temp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*"+tempSuffix)
	if err != nil {
		return errors.Wrap(err, "creating a temporary file")
	}
	tempPath, closed := temp.Name(), false
	defer func() {
		if err != nil {
			if !closed {
				temp.Close()
			}
			os.Remove(tempPath)
		}
	}()
	buffered := bufio.NewWriterSize(temp, 1<<20)
	if err := write(buffered); err != nil {
		return err
	}
	if err := buffered.Flush(); err != nil {
		return errors.Wrap(err, "writing the temporary file")
	}
	if err := temp.Chmod(perm); err != nil {
		return errors.Wrap(err, "setting permissions")
	}
	if err := temp.Sync(); err != nil {
		return errors.Wrap(err, "syncing the temporary file")
	}
	closed = true
	if err := temp.Close(); err != nil {
		return errors.Wrap(err, "closing the temporary file")
	}
	if beforeRename != nil {
		if err := beforeRename(tempPath); err != nil {
			return err
		}
	}
	if err := os.Rename(tempPath, path); err != nil {
		return errors.Wrap(err, "replacing the file")
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot sync directories.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return errors.Wrap(err, "opening the directory to sync it")
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return errors.Wrap(err, "syncing the directory")
	}
	return nil
}

// RemoveStale deletes the temporary files that writes into dir left behind
// when their process died, and returns their names. Call it only while no
// other process writes into dir (for example under a lock of dir).
func RemoveStale(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errors.Wrapf(err, "remove stale temporaries in %s", dir)
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !IsTemp(name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			return removed, errors.Wrapf(err, "remove stale temporaries in %s", dir)
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// IsTemp reports whether a file name is one of Write's temporaries.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempSuffix) && strings.Count(name, ".") >= 3
}
