// Package leaktest checks that an object can be garbage collected once it
// is dropped: the test for reference cycles through Gorgonia's tape
// machines, which carry finalizers (Go never frees a cycle through an
// object with a finalizer).
package leaktest

import (
	"runtime"
	"testing"
	"time"
)

// AssertCollected makes an object with build, runs use on it (which must
// not keep it), drops it and fails t unless the garbage collector frees it
// within a few collections. build must return a pointer to the start of an
// allocation, such as a *T from new or &T{}.
func AssertCollected[T any](t testing.TB, what string, build func() (*T, error), use func(*T) error) {
	t.Helper()
	freed := make(chan struct{})
	func() {
		obj, err := build()
		if err != nil {
			t.Fatal(err)
		}
		if err := use(obj); err != nil {
			t.Fatal(err)
		}
		runtime.SetFinalizer(obj, func(*T) { close(freed) })
	}()
	for range 20 {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Errorf("%s is never freed once dropped: something it holds points back to it through a tape machine", what)
}
