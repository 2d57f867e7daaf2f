package layers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallel runs fn(worker, lo, hi) over n items split into contiguous chunks,
// one per worker, and waits for all of them. Worker 0 is the caller.
//
// The other workers are long-lived goroutines that keep polling for work
// for spinTime after their last task before they park: a step runs a few
// hundred short ops back to back, and waking a parked thread (on a virtual
// machine, an idle virtual CPU) can take longer than an op's share of work,
// which left the second core idle through much of each op. A call made
// while another is in flight (a nested call, or another goroutine's) runs
// on fresh goroutines instead.
func parallel(n int, fn func(worker, lo, hi int)) {
	w := min(workers(), n)
	if w <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	if !crew.mu.TryLock() {
		spawn(n, w, fn)
		return
	}
	crew.run(n, w, fn)
	crew.mu.Unlock()
}

// spawn is parallel on new goroutines.
func spawn(n, w int, fn func(worker, lo, hi int)) {
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		go func(i int) {
			defer wg.Done()
			fn(i, i*n/w, (i+1)*n/w)
		}(i)
	}
	fn(0, 0, n/w)
	wg.Wait()
}

// spinTime is how long an idle crew goroutine polls before it parks.
const spinTime = 2 * time.Millisecond

// crew is the pool of polling goroutines, one task at a time.
var crew = &pool{}

func init() { crew.cond.L = &crew.parkMu }

// pool hands the workers 1..w-1 of one task to its goroutines. claims packs
// the task's sequence number (high 32 bits), its worker count (next 16) and
// the next worker to hand out (low 16); a goroutine takes worker i by
// advancing it with a compare-and-swap against the sequence it read, so a
// goroutine that read an older task can never take part in a newer one. The
// task's fields are written before claims is published and read only after
// a successful claim; the caller reuses them only once every claimed
// worker has finished (left = 0).
type pool struct {
	mu     sync.Mutex // held by the caller whose task is in flight
	fn     func(worker, lo, hi int)
	n      int
	claims atomic.Uint64
	left   atomic.Int32 // claimed or unclaimed workers not yet finished
	seq    uint32       // under mu

	parkMu  sync.Mutex
	cond    sync.Cond
	parked  atomic.Int32
	started int // goroutines started (by the caller holding mu)
}

func (p *pool) run(n, w int, fn func(worker, lo, hi int)) {
	p.fn, p.n = fn, n
	p.seq++
	p.left.Store(int32(w - 1))
	p.claims.Store(uint64(p.seq)<<32 | uint64(w)<<16 | 1)
	p.recruit(w - 1)
	fn(0, 0, n/w)
	for p.claim(p.seq) { // the workers no goroutine has taken yet
	}
	for i := 0; p.left.Load() != 0; i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	p.fn = nil // do not keep the caller's closure alive
}

// claim takes the next worker of task seq and runs it; false when there is
// none left (or seq is not the current task).
func (p *pool) claim(seq uint32) bool {
	for {
		c := p.claims.Load()
		w, next := int(c>>16&0xffff), int(c&0xffff)
		if uint32(c>>32) != seq || next >= w {
			return false
		}
		if p.claims.CompareAndSwap(c, c+1) {
			p.fn(next, next*p.n/w, (next+1)*p.n/w)
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
			go p.work()
		}
		p.cond.Broadcast()
		p.parkMu.Unlock()
	}
}

// work is a crew goroutine: it takes workers of the current task while there
// are any, polls for spinTime after the last one, then parks until woken.
func (p *pool) work() {
	last := time.Now()
	for {
		c := p.claims.Load()
		if p.claim(uint32(c >> 32)) {
			last = time.Now()
			continue
		}
		if time.Since(last) < spinTime {
			runtime.Gosched()
			continue
		}
		p.parkMu.Lock()
		p.parked.Add(1)
		if c := p.claims.Load(); c&0xffff >= c>>16&0xffff { // nothing to take
			p.cond.Wait()
		}
		p.parked.Add(-1)
		p.parkMu.Unlock()
		last = time.Now()
	}
}
