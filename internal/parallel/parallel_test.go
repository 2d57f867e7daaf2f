package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoversEachItemOnce runs For, Pieces and
// Even from several goroutines at once, nested and back to back,
// with more workers than cores, and checks that every item is visited
// exactly once, in the pieces asked for, that no worker id runs two pieces
// at the same time (per-worker scratch would be shared), and that
// Even gives worker i exactly the i-th even share.
func TestCoversEachItemOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	check := func(n, mode int) {
		seen := make([]atomic.Int32, n)
		busy := make([]atomic.Int32, Workers())
		calls := make([]atomic.Int32, Workers())
		pieces := min(n, 3+n%5)
		body := func(worker, lo, hi int) {
			if worker < 0 || worker >= Workers() {
				t.Errorf("n %d mode %d: worker %d of %d", n, mode, worker, Workers())
				return
			}
			if busy[worker].Swap(1) != 0 {
				t.Errorf("n %d mode %d: worker %d runs two pieces at once", n, mode, worker)
			}
			calls[worker].Add(1)
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
			switch mode {
			case 1: // pieces exactly as asked
				found := false
				for i := range pieces {
					found = found || lo == i*n/pieces && hi == (i+1)*n/pieces
				}
				if !found {
					t.Errorf("n %d: piece [%d, %d) is not one of %d pieces", n, lo, hi, pieces)
				}
			case 2: // worker i, share i
				w := min(Workers(), n)
				if lo != worker*n/w || hi != (worker+1)*n/w {
					t.Errorf("n %d: even worker %d got [%d, %d)", n, worker, lo, hi)
				}
			}
			if n > 50 && lo == 0 { // a nested call runs on fresh goroutines
				For(7, func(_, lo, hi int) {})
			}
			busy[worker].Store(0)
		}
		switch mode {
		case 0:
			For(n, body)
		case 1:
			Pieces(n, pieces, body)
		case 2:
			Even(n, body)
			for w := range min(Workers(), n) {
				if c := calls[w].Load(); c != 1 {
					t.Errorf("n %d: even worker %d ran %d times", n, w, c)
				}
			}
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n %d mode %d: item %d visited %d times", n, mode, i, c)
			}
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 300; k++ {
				check(1+(k*7+g)%97, k%3)
			}
		}()
	}
	wg.Wait()
}

// TestWorkersStartOnTheirOwnShare checks the pool's affinity: with two
// workers and eight pieces, the caller takes piece 0 first and the crew
// goroutine, if it takes any, piece 4, the start of its half; a goroutine
// takes its own pieces in order and the other's from the back.
func TestWorkersStartOnTheirOwnShare(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for round := 0; round < 5; round++ {
		var mu sync.Mutex
		order := map[int][]int{}
		Pieces(8, 8, func(worker, lo, _ int) {
			mu.Lock()
			order[worker] = append(order[worker], lo)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		})
		for worker, pieces := range order {
			own := 4 * worker
			if pieces[0] != own {
				t.Fatalf("round %d: worker %d took pieces %v, want %d first", round, worker, pieces, own)
			}
			i := 1
			for i < len(pieces) && pieces[i] == own+i {
				i++
			}
			stolen := pieces[i:]
			for j, p := range stolen {
				if p >= own && p < own+4 || j > 0 && p >= stolen[j-1] {
					t.Fatalf("round %d: worker %d took pieces %v: want its own in order, then the other's from the back", round, worker, pieces)
				}
			}
		}
	}
}
