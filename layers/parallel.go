package layers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// piecesPerWorker is how many pieces parallel cuts its range into per
// worker: enough that a worker which starts late or runs on a slower core
// leaves the rest to the others, few enough that claiming stays cheap.
const piecesPerWorker = 4

// parallel runs fn(worker, lo, hi) over [0, n) cut into pieces that the
// workers claim one at a time, and waits for all of them. worker names the
// goroutine that runs the piece (0 is the caller, all below workers()), for
// per-worker scratch; a worker may run several pieces or none, so fn's
// result must not depend on the cut.
//
// On a 2-core virtual machine the second core was measured finishing its
// fixed half of a step 15-40 ms after the first (of about 300 ms): cores
// run at different speeds from moment to moment. With pieces the quicker
// one takes more.
func parallel(n int, fn func(worker, lo, hi int)) {
	pieces := min(n, 1)
	if w := workers(); w > 1 {
		pieces = min(n, piecesPerWorker*w)
	}
	parallelPieces(n, pieces, fn)
}

// parallelPieces is parallel with the cut chosen by the caller: piece i is
// [i*n/pieces, (i+1)*n/pieces).
func parallelPieces(n, pieces int, fn func(worker, lo, hi int)) {
	runPieces(n, pieces, false, fn)
}

// parallelEven runs fn over [0, n) cut into one piece per worker, piece i
// as worker i: for per-worker partial results that are summed afterwards,
// whose sum must not depend on which goroutine was quicker.
func parallelEven(n int, fn func(worker, lo, hi int)) {
	runPieces(n, min(workers(), n), true, fn)
}

// maxPieces and maxWorkers are the largest cut and worker count that the
// pool's claim word holds.
const (
	maxPieces  = 1<<12 - 1
	maxWorkers = 1<<8 - 1
)

// runPieces cuts [0, n) into pieces and runs them on up to workers() goroutines:
// the pool's when it is free, fresh ones when it is busy (a nested call,
// or another goroutine's). With even, piece i runs as worker i.
func runPieces(n, pieces int, even bool, fn func(worker, lo, hi int)) {
	pieces = min(pieces, n, maxPieces)
	w := min(workers(), pieces, maxWorkers)
	if w <= 1 {
		for i := 0; i < pieces; i++ {
			worker := 0
			if even {
				worker = i
			}
			fn(worker, i*n/pieces, (i+1)*n/pieces)
		}
		return
	}
	if !crew.mu.TryLock() {
		spawn(n, pieces, w, even, fn)
		return
	}
	crew.run(n, pieces, w, even, fn)
	crew.mu.Unlock()
}

// spawn is run on new goroutines.
func spawn(n, pieces, w int, even bool, fn func(worker, lo, hi int)) {
	var next atomic.Int32
	take := func(id int) {
		for {
			i := int(next.Add(1)) - 1
			if i >= pieces {
				return
			}
			worker := id
			if even {
				worker = i
			}
			fn(worker, i*n/pieces, (i+1)*n/pieces)
		}
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for id := 1; id < w; id++ {
		go func(id int) {
			defer wg.Done()
			take(id)
		}(id)
	}
	take(0)
	wg.Wait()
}

// spinTime is how long an idle crew goroutine polls before it parks.
const spinTime = 2 * time.Millisecond

// crew is the pool of polling goroutines, one task at a time.
var crew = &pool{}

func init() { crew.cond.L = &crew.parkMu }

// pool runs the pieces of one task on its goroutines and the caller.
// claims packs the task's sequence number (high 32 bits), its worker count
// (next 8), its number of pieces (next 12) and the next piece to hand out
// (low 12); a goroutine takes a piece by advancing it with a
// compare-and-swap against the sequence it read, so a goroutine that read
// an older task can never take part in a newer one, and crew goroutine id
// takes part only if id < the worker count. The task's fields are written
// before claims is published and read only after a successful claim; the
// caller reuses them only once every piece has finished (left = 0).
//
// The goroutines poll for spinTime after their last piece instead of
// parking at once: a step runs a few hundred short ops back to back, and
// waking a parked thread (on a virtual machine, an idle virtual CPU) can
// take longer than an op's share of work.
type pool struct {
	mu     sync.Mutex // held by the caller whose task is in flight
	fn     func(worker, lo, hi int)
	n      int
	even   bool
	claims atomic.Uint64
	left   atomic.Int32 // pieces not yet finished
	seq    uint32       // under mu

	parkMu  sync.Mutex
	cond    sync.Cond
	parked  atomic.Int32
	started int // goroutines started (by the caller holding mu); crew goroutine i has id i+1
}

func (p *pool) run(n, pieces, w int, even bool, fn func(worker, lo, hi int)) {
	p.fn, p.n, p.even = fn, n, even
	p.seq++
	p.left.Store(int32(pieces))
	p.claims.Store(uint64(p.seq)<<32 | uint64(w)<<24 | uint64(pieces)<<12)
	p.recruit(w - 1)
	for p.claim(0, p.seq) {
	}
	for i := 0; p.left.Load() != 0; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	p.fn = nil // do not keep the caller's closure alive
}

// claim takes the next piece of task seq and runs it as goroutine id;
// false when there is none left, seq is not the current task or id takes
// no part in it.
func (p *pool) claim(id int, seq uint32) bool {
	for {
		c := p.claims.Load()
		w, pieces, next := int(c>>24&maxWorkers), int(c>>12&maxPieces), int(c&maxPieces)
		if uint32(c>>32) != seq || next >= pieces || id >= w {
			return false
		}
		if p.claims.CompareAndSwap(c, c+1) {
			worker := id
			if p.even {
				worker = next
			}
			p.fn(worker, next*p.n/pieces, (next+1)*p.n/pieces)
			p.left.Add(-1)
			return true
		}
	}
}

// recruit makes sure want goroutines exist, and wakes the parked ones.
func (p *pool) recruit(want int) {
	if p.started < want || p.parked.Load() > 0 {
		p.parkMu.Lock()
		for ; p.started < want; p.started++ {
			go p.work(p.started + 1)
		}
		p.cond.Broadcast()
		p.parkMu.Unlock()
	}
}

// work is crew goroutine id: it takes pieces of the current task while
// there are any, polls for spinTime after the last one, then parks until
// woken.
func (p *pool) work(id int) {
	last := time.Now()
	for {
		c := p.claims.Load()
		if p.claim(id, uint32(c>>32)) {
			last = time.Now()
			continue
		}
		if time.Since(last) < spinTime {
			runtime.Gosched()
			continue
		}
		p.parkMu.Lock()
		p.parked.Add(1)
		if c := p.claims.Load(); c&maxPieces >= c>>12&maxPieces { // nothing to take
			p.cond.Wait()
		}
		p.parked.Add(-1)
		p.parkMu.Unlock()
		last = time.Now()
	}
}
