//go:build !unix

package filelock

import (
	"os"

	"github.com/pkg/errors"
)

// Where flock does not exist the lock is only the file: processes must
// not share a locked path there.
var errWouldBlock = errors.New("would block")

func flock(*os.File, bool) error { return nil }

func funlock(*os.File) error { return nil }
