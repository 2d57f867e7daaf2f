package layers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallelCoversEachItemOnce runs parallel from several goroutines at
// once, nested and back to back, with more workers than cores, and checks
// that every item is visited exactly once by the worker that owns its range.
func TestParallelCoversEachItemOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	check := func(n int) {
		seen := make([]atomic.Int32, n)
		workersSeen := make([]atomic.Int32, workers())
		parallel(n, func(worker, lo, hi int) {
			w := min(workers(), n)
			if lo != worker*n/w || hi != (worker+1)*n/w {
				t.Errorf("n %d: worker %d got [%d, %d)", n, worker, lo, hi)
			}
			workersSeen[worker].Add(1)
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
			if n > 50 && worker == 1 { // a nested call runs on fresh goroutines
				parallel(7, func(_, lo, hi int) {})
			}
		})
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n %d: item %d visited %d times", n, i, c)
			}
		}
		for w := range min(workers(), n) {
			if c := workersSeen[w].Load(); c != 1 {
				t.Fatalf("n %d: worker %d ran %d times", n, w, c)
			}
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 300; k++ {
				check(1 + (k*7+g)%97)
			}
		}()
	}
	wg.Wait()
}
