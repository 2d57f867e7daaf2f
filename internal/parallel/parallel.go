// Package parallel runs loops on all cores: a loop's range is cut into
// pieces that a pool of polling goroutines and the caller share. Each
// goroutine starts on its own share of the pieces, the same share of the
// same range every time, so that a caller which cuts its data the same way
// op after op (package layers cuts a batch by images) keeps each core on
// the data it wrote last, in its cache.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// piecesPerWorker is how many pieces For cuts its range into per
// worker: enough that a worker which starts late or runs on a slower core
// leaves the rest to the others, few enough that claiming stays cheap.
const piecesPerWorker = 4

// Workers is how many goroutines a loop is split over: GOMAXPROCS.
func Workers() int { return runtime.GOMAXPROCS(0) }

// For runs fn(worker, lo, hi) over [0, n) cut into pieces that the
// workers claim one at a time, and waits for all of them. Each worker
// starts on its own share of the pieces, the same share of the same n
// every time. worker names the goroutine that runs the piece (0 is the
// caller, all below Workers()), for per-worker scratch; a worker may run
// several pieces or none, so fn's result must not depend on the cut.
//
// On a 2-core virtual machine the second core was measured finishing its
// fixed half of a step 15-40 ms after the first (of about 300 ms): cores
// run at different speeds from moment to moment. With pieces the quicker
// one takes more.
func For(n int, fn func(worker, lo, hi int)) {
	pieces := min(n, 1)
	if w := Workers(); w > 1 {
		pieces = min(n, piecesPerWorker*w)
	}
	Pieces(n, pieces, fn)
}

// Pieces is For with the cut chosen by the caller: piece i is
// [i*n/pieces, (i+1)*n/pieces).
func Pieces(n, pieces int, fn func(worker, lo, hi int)) {
	runPieces(n, pieces, false, fn)
}

// Even runs fn over [0, n) cut into one piece per worker, piece i
// as worker i: for per-worker partial results that are summed afterwards,
// whose sum must not depend on which goroutine was quicker.
func Even(n int, fn func(worker, lo, hi int)) {
	runPieces(n, min(Workers(), n), true, fn)
}

// maxPieces and maxWorkers are the largest cut and worker count that the
// pool's task and run words hold.
const (
	maxPieces  = 1<<12 - 1
	maxWorkers = 1<<8 - 1
)

