//go:build !unix

package train

// lock is a no-op where flock does not exist: there, two processes must
// not train in one run directory at once.
func (t *Trainer) lock() error { return nil }