// runPieces cuts [0, n) into pieces and runs them on up to Workers() goroutines:
// the pool's when it is free, fresh ones when it is busy (a nested call,
// or another goroutine's). With even, piece i runs as worker i.
func runPieces(n, pieces int, even bool, fn func(worker, lo, hi int)) {
	pieces = min(pieces, n, maxPieces)
	w := min(Workers(), pieces, maxWorkers)
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

// spinTime is how long an idle crew goroutine polls before it parks, and
// pollsPerYield how often a polling goroutine (an idle crew goroutine, or
// a caller waiting for the last pieces) yields its thread: a yield is a
// trip through the scheduler, slower than the time an op waits for the
// crew goroutine to notice its task.
const (
	spinTime      = 2 * time.Millisecond
	pollsPerYield = 64
)

// crew is the pool of polling goroutines, one task at a time.
var crew = &pool{}

func init() { crew.cond.L = &crew.parkMu }

// pool runs the pieces of one task on its goroutines and the caller.
//
// Each goroutine owns a contiguous run of the pieces (crew goroutine id
// the id-th of w even runs, the caller the first) and takes them from the
// front; one that has finished its own takes the others' from the back.
// Package layers' ops cut a batch the same way every time, so a goroutine
// mostly works on the images it worked on in the op before, whose
// activations are still in its core's cache: on the 2-core Zen 5 a core reads 4 MB that the
// other core wrote at about half the speed of 4 MB it wrote itself
// (34 against 70 GB/s), and with pieces handed out first come, first
// served, half of every pass over an activation was such a read. Taking
// from the others' back keeps the balance when one core runs slower.
//
// task packs the sequence number (high 32 bits), the worker count (next
// 8) and the number of pieces (next 12); runs[id] packs the same sequence
// number, the front (16 bits) and the back (low 16) of goroutine id's run.
// A goroutine takes a piece by moving a front or a back with a
// compare-and-swap against the sequence it read, so a goroutine that read
// an older task can never take part in a newer one, and crew goroutine id
// takes part only if id < the worker count. The task's fields and runs are
// written before task is published and read only after a successful
// claim; the caller reuses them only once every piece has finished
// (left = 0).
//
// The goroutines poll for spinTime after their last piece instead of
// parking at once: a step runs a few hundred short ops back to back, and
// waking a parked thread (on a virtual machine, an idle virtual CPU) can
// take longer than an op's share of work.
type pool struct {
	mu   sync.Mutex // held by the caller whose task is in flight
	fn   func(worker, lo, hi int)
	n    int
	even bool
	task atomic.Uint64
	runs [maxWorkers]paddedRun
	left atomic.Int32 // pieces not yet finished
	seq  uint32       // under mu

	parkMu  sync.Mutex
	cond    sync.Cond
	parked  atomic.Int32
	started int // goroutines started (by the caller holding mu); crew goroutine i has id i+1
}

// paddedRun is one goroutine's run of pieces, alone on its cache line so
// that claims on different runs do not contend.
type paddedRun struct {
	atomic.Uint64
	_ [56]byte
}

func (p *pool) run(n, pieces, w int, even bool, fn func(worker, lo, hi int)) {
	p.fn, p.n, p.even = fn, n, even
	p.seq++
	p.left.Store(int32(pieces))
	for id := 0; id < w; id++ {
		p.runs[id].Store(uint64(p.seq)<<32 | uint64(id*pieces/w)<<16 | uint64((id+1)*pieces/w))
	}
	p.task.Store(uint64(p.seq)<<32 | uint64(w)<<24 | uint64(pieces)<<12)
	p.recruit(w - 1)
	for p.claim(0, p.seq) {
	}
	for i := 0; p.left.Load() != 0; i++ {
		if i%pollsPerYield == pollsPerYield-1 {
			runtime.Gosched()
		}
	}
	p.fn = nil // do not keep the caller's closure alive
}

// claim takes a piece of task seq, its own run's next or else the last of
// another's, and runs it as goroutine id; false when there is none left,
// seq is not the current task or id takes no part in it.
func (p *pool) claim(id int, seq uint32) bool {
	t := p.task.Load()
	w, pieces := int(t>>24&maxWorkers), int(t>>12&maxPieces)
	if uint32(t>>32) != seq || id >= w {
		return false
	}
	for k := 0; k < w; k++ {
		run := &p.runs[(id+k)%w]
		for {
			r := run.Load()
			front, back := int(r>>16&0xffff), int(r&0xffff)
			if uint32(r>>32) != seq || front >= back {
				break
			}
			piece, next := front, r+1<<16
			if k > 0 {
				piece, next = back-1, r-1
			}
			if run.CompareAndSwap(r, next) {
				worker := id
				if p.even {
					worker = piece
				}
				p.fn(worker, piece*p.n/pieces, (piece+1)*p.n/pieces)
				p.left.Add(-1)
				return true
			}
		}
	}
	return false
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

// pending reports whether the current task has a piece left that
// goroutine id may take.
func (p *pool) pending(id int) bool {
	t := p.task.Load()
	seq, w := uint32(t>>32), int(t>>24&maxWorkers)
	if id >= w {
		return false
	}
	for k := 0; k < w; k++ {
		r := p.runs[k].Load()
		if uint32(r>>32) == seq && r>>16&0xffff < r&0xffff {
			return true
		}
	}
	return false
}

// work is crew goroutine id: it takes pieces of the current task while
// there are any, polls for spinTime after the last one, then parks until
// woken.
func (p *pool) work(id int) {
	last := time.Now()
	for polls := 1; ; polls++ {
		if p.claim(id, uint32(p.task.Load()>>32)) {
			last = time.Now()
			continue
		}
		if polls%pollsPerYield != 0 {
			continue
		}
		if time.Since(last) < spinTime {
			runtime.Gosched()
			continue
		}
		p.parkMu.Lock()
		p.parked.Add(1)
		if !p.pending(id) {
			p.cond.Wait()
		}
		p.parked.Add(-1)
		p.parkMu.Unlock()
		last = time.Now()
	}
}
